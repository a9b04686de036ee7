"""Benchmarks for qimcore.segment (issue #4).

- ``Image1024``: 1024² synthetic textures, M=9, K=1000: fit (k-means and k-means tree), one
  ``propagate`` (the interactive update), peak memory, accuracy with < 1 % labelled pixels.
- ``VersusSkimage2D``: same textures and scribbles (256²), dictionary diffusion versus skimage's
  ``fit_segmenter`` (``multiscale_basic_features`` + sklearn RandomForest): accuracy and time.
- ``VersusSkimage3D``: a 128³ texture volume labelled on 2 slices: scribble-to-result time
  (fit + propagate; and the interactive update alone) versus skimage, and accuracy.
- ``Interactive``: one ``propagate`` (the update after each stroke) on 1024² (M=9, K=1000) and on
  the 128³ nerves volume for M = 5, 7, 9 (T2 costs ``N · M^d · C`` gathers).
- ``Nerves``: the real 128³ nerves sample with ``data_samples/nerves_scribbles.npz``: time, the
  fraction of predicted axon components enclosed by myelin, and the class fractions.
- ``Defaults1024``: the library defaults (chosen by the sweep of ``validation/segment.py``) on
  the ``Image1024`` image and labels: fit, one ``propagate``, accuracy. The other benchmarks pin
  the settings they were first measured with (``steps=1``), so their times stay comparable.
- ``Zarr256``: ``predict_proba`` of a 256³ zarr volume chunked with dask (128³ chunks); peak
  memory. (``size = 512`` gives the 512³ case of the issue; too slow for a 2-core CI runner.)
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import dask.array as da
import numpy as np

from qimcore.data.synthetic import sparse_labels, texture_phantom
from qimcore.segment import DictionarySegmenter, load_scribbles

ROOT = Path(__file__).resolve().parents[1]


def _skimage(image, labels):
    """skimage's trainable segmentation: features + RandomForest on the scribbles."""
    from functools import partial

    from skimage.feature import multiscale_basic_features
    from skimage.future import fit_segmenter, predict_segmenter
    from sklearn.ensemble import RandomForestClassifier

    features = partial(multiscale_basic_features, intensity=True, edges=True, texture=True,
                       sigma_min=1, sigma_max=8, channel_axis=None)
    feats = features(image)
    clf = RandomForestClassifier(n_estimators=50, n_jobs=-1, max_depth=10, random_state=0)
    clf = fit_segmenter(labels, feats, clf)
    return predict_segmenter(feats, clf)


class Image1024:
    repeat = 1
    unit = "fraction of pixels correct"

    def setup(self):
        self.image, self.truth = texture_phantom((1024, 1024), 3, random_state=1)
        self.labels = sparse_labels(self.truth, 0.005, random_state=2)
        self.seg = DictionarySegmenter(9, 1000, steps=1).fit(self.image)
        self.seg.propagate(self.labels)

    def time_fit_kmeans(self):
        DictionarySegmenter(9, 1000, steps=1).fit(self.image)

    def time_fit_kmtree(self):
        DictionarySegmenter(9, 1000, method="kmtree", steps=1).fit(self.image)

    def time_propagate(self):
        self.seg.propagate(self.labels)

    def peakmem_fit_propagate(self):
        DictionarySegmenter(9, 1000, steps=1).fit(self.image).propagate(self.labels)

    def track_accuracy_kmeans(self):
        return float((self.seg.predict() == self.truth).mean())

    def track_labelled_fraction(self):
        return float((self.labels > 0).mean())


class Defaults1024:
    repeat = 1
    unit = "fraction of pixels correct"

    def setup(self):
        self.image, self.truth = texture_phantom((1024, 1024), 3, random_state=1)
        self.labels = sparse_labels(self.truth, 0.005, random_state=2)
        self.seg = DictionarySegmenter().fit(self.image)
        self.seg.propagate(self.labels)

    def time_fit(self):
        DictionarySegmenter().fit(self.image)

    def time_propagate(self):
        self.seg.propagate(self.labels)

    def track_accuracy(self):
        return float((self.seg.predict() == self.truth).mean())

    def track_cpu_propagate(self):
        return _cpu_seconds(self.seg.propagate, self.labels)


