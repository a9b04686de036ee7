"""Chunked computation helpers: numpy in, numpy out; dask in, dask out."""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable
from typing import Any

import dask
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


def reduce_blocks(func: Callable[..., Any], /, *arrays: Any, chunks: Any = None,
                  **kwargs: Any) -> list[tuple[tuple[slice, ...], Any]]:
    """Apply ``func(*blocks, location=slices, **kwargs)`` to every block; gather the results.

    The one block reduction of the package: ``func`` turns aligned blocks of ``arrays`` (and
    the block's position ``location``, a tuple of slices into the full arrays) into a small
    result (counts, sums, a histogram); the caller adds the results up. Dask arrays are
    reduced block by block on the active scheduler, with the chunks of the first dask array
    (numpy arrays among ``arrays`` are cut to match, others rechunked), so only one block per
    worker is in memory. Numpy arrays are processed in this thread, as one block or in the
    blocks given by ``chunks``.

    Parameters
    ----------
    func : callable
        ``func(*blocks, location=..., **kwargs) -> result``.
    *arrays : ndarray or dask array
        Arrays of one shape.
    chunks : tuple of int or tuple of tuple of int, optional
        Block sizes for numpy input (as for :func:`dask.array.from_array`; -1 = whole axis);
        with dask input, a rechunk of the first dask array.

    Returns
    -------
    list of (tuple of slice, result)
        One entry per block in C order of the block grid.

    Examples
    --------
    >>> parts = reduce_blocks(lambda b, location: int(b.sum()), np.ones((4, 3)), chunks=(2, -1))
    >>> [(loc[0].start, s) for loc, s in parts]
    [(0, 6), (2, 6)]
    """
    lazy = [a for a in arrays if isinstance(a, da.Array)]
    if not lazy and chunks is None:
        location = tuple(slice(0, n) for n in np.shape(arrays[0]))
        return [(location, func(*[np.asarray(a) for a in arrays], location=location, **kwargs))]
    first = lazy[0] if lazy else da.from_array(np.asarray(arrays[0]), chunks=chunks)
    if lazy and chunks is not None:
        first = first.rechunk(chunks)
    blocks = [a.rechunk(first.chunks) if isinstance(a, da.Array)
              else da.from_array(np.asarray(a), chunks=first.chunks) for a in arrays]
    bounds = [np.cumsum((0, *c)) for c in first.chunks]
    locations = [tuple(slice(int(b[i]), int(b[i + 1])) for b, i in zip(bounds, index))
                 for index in itertools.product(*[range(len(c)) for c in first.chunks])]
    if not lazy:
        return [(loc, func(*[np.asarray(a)[loc] for a in arrays], location=loc, **kwargs))
                for loc in locations]
    delayed = [b.to_delayed().ravel() for b in blocks]
    task = dask.delayed(func, pure=True)
    results = dask.compute(*[task(*parts, location=loc, **kwargs)
                             for loc, *parts in zip(locations, *delayed)])
    return list(zip(locations, results))
