"""Out-of-core benchmark (issue #11): a synthetic zarr volume larger than worker memory.

A two-phase volume (pores dark, solid bright, uniform noise that never crosses the threshold)
is written chunk by chunk to zarr on a ``distributed.LocalCluster`` whose workers have a
memory limit of ``MEMORY_LIMIT``; it is then read back lazily and reduced per z-slab with
:func:`qimcore.batch.porosity_by_slab`:

- ``threshold``: grey-value threshold, porosity per slab; the exact true porosity of every
  slab is known from the pattern, so ``track_threshold_error`` must be 0.
- ``predict_proba``: ``qimcore.segment.DictionarySegmenter`` (3³ patches, 2 DCT functions per
  axis, 64 words) fitted on a 64³ block with 1 % of its voxels labelled from the truth, then ``predict_proba`` on the whole (dask) volume and
  porosity per slab from the most probable class.

Reported: throughput (MB of raw volume per second, read + compute + reduce), peak resident
memory of the busiest worker and of the client process (polled every 0.1 s with psutil),
porosity error, all from one ``OutOfCore`` class (both pipelines run once in ``setup``; the
segmenter's fit on its 64³ block is inside the timed part). Sizes come from environment
variables so that the issue's 16 GB run and quick smaller runs use the same code::

    QIMCORE_OOC_GB=16 QIMCORE_OOC_SEGMENT_GB=16 python benchmarks/run.py outofcore

``QIMCORE_OOC_DTYPE`` (uint16 or uint8), ``QIMCORE_OOC_WORKERS`` (default: CPUs, at most 8),
``QIMCORE_OOC_DIR`` (default: the temp dir; the volumes are kept there and reused; delete
them by hand) complete the settings.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

import dask.array as da
import numpy as np
import psutil
from distributed import Client

from qimcore.batch import porosity_by_slab
from qimcore.cluster import local_cluster

SIZE_GB = float(os.environ.get("QIMCORE_OOC_GB", "16"))
SEGMENT_GB = float(os.environ.get("QIMCORE_OOC_SEGMENT_GB", "16"))
DTYPE = np.dtype(os.environ.get("QIMCORE_OOC_DTYPE", "uint16"))
WORKERS = int(os.environ.get("QIMCORE_OOC_WORKERS", min(8, os.cpu_count() or 1)))
MEMORY_LIMIT = "2GB"
CHUNK = 128  # zarr chunk edge in voxels
SLAB = 128  # slab thickness in slices
DIRECTORY = Path(os.environ.get("QIMCORE_OOC_DIR", Path(tempfile.gettempdir()) / "qimcore-ooc"))
PERIODS = (97.0, 131.0, 173.0)  # of the pore pattern along z, y, x (voxels)
LEVEL = 0.6  # pore where sin(z) + sin(y) + sin(x) > LEVEL (about 35 % porosity)
PORE, SOLID, NOISE = 0.25, 0.75, 0.2  # grey values as a fraction of the dtype's range


def shape_for(gigabytes: float) -> tuple[int, int, int]:
    """(Z, Y, X) with Y = X a multiple of CHUNK (at most 2048) holding ``gigabytes`` of DTYPE."""
    voxels = gigabytes * 1e9 / DTYPE.itemsize
    side = int(min(2048, max(CHUNK, round(voxels ** (1 / 3) / CHUNK) * CHUNK)))
    return max(1, round(voxels / side**2)), side, side


def _waves(start: int, stop: int, axis: int) -> np.ndarray:
    return np.sin(2 * np.pi * np.arange(start, stop, dtype=np.float64) / PERIODS[axis])


def _pores(z: tuple[int, int], y: tuple[int, int], x: tuple[int, int]) -> np.ndarray:
    return ((_waves(*z, 0)[:, None, None] + _waves(*y, 1)[None, :, None])
            + _waves(*x, 2)[None, None, :]) > LEVEL


def _block(block_info=None) -> np.ndarray:
    info = block_info[None]
    (z0, z1), (y0, y1), (x0, x1) = info["array-location"]
    pores = _pores((z0, z1), (y0, y1), (x0, x1))
    top = np.iinfo(DTYPE).max
    rng = np.random.default_rng((12345, *info["chunk-location"]))
    noise = rng.integers(-int(NOISE * top), int(NOISE * top), size=pores.shape, endpoint=True)
    return (np.where(pores, PORE * top, SOLID * top) + noise).astype(DTYPE)


def true_porosity(shape: tuple[int, int, int], slab: int = SLAB) -> np.ndarray:
    """Exact porosity of every slab of the pattern (same float64 expression as the volume)."""
    yx = _waves(0, shape[1], 1)[:, None] + _waves(0, shape[2], 2)[None, :]
    per_slice = np.array([np.count_nonzero((w + yx) > LEVEL) for w in _waves(0, shape[0], 0)])
    sums = np.add.reduceat(per_slice, np.arange(0, shape[0], slab))
    return sums / (np.diff(np.r_[np.arange(0, shape[0], slab), shape[0]]) * shape[1] * shape[2])


def write_volume(client: Client, gigabytes: float) -> tuple[Path, float]:
    """Write (or reuse) the synthetic zarr volume; return its path and the write speed (MB/s)."""
    shape = shape_for(gigabytes)
    path = DIRECTORY / f"pores_{DTYPE.name}_{'x'.join(map(str, shape))}.zarr"
    if (path / "zarr.json").exists():
        return path, float("nan")
    volume = da.map_blocks(_block, dtype=DTYPE, chunks=da.core.normalize_chunks(CHUNK, shape))
    start = time.perf_counter()
    da.to_zarr(volume, str(path), overwrite=True)
    return path, volume.nbytes / 1e6 / (time.perf_counter() - start)


class _PeakRSS:
    """Poll the resident memory of the workers and of this process."""

    def __init__(self, client: Client):
        self.procs = [psutil.Process(pid) for pid in client.run(os.getpid).values()]
        self.worker = self.client = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.1):
            for proc in self.procs:
                try:
                    self.worker = max(self.worker, proc.memory_info().rss)
                except psutil.NoSuchProcess:  # a worker restarted by its nanny
                    pass
            self.client = max(self.client, me.memory_info().rss)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _threshold(volume: da.Array) -> tuple[da.Array, float]:
    return volume, float(np.iinfo(DTYPE).max * (PORE + SOLID) / 2)


def _predict_proba(volume: da.Array) -> tuple[da.Array, None]:
    from qimcore.segment import DictionarySegmenter

    train = volume[:64, :64, :64].compute()
    truth = _pores((0, 64), (0, 64), (0, 64))
    labels = np.where(truth, 1, 2) * (np.random.default_rng(0).random(truth.shape) < 0.01)
    segmenter = DictionarySegmenter(patch_size=3, n_basis=2, n_words=64,
                                     random_state=0).fit(train)
    segmenter.propagate(labels)
    return segmenter.predict_proba(volume), None


def run_pipeline(prepare, gigabytes: float) -> dict[str, float]:
    """Write/reuse the volume, then time ``porosity_by_slab(prepare(volume))`` on the cluster."""
    stats = {}
    with local_cluster(WORKERS, memory_limit=MEMORY_LIMIT) as cluster, Client(cluster) as client:
        path, stats["write_MBps"] = write_volume(client, gigabytes)
        volume = da.from_zarr(str(path))
        with _PeakRSS(client) as peak:
            start = time.perf_counter()
            prepared, threshold = prepare(volume)
            table = porosity_by_slab(prepared, threshold=threshold, slab=SLAB)
            seconds = time.perf_counter() - start
    truth = true_porosity(volume.shape)
    stats.update(volume_GB=volume.nbytes / 1e9, seconds=seconds,
                 MBps=volume.nbytes / 1e6 / seconds, worker_MB=peak.worker / 1e6,
                 client_MB=peak.client / 1e6,
                 error=float(np.abs(table["porosity"].to_numpy() - truth).max()))
    print(f"{prepare.__name__}: {volume.shape} {volume.dtype} {WORKERS} workers {stats}",
          flush=True)
    return stats


class OutOfCore:
    """Both pipelines once (``repeat = 1``); the track_* methods report their numbers."""

    repeat = 1
    unit = "see name"  # MB/s, s, MB, GB or a fraction (porosity), as the method name says

    def setup(self):
        self.stats = {"threshold": run_pipeline(_threshold, SIZE_GB)}
        try:
            self.stats["predict_proba"] = run_pipeline(_predict_proba, SEGMENT_GB)
        except ImportError as err:  # qimcore.segment missing: its track_* report the error
            print(f"predict_proba skipped: {err}", flush=True)


def _tracker(pipeline: str, key: str):
    def track(self):
        return self.stats[pipeline][key]

    track.__name__ = f"track_{pipeline}_{key}"
    return track


for _pipeline in ("threshold", "predict_proba"):
    for _key in ("MBps", "seconds", "worker_MB", "client_MB", "error", "volume_GB",
                 "write_MBps"):
        setattr(OutOfCore, f"track_{_pipeline}_{_key}", _tracker(_pipeline, _key))