class Interactive:
    repeat = 3
    unit = "CPU seconds"

    def setup(self):
        from qimcore.data import sample

        image, truth = texture_phantom((1024, 1024), 3, random_state=1)
        self.labels = sparse_labels(truth, 0.005, random_state=2)
        self.seg = DictionarySegmenter(9, 1000, method="kmtree", steps=1).fit(image)
        volume = sample("nerves")
        self.scribbles = load_scribbles(ROOT / "data_samples" / "nerves_scribbles.npz")
        self.seg3d = {m: DictionarySegmenter(m, 200, method="kmtree", branching=6,
                                             steps=1).fit(volume)
                      for m in (5, 7, 9)}
        self.seg.propagate(self.labels)  # numba kernels compiled (or loaded from the cache)

    def time_propagate_1024_m9(self):
        self.seg.propagate(self.labels)

    def time_propagate_nerves_m5(self):
        self.seg3d[5].propagate(self.scribbles)

    def time_propagate_nerves_m7(self):
        self.seg3d[7].propagate(self.scribbles)

    def time_propagate_nerves_m9(self):
        self.seg3d[9].propagate(self.scribbles)

    # CPU seconds of one propagate (all threads): robust to other jobs on a shared machine;
    # divided by the number of cores it is the wall time on an idle machine
    def track_cpu_propagate_1024_m9(self):
        return _cpu_seconds(self.seg.propagate, self.labels)

    def track_cpu_propagate_nerves_m5(self):
        return _cpu_seconds(self.seg3d[5].propagate, self.scribbles)

    def track_cpu_propagate_nerves_m9(self):
        return _cpu_seconds(self.seg3d[9].propagate, self.scribbles)


