"""Chunked computation helpers: numpy in, numpy out; dask in, dask out."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

import dask.array as da
import numpy as np

# numba's fallback "workqueue" threading layer aborts when two Python threads (e.g. dask
# workers) launch parallel kernels at once: every parallel numba kernel runs under this lock.
KERNEL_LOCK = threading.Lock()


def gaussian_depth(*sigmas: float, truncate: float = 4.0) -> int:
    """Halo depth (voxels) covering a chain of Gaussian filters.

    Examples
    --------
    >>> gaussian_depth(1.0, 2.0)
    12
    """
    return int(sum(math.ceil(truncate * float(s)) for s in sigmas))


def apply(func: Callable[..., np.ndarray], image: Any, *, depth: int,
          dtype: Any = np.float32, n_new: int | None = None, **kwargs: Any):
    """Apply ``func(block, **kwargs)`` to ``image``: directly for numpy, with ``map_overlap`` for dask.

    ``func`` must be local (its output at a voxel depends only on voxels within ``depth``).
    ``boundary="none"`` keeps the true volume edges handled by ``func`` exactly as in the
    numpy path. With ``n_new`` the function returns that many outputs along one extra leading
    axis (e.g. classes), kept as a single chunk.
    """
    if not isinstance(image, da.Array):
        return func(np.asarray(image), **kwargs)
    depth_map = {ax: min(depth, max(0, image.shape[ax] - 1)) for ax in range(image.ndim)}
    if n_new is None:
        return image.map_overlap(func, depth=depth_map, boundary="none", dtype=dtype,
                                 trim=True, **kwargs)
    # map_overlap with an extra output axis: overlap, map, then trim manually.
    overlapped = da.overlap.overlap(image, depth=depth_map, boundary="none")
    out = overlapped.map_blocks(func, dtype=dtype, new_axis=0,
                                chunks=((n_new,), *overlapped.chunks), **kwargs)
    trim = {0: 0, **{ax + 1: d for ax, d in depth_map.items()}}
    return da.overlap.trim_internal(out, trim, boundary="none")
