"""Tests for qimcore.segment (dictionary diffusion)."""

from __future__ import annotations

import threading

import dask.array as da
import numpy as np
import pytest
from scipy import ndimage as ndi

from qimcore.data.synthetic import sparse_labels, texture_phantom
from qimcore.segment import DictionarySegmenter, load_scribbles, segment


def _reference(words, labels, size, n_words, weighting="none", steps=1, overwrite=False):
    """Dense biadjacency-matrix propagation P = T2 T1 L (tiny images only)."""
    shape, nd, r = words.shape, words.ndim, size // 2
    offsets = np.stack(np.meshgrid(*[np.arange(-r, r + 1)] * nd, indexing="ij"), -1).reshape(-1, nd)
    n, n_off = words.size, len(offsets)
    b = np.zeros((n, n_words * n_off))
    for i in np.ndindex(shape):
        for o, off in enumerate(offsets):
            j = tuple(np.add(i, off))
            if all(0 <= a < s for a, s in zip(j, shape)):
                b[np.ravel_multi_index(j, shape), words[i] * n_off + o] = 1
    t1 = b.T / np.maximum(b.T.sum(1, keepdims=True), 1)
    t2 = b / b.sum(1, keepdims=True)
    n_classes = labels.max()
    lab = labels.ravel()
    onehot = np.zeros((n, n_classes))
    onehot[lab > 0, lab[lab > 0] - 1] = 1
    current = onehot
    for _ in range(steps):
        table = t1 @ current
        if weighting != "none":
            q = table / np.where(table.sum(1, keepdims=True) > 0, table.sum(1, keepdims=True), 1)
            if weighting == "entropy":
                conf = 1 + (q * np.log(np.where(q > 0, q, 1))).sum(1, keepdims=True) / np.log(n_classes)
            else:
                top = np.sort(q, 1)
                conf = top[:, -1:] - top[:, -2:-1]
            table = table * conf
        p = t2 @ table
        s = p.sum(1, keepdims=True)
        p = np.where(s > 0, p / np.where(s > 0, s, 1), 1 / n_classes)
        if overwrite:
            p[lab > 0] = onehot[lab > 0]
        current = p
    return p.T.reshape((n_classes,) + shape)


@pytest.mark.parametrize("shape, size, weighting, steps", [
    ((9, 11), 3, "none", 1), ((9, 11), 5, "entropy", 1), ((10, 8), 3, "twomax", 2),
    ((5, 6, 7), 3, "none", 1), ((5, 6, 7), 3, "none", 2)])
def test_propagate_equals_biadjacency_reference(rng, shape, size, weighting, steps):
    image = rng.random(shape).astype(np.float32)
    labels = np.zeros(shape, np.int64)
    flat = rng.choice(labels.size, 8, replace=False)
    labels.flat[flat] = np.arange(8) % 3 + 1
    seg = DictionarySegmenter(patch_size=size, n_words=6, weighting=weighting, steps=steps,
                              overwrite=False).fit(image)
    prob = seg.propagate(labels)
    ref = _reference(seg.words_, labels, size, 6, weighting, steps)
    assert prob.dtype == np.float32 and prob.shape == (3,) + shape
    np.testing.assert_allclose(prob, ref, atol=1e-6)
    np.testing.assert_allclose(prob.sum(0), 1, atol=1e-6)


def test_overwrite_keeps_user_labels(rng):
    image = rng.random((12, 13)).astype(np.float32)
    labels = np.zeros(image.shape, int)
    labels[2, 3], labels[8, 9], labels[5, 5] = 1, 2, 2
    pred = DictionarySegmenter(3, 5).fit(image)
    pred.propagate(labels)
    assert pred.predict()[labels > 0].tolist() == labels[labels > 0].tolist()


@pytest.mark.parametrize("method", ["kmeans", "kmtree"])
def test_textures_2d_sparse_labels_accuracy(method):
    image, truth = texture_phantom((160, 160), 3, random_state=1)
    labels = sparse_labels(truth, 0.008, random_state=2)
    assert 0 < (labels > 0).mean() < 0.01
    seg = DictionarySegmenter(9, 300, method=method).fit(image)
    seg.propagate(labels)
    assert (seg.predict() == truth).mean() >= 0.95