def _cpu_seconds(func, *args, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        func(*args)
        times.append(time.process_time() - t0)
    return min(times)


class VersusSkimage2D:
    repeat = 1
    unit = "fraction of pixels correct"

    def setup(self):
        self.image, self.truth = texture_phantom((256, 256), 3, random_state=1)
        self.labels = sparse_labels(self.truth, 0.008, random_state=2)

    def time_dictionary(self):
        DictionarySegmenter(9, 300, steps=1).fit(self.image).propagate(self.labels)

    def time_skimage(self):
        _skimage(self.image, self.labels)

    def track_accuracy_dictionary(self):
        seg = DictionarySegmenter(9, 300, steps=1).fit(self.image)
        seg.propagate(self.labels)
        return float((seg.predict() == self.truth).mean())

    def track_accuracy_skimage(self):
        return float((_skimage(self.image, self.labels) == self.truth).mean())


class VersusSkimage3D:
    repeat = 1
    unit = "fraction of voxels correct (unlabelled slices)"
    size = 128

    def setup(self):
        n = self.size
        self.volume, self.truth = texture_phantom((n, n, n), 3, region_size=16, period=5,
                                                  noise=0.2, random_state=5)
        self.slices = [n // 4, 3 * n // 4]
        self.labels = sparse_labels(self.truth, 0.05, slices=self.slices, random_state=6)
        self.others = np.setdiff1d(np.arange(n), self.slices)
        self.params = {"patch_size": 5, "n_words": 200, "method": "kmtree", "branching": 6,
                       "n_basis": 3, "steps": 1}
        self.seg = DictionarySegmenter(**self.params).fit(self.volume)

    def time_dictionary_fit_propagate(self):
        DictionarySegmenter(**self.params).fit(self.volume).propagate(self.labels)

    def time_dictionary_propagate(self):
        self.seg.propagate(self.labels)

    def time_skimage(self):
        _skimage(self.volume, self.labels)

    def track_accuracy_dictionary(self):
        self.seg.propagate(self.labels)
        return float((self.seg.predict()[self.others] == self.truth[self.others]).mean())

    def track_accuracy_skimage(self):
        pred = _skimage(self.volume, self.labels)
        return float((pred[self.others] == self.truth[self.others]).mean())


class Nerves:
    repeat = 1
    unit = "fraction (enclosed: axon components with a >= 50 % myelin ring; class: of voxels)"

    def setup(self):
        from qimcore.data import sample

        self.volume = sample("nerves")
        self.labels = load_scribbles(ROOT / "data_samples" / "nerves_scribbles.npz")
        self.seg = DictionarySegmenter(**NERVE_PARAMS).fit(self.volume)
        self.seg.propagate(self.labels)
        self.pred = self.seg.predict()

    def time_fit_propagate(self):
        DictionarySegmenter(**NERVE_PARAMS).fit(self.volume).propagate(self.labels)

    def time_propagate(self):
        self.seg.propagate(self.labels)

    def track_enclosed_axon_area(self):
        return enclosed_fraction(self.pred, 30, by_area=True)

    def track_enclosed_axon_components(self):
        return enclosed_fraction(self.pred[::8], 60)

    def track_class_axon(self):
        return float((self.pred == 1).mean())

    def track_class_myelin(self):
        return float((self.pred == 2).mean())

    def track_class_background(self):
        return float((self.pred == 3).mean())


NERVE_PARAMS = {"patch_size": 5, "n_words": 100, "features": "gaussian", "sigmas": (1, 2, 4, 8),
                "smooth": 1.5, "steps": 2}


def enclosed_fraction(pred: np.ndarray, min_area: int = 30, by_area: bool = False) -> float:
    """Fraction of the 2D axon components (class 1, >= ``min_area`` pixels) of every slice whose
    2-pixel outer ring is >= 50 % myelin (class 2); weighted by area when ``by_area``."""
    from scipy import ndimage as ndi

    total = enclosed = 0
    for plane in pred:
        comps, n = ndi.label(plane == 1)
        for i in range(1, n + 1):
            comp = comps == i
            area = int(comp.sum())
            if area < min_area:
                continue
            ring = ndi.binary_dilation(comp, iterations=2) & ~comp
            weight = area if by_area else 1
            total += weight
            enclosed += weight * ((plane[ring] == 2).mean() >= 0.5)
    return enclosed / max(total, 1)


class Zarr256:
    repeat = 1
    timeout = 3600
    size = 256

    def setup(self):
        self.tmp = tempfile.mkdtemp()
        tile, truth = texture_phantom((64, 64, 64), 3, region_size=8, period=5, noise=0.2,
                                      random_state=7)
        labels = sparse_labels(truth, 0.05, slices=(16, 48), random_state=8)
        self.seg = DictionarySegmenter(5, 200, method="kmtree", branching=6, n_basis=2,
                                       steps=1).fit(tile)
        self.seg.propagate(labels)
        self.path = str(Path(self.tmp) / "volume.zarr")
        reps = (self.size // 64,) * 3
        big = da.tile(da.from_array(tile, chunks=64), reps).rechunk(128)
        big.to_zarr(self.path, overwrite=True)

    def _run(self):
        volume = da.from_zarr(self.path)
        prob = self.seg.predict_proba(volume)
        # reduce on the fly: never hold the (3, size, size, size) result
        return float(prob[0].mean().compute(scheduler="threads", num_workers=2))

    def time_predict_proba(self):
        self._run()

    def peakmem_predict_proba(self):
        self._run()


if __name__ == "__main__":  # quick manual check
    b = Image1024()
    b.setup()
    t = time.time()
    b.time_propagate()
    print("propagate", time.time() - t, "accuracy", b.track_accuracy_kmeans())


class VersusSkimage3D256(VersusSkimage3D):
    """The issue's size: scribble-to-result on a 256³ volume, side by side."""

    size = 256


class Zarr512(Zarr256):
    """The issue's size: ``predict_proba`` on a 512³ zarr volume, chunk by chunk."""

    size = 512
