"""Benchmarks for qimcore.fibres (issue #7).

- ``Sample150``: the real 150³ fibre sample end to end with library defaults (tracking, table
  with diameters, breaks, summary), the default call against the best fixed diameter (5.0), and
  track completeness against fibretracker 0.1.0 (if installed).
  Completeness of a track = its length / the length of its own straight line (through its
  centroid, along its principal direction) inside the volume box (``in_volume_extent`` of
  :func:`qimcore.fibres.fibre_table`); the benchmark reports the median over tracks.
- ``Phantom``: accuracy on the synthetic phantom (count, mean length, tilt, breaks, diameter).
- ``Orientation256``: :func:`qimcore.fibres.orientation` (float32) versus the ``structure-tensor``
  package (float64) on the same 256³ volume.
- ``Zarr512``: orientation of a 512³ zarr volume, chunked with dask; peak memory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

from qimcore.data import sample
from qimcore.data.synthetic import fibre_phantom
from qimcore.fibres import (
    estimate_diameter,
    fibre_summary,
    fibre_table,
    find_breaks,
    orientation,
    track_fibres,
)

DIAMETER = 5.0  # the best fixed fibre diameter of the real sample in voxels (before #15)


def _median_completeness(tracks, shape) -> float:
    table = fibre_table(tracks, shape=shape)
    return float((table.length / table.in_volume_extent).median())


def _fibretracker_tracks(volume):
    """fibretracker 0.1.0 with its default parameters; tracks converted to (z, y, x)."""
    import contextlib
    import io

    from fibretracker.models import track_fibres as ft_track

    v = volume.astype(np.float64)
    v = (v - v.min()) / (v.max() - v.min())
    with contextlib.redirect_stdout(io.StringIO()):  # it prints one line per slice
        tracks = ft_track(vol=v)
    return [np.asarray(t, float)[:, ::-1] for t in tracks if len(t) >= 2]


class Sample150:
    repeat = 1

    def setup(self):
        self.volume = sample("fibres")
        self.tracks = track_fibres(self.volume)  # library defaults: diameter estimated
        self.fixed_tracks = track_fibres(self.volume, DIAMETER)
        try:
            self.ft_tracks = _fibretracker_tracks(self.volume)
        except ImportError:
            self.ft_tracks = None

    def time_end_to_end(self):
        tracks = track_fibres(self.volume)
        table = fibre_table(tracks, shape=self.volume.shape, volume=self.volume)
        find_breaks(tracks, volume=self.volume)
        fibre_summary(table, self.volume.shape)

    def track_estimated_diameter_voxels(self):
        return estimate_diameter(self.volume)

    def track_qimcore_fixed_diameter_n_tracks(self):
        return len(self.fixed_tracks)

    def track_qimcore_fixed_diameter_median_completeness(self):
        return _median_completeness(self.fixed_tracks, self.volume.shape)

    def track_qimcore_n_tracks(self):
        return len(self.tracks)

    def track_qimcore_median_completeness(self):
        return _median_completeness(self.tracks, self.volume.shape)

    def track_qimcore_median_length_voxels(self):
        return float(fibre_table(self.tracks).length.median())

    def track_fibretracker_n_tracks(self):
        return np.nan if self.ft_tracks is None else len(self.ft_tracks)

    def track_fibretracker_median_completeness(self):
        if self.ft_tracks is None:
            return np.nan
        return _median_completeness(self.ft_tracks, self.volume.shape)

    def track_fibretracker_median_length_voxels(self):
        if self.ft_tracks is None:
            return np.nan
        return float(fibre_table(self.ft_tracks).length.median())


class Phantom:
    """Accuracy on the 96³ two-ply phantom with 8 breaks (unit: relative error or fraction)."""

    unit = "fraction / degrees"

    def setup(self):
        self.volume, self.truth = fibre_phantom((96, 96, 96), diameter=6.0, n_breaks=8,
                                                random_state=0)
        self.tracks = track_fibres(self.volume, 6.0)
        self.table = fibre_table(self.tracks, shape=self.volume.shape, volume=self.volume)
        cost = np.array([[cKDTree(t).query(s)[0].mean() for t in self.tracks]
                         for s in self.truth["tracks"]])
        rows, cols = linear_sum_assignment(cost)
        good = cost[rows, cols] < 2
        self.rows, self.cols = rows[good], cols[good]

    def time_track(self):
        track_fibres(self.volume, 6.0)

    def track_count_relative_error(self):
        return len(self.tracks) / len(self.truth["tracks"]) - 1

    def track_mean_length_relative_error(self):
        return self.table.length.mean() / self.truth["length"].mean() - 1

    def track_tilt_mean_abs_error_degrees(self):
        return float(np.abs(self.table.theta.to_numpy()[self.cols]
                            - self.truth["theta"][self.rows]).mean())

    def track_diameter_relative_error(self):
        return float(self.table.diameter.mean() / self.truth["diameter"] - 1)

    def _break_distances(self):
        found = find_breaks(self.tracks, volume=self.volume)[["z", "y", "x"]].to_numpy()
        true = self.truth["breaks"][["z", "y", "x"]].to_numpy()
        return np.linalg.norm(found[:, None] - true[None], axis=-1)

    def track_break_recall(self):
        return float((self._break_distances().min(0) < 3).mean())

    def track_break_precision(self):
        d = self._break_distances()
        return float((d.min(1) < 3).mean()) if d.shape[0] else 0.0


class Orientation256:
    """256³ float32 volume, ``sigma=1.5``, ``rho=3.0``; ``structure-tensor`` is single-threaded
    scipy float64, qimcore uses the numba threads (both cores here)."""

    repeat = 1
    unit = "x faster"

    def setup(self):
        rng = np.random.default_rng(0)
        self.volume = ndi.gaussian_filter(rng.random((256, 256, 256), np.float32), 1.0)
        orientation(self.volume[:32, :32, :32], 1.5, 3.0)  # compile or load the numba kernels

    def _qimcore(self):
        orientation(self.volume, 1.5, 3.0)

    def _structure_tensor(self):
        from structure_tensor import eig_special_3d, structure_tensor_3d

        eig_special_3d(structure_tensor_3d(self.volume.astype(np.float64), 1.5, 3.0))

    def time_qimcore_float32(self):
        self._qimcore()

    def time_structure_tensor_float64(self):
        self._structure_tensor()

    def track_speedup_same_run(self):
        t0 = time.perf_counter()
        self._structure_tensor()
        t1 = time.perf_counter()
        self._qimcore()
        t2 = time.perf_counter()
        return (t1 - t0) / (t2 - t1)


class Zarr512:
    """Chunked orientation of a 512³ uint8 zarr volume (128³ chunks); peak RSS.

    ``peakmem_*`` reads ``ru_maxrss``, which a child inherits from the harness process's RSS at
    fork on Linux; ``track_peak_rss_fresh_process`` runs the same work in a new interpreter
    and reads its own high-water mark (``VmHWM``), which starts from zero.
    """

    unit = "MiB"

    def setup(self):
        import dask.array as da

        self.path = Path(tempfile.gettempdir()) / "qimcore_bench_fibres_512.zarr"
        if not self.path.exists():
            def block(block_info=None):
                (z0, z1), (y0, y1), (x0, x1) = block_info[None]["array-location"]
                z, y, x = np.mgrid[z0:z1, y0:y1, x0:x1].astype(np.float32)
                rng = np.random.default_rng(z0 * 7 + y0 * 3 + x0)
                v = 100 + 60 * np.sin(0.9 * y + 0.3 * z) * np.sin(0.9 * x)
                return (v + rng.normal(0, 10, v.shape)).clip(0, 255).astype(np.uint8)

            vol = da.map_blocks(block, chunks=((128,) * 4,) * 3, dtype=np.uint8)
            vol.to_zarr(os.fspath(self.path))

    def peakmem_orientation_512_zarr(self):
        import dask
        import dask.array as da

        vol = da.from_zarr(os.fspath(self.path))
        vec = orientation(vol, 1.5, 3.0)
        a2 = da.stack([(vec[i] * vec[j]).mean() for i, j in ((0, 0), (1, 1), (2, 2))])
        with dask.config.set(scheduler="threads", num_workers=2):
            a2.compute()

    def track_peak_rss_fresh_process(self):
        code = (
            "import sys; sys.path.insert(0, sys.argv[1]); import bench_fibres as b\n"
            "o = b.Zarr512(); o.setup(); o.peakmem_orientation_512_zarr()\n"
            "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0])"
        )
        res = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent)],
                             capture_output=True, text=True, check=True)
        return int(res.stdout.split()[-2]) / 1024  # kB -> MiB