def test_multiscale_and_smoothing_are_probabilities():
    image, truth = texture_phantom((64, 64), 3, region_size=8, random_state=3)
    labels = sparse_labels(truth, 0.01, random_state=4)
    prob = segment(image, labels, patch_size=(5, 9), n_words=100, smooth=1.0)
    assert prob.shape == (3, 64, 64) and prob.dtype == np.float32
    np.testing.assert_allclose(prob.sum(0), 1, atol=1e-5)
    assert (prob.argmax(0) + 1 == truth).mean() > 0.8


def test_gaussian_features_separate_blobs(rng):
    image = np.zeros((48, 48), np.float32)
    image[10:20, 10:20] = 1
    image[30:42, 28:40] = 1
    image += 0.05 * rng.standard_normal(image.shape).astype(np.float32)
    labels = np.zeros(image.shape, np.uint8)
    labels[15, 15], labels[3, 40] = 1, 2
    seg = DictionarySegmenter(5, 20, features="gaussian", sigmas=(1, 2)).fit(image)
    seg.propagate(labels)
    pred = seg.predict()
    assert pred[36, 34] == 1 and pred[45, 5] == 2


def test_volume_labels_on_two_slices():
    volume, truth = texture_phantom((40, 40, 40), 3, region_size=8, period=5, noise=0.2,
                                    random_state=5)
    labels = np.zeros(truth.shape, np.uint8)
    labels[[8, 30]] = truth[[8, 30]]  # two fully labelled slices
    seg = DictionarySegmenter(5, 200, method="kmtree", branching=6, n_basis=3).fit(volume)
    seg.propagate(labels)
    others = np.setdiff1d(np.arange(40), [8, 30])
    assert (seg.predict()[others] == truth[others]).mean() >= 0.95


@pytest.mark.parametrize("shape, chunks, features", [
    ((20, 23, 19), (7, 9, 5), "intensity"), ((31, 29), (7, 9), "gaussian")])
def test_predict_proba_dask_equals_numpy(rng, shape, chunks, features):
    image = rng.random(shape).astype(np.float32)
    labels = np.zeros(shape, np.uint8)
    labels.flat[rng.choice(labels.size, 30, replace=False)] = np.arange(30) % 3 + 1
    seg = DictionarySegmenter(5, 20, method="kmtree", branching=4, features=features,
                              sigmas=(1.0,), smooth=0.7).fit(image)
    seg.propagate(labels)
    new = rng.random(shape).astype(np.float32)
    expected = seg.predict_proba(new)
    lazy = seg.predict_proba(da.from_array(new, chunks=chunks))
    assert isinstance(lazy, da.Array)
    got = lazy.compute()
    assert got.dtype == np.float32 and got.shape == (3,) + shape
    np.testing.assert_allclose(got, expected, atol=1e-6)
    labels_pred = seg.predict(da.from_array(new, chunks=chunks))
    assert isinstance(labels_pred, da.Array)
    assert (labels_pred.compute() == expected.argmax(0) + 1).all()


def test_predict_proba_on_fitted_image_matches_propagate(rng):
    image = rng.random((21, 22)).astype(np.float32)
    labels = np.zeros(image.shape, np.uint8)
    labels.flat[rng.choice(labels.size, 20, replace=False)] = np.arange(20) % 2 + 1
    seg = DictionarySegmenter(5, 10, overwrite=False).fit(image)
    prob = seg.propagate(labels)
    np.testing.assert_allclose(seg.predict_proba(image), prob, atol=1e-6)


def test_kmeans_words_are_the_nearest_centres(rng, monkeypatch):
    from qimcore.segment import _clustering

    monkeypatch.setattr(_clustering, "BLOCK", 50)  # several blocks of rows
    image = rng.random((23, 19)).astype(np.float32)
    seg = DictionarySegmenter(3, 12, n_basis=3).fit(image)
    feats = seg._model.scales[0].dictionary.rows((image - image.mean()) / image.std())
    dist = ((feats[:, None, :] - seg.centers_[None]) ** 2).sum(-1)
    best = dist.min(1, keepdims=True)
    # the chosen word is a nearest centre (ties allowed up to float32 rounding)
    chosen = np.take_along_axis(dist, seg.words_.reshape(-1, 1), 1)
    np.testing.assert_allclose(chosen, best, rtol=1e-5, atol=1e-5)


def test_kmtree_words_and_centers(rng):
    image = rng.random((30, 30)).astype(np.float32)
    seg = DictionarySegmenter(3, 16, method="kmtree", branching=4).fit(image)
    assert seg.words_.shape == image.shape and seg.words_.dtype == np.int32
    assert seg.centers_.shape[0] == 16 and 0 <= seg.words_.min() and seg.words_.max() < 16


@pytest.mark.parametrize("kwargs, match", [
    ({"patch_size": 4}, "patch_size"), ({"patch_size": 31}, "patch_size"),
    ({"n_words": 10_000}, "n_words"), ({"method": "tree"}, "method"),
    ({"features": "hog"}, "features"), ({"weighting": "max"}, "weighting"),
    ({"steps": 3}, "steps")])
def test_bad_parameters(rng, kwargs, match):
    image = rng.random((20, 30)).astype(np.float32)
    with pytest.raises(ValueError, match=match):
        DictionarySegmenter(**{"patch_size": 3, "n_words": 5, **kwargs}).fit(image)


def test_bad_image_and_labels(rng):
    image = rng.random((20, 30)).astype(np.float32)
    bad = image.copy()
    bad[3, 3] = np.nan
    with pytest.raises(ValueError, match="image"):
        DictionarySegmenter(3, 5).fit(bad)
    seg = DictionarySegmenter(3, 5).fit(image)
    with pytest.raises(ValueError, match="labels"):
        seg.propagate(np.zeros((20, 31), int))
    with pytest.raises(ValueError, match="labels"):
        seg.propagate(np.zeros((20, 30), int))
    one = np.zeros((20, 30), int)
    one[2, 2] = 2
    with pytest.raises(ValueError, match="labels"):
        seg.propagate(one)
    with pytest.raises(TypeError, match="labels"):
        seg.propagate(one.astype(float))
    with pytest.raises(ValueError, match="propagate"):
        seg.predict()
    with pytest.raises(ValueError, match="fit"):
        DictionarySegmenter().propagate(one)


def _two_class_labels(shape, rng, n=20, classes=(1, 2)):
    labels = np.zeros(shape, np.int64)
    labels.flat[rng.choice(int(np.prod(shape)), n, replace=False)] = np.resize(classes, n)
    return labels


def test_classes_far_beyond_the_labelled_ones_are_refused(rng):
    image = rng.random((20, 30)).astype(np.float32)
    seg = DictionarySegmenter(3, 5).fit(image)
    for big in (300, 10**9):
        with pytest.raises(ValueError, match="n_classes"):
            seg.propagate(_two_class_labels(image.shape, rng, classes=(1, big)))
    # a gap of one class is fine; n_classes makes room for classes not yet labelled
    assert seg.propagate(_two_class_labels(image.shape, rng, classes=(1, 3))).shape == (3, 20, 30)
    prob = seg.propagate(_two_class_labels(image.shape, rng, classes=(1, 7)), n_classes=7)
    assert prob.shape == (7, 20, 30) and seg.n_classes_ == 7
    with pytest.raises(ValueError, match="n_classes"):
        seg.propagate(_two_class_labels(image.shape, rng, classes=(1, 7)), n_classes=5)


def test_fitted_attributes_and_predict_proba_with_labels(rng):
    image = rng.random((21, 22)).astype(np.float32)
    labels = _two_class_labels(image.shape, rng)
    seg = DictionarySegmenter(5, 10, method="kmtree", branching=3).fit(image)
    assert seg.shape_ == (21, 22) and seg.n_words_ == 9 and seg.words_.max() < 9
    with pytest.raises(ValueError, match="propagate"):
        seg.predict_proba(image)
    new = rng.random((21, 22)).astype(np.float32)
    direct = seg.predict_proba(new, labels)  # right after fit: labels given
    with pytest.raises(ValueError, match="propagate"):
        seg.predict()  # predict_proba(labels=) does not replace the result
    seg.propagate(labels)
    np.testing.assert_array_equal(seg.predict_proba(new), direct)
    assert seg.n_classes_ == 2 and seg.probabilities_.shape == (2, 21, 22)
    assert [t.shape for t in seg.dictionary_probabilities_] == [(9, 25, 2)]
    seg.fit(image[:, :20])  # a new fit drops the result of the old one
    with pytest.raises(ValueError, match="propagate"):
        seg.predict()


def test_predict_proba_sees_old_or_new_result_while_propagating(rng):
    """Real threads: one propagates alternating labels, the other reads (issue #17)."""
    image, truth = texture_phantom((48, 48), 3, region_size=6, random_state=7)
    first, second = sparse_labels(truth, 0.02, random_state=1), sparse_labels(truth, 0.05,
                                                                              random_state=2)
    seg = DictionarySegmenter(5, 40).fit(image)
    expected = [seg.predict_proba(image, labels) for labels in (first, second)]
    seg.propagate(first)
    stop, errors, seen = threading.Event(), [], set()

    def write():
        try:
            for i in range(40):
                seg.propagate((first, second)[i % 2])
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)
        finally:
            stop.set()

    def read():
        try:
            while not stop.is_set():
                got = seg.predict_proba(image)
                match = [k for k, e in enumerate(expected) if np.array_equal(got, e)]
                assert match, "predict_proba returned neither the old nor the new result"
                seen.add(match[0])
                assert seg.predict().shape == image.shape
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)
            stop.set()

    threads = [threading.Thread(target=write), threading.Thread(target=read)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert seen  # the reader ran


@pytest.mark.slow
def test_nerves_sample_with_shipped_scribbles():
    from pathlib import Path

    from qimcore.data import sample

    path = Path(__file__).resolve().parents[2] / "data_samples" / "nerves_scribbles.npz"
    labels = load_scribbles(path)
    volume = sample("nerves")
    assert labels.shape == volume.shape and set(np.unique(labels)) == {0, 1, 2, 3}
    assert np.unique(np.nonzero(labels)[0]).size == 2  # strokes on two slices
    seg = DictionarySegmenter(5, 100, features="gaussian", sigmas=(1, 2, 4, 8), smooth=1.5,
                              steps=2)
    seg.fit(volume).propagate(labels)
    pred = seg.predict()
    assert (pred[labels > 0] == labels[labels > 0]).all()
    means = [volume[pred == c].mean() for c in (1, 2, 3)]
    # myelin (2) is the dark ring class, darker than the axon cores (1), which are darker
    # than the background (3), as in the raw data
    assert means[1] < means[0] < means[2]
    # every slice contains myelin and axon, not only the two labelled slices
    per_slice = [(np.bincount(p.ravel(), minlength=4)[1:] > 0).all() for p in pred]
    assert np.mean(per_slice) > 0.95
    # the myelin class forms rings around the axons: for the predicted axon components
    # (>= 60 pixels, every 8th slice) the 2-pixel outer ring is mostly myelin for >= 70 %
    ring_myelin = []
    for plane in pred[::8]:
        comps, n = ndi.label(plane == 1)
        for comp in (comps == i for i in range(1, n + 1)):
            if comp.sum() >= 60:
                ring = ndi.binary_dilation(comp, iterations=2) & ~comp
                ring_myelin.append((plane[ring] == 2).mean())
    assert len(ring_myelin) >= 50
    assert np.mean(np.array(ring_myelin) >= 0.5) >= 0.7


@pytest.mark.parametrize("shape", [(61, 70), (21, 18, 23)])
def test_propagate_step_is_exact_on_the_grid_after_one_diffusion(shape):
    image, truth = texture_phantom(shape, n_classes=3, region_size=6, random_state=1)
    labels = sparse_labels(truth, 0.03, random_state=1)
    seg = DictionarySegmenter(patch_size=(3, 5), n_words=40, steps=1).fit(image)
    full = seg.propagate(labels)
    for step in (2, 3):
        np.testing.assert_array_equal(seg.propagate(labels, step=step),
                                      full[(slice(None),) + (slice(None, None, step),) * len(shape)])
    assert seg.probabilities_ is not None and np.array_equal(seg.probabilities_, full)  # kept


def test_propagate_step_previews_two_diffusions():
    image, truth = texture_phantom((128, 128), n_classes=3, region_size=10, random_state=2)
    labels = sparse_labels(truth, 0.01, random_state=2)
    seg = DictionarySegmenter(n_words=200).fit(image)
    full = seg.propagate(labels)
    preview = seg.propagate(labels, step=2)
    assert preview.shape == (3, 64, 64) and np.allclose(preview.sum(0), 1, atol=1e-5)
    agree = (preview.argmax(0) == full[:, ::2, ::2].argmax(0)).mean()
    assert agree > 0.9, agree
    assert np.array_equal(seg.probabilities_, full)
    with pytest.raises(ValueError, match="step"):
        seg.propagate(labels, step=0)
