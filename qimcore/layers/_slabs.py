"""Per-slab statistics (porosity, sums) of volumes too large for memory, chunk by chunk."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any

import dask.array as da
import numpy as np
import pandas as pd

from .. import _chunk, _validate


def slab_statistics(volume: Any, func: Callable[[np.ndarray], Mapping[str, float]], *,
                    slab: int | None = None) -> pd.DataFrame:
    """Sum per-block statistics over z-slabs of a volume, chunk by chunk.

    ``func`` maps a block to additive quantities (counts, sums, sums of squares, histogram
    bins, ...); the values of all blocks of one slab are added up, so derived statistics
    (means, fractions) are formed from the returned sums afterwards. A dask array is reduced
    block by block on the active dask scheduler (threads, a ``distributed.Client`` on a
    ``LocalCluster`` or a SLURM cluster): only one block per worker thread is in memory and
    only the small per-block results are gathered. Float sums are added with
    :func:`math.fsum`.

    Parameters
    ----------
    volume : (Z, Y, X) or (C, Z, Y, X) ndarray or dask array
        Volume, axes ``(z, y, x)``, optionally with a leading component axis (e.g. the
        classes of a probability map), which is kept whole in every block.
    func : callable
        ``func(block) -> {name: number}`` for a block of ``volume`` with the same axes.
    slab : int, optional
        Slab thickness in slices. Default: the z-chunks of a dask array, the whole volume
        for a numpy array. A dask array is rechunked along z only when ``slab`` is given.

    Returns
    -------
    pandas.DataFrame
        One row per slab: ``z_start``, ``z_stop`` (slice indices, stop exclusive), then the
        keys of ``func``'s result.

    Raises
    ------
    TypeError
        If ``func`` is not callable or does not return a mapping of numbers.
    ValueError
        If ``volume`` is not 3D/4D or ``slab`` is not a positive integer.

    See Also
    --------
    porosity_by_slab

    Examples
    --------
    >>> volume = np.arange(4 * 3 * 2).reshape(4, 3, 2)
    >>> slab_statistics(volume, lambda b: {"n": b.size, "sum": b.sum()}, slab=2)
       z_start  z_stop   n  sum
    0        0       2  12   66
    1        2       4  12  210
    """
    volume = _validate.array(volume, "volume", ndim=(3, 4))
    if not callable(func):
        raise TypeError(f"func must be callable, got {func!r}")
    if slab is not None:
        slab = _validate.positive(slab, "slab", integer=True)
    zax = volume.ndim - 3
    chunks = None
    if isinstance(volume, da.Array):
        if zax and len(volume.chunks[0]) > 1:
            volume = volume.rechunk({0: -1})
        if slab is not None:
            volume = volume.rechunk({zax: slab})
    elif slab is not None:
        chunks = tuple(slab if ax == zax else -1 for ax in range(volume.ndim))
    rows: dict[tuple[int, int], list[dict[str, float]]] = {}
    for location, part in _chunk.reduce_blocks(_block_sums, volume, chunks=chunks, func=func):
        rows.setdefault((location[zax].start, location[zax].stop), []).append(part)
    table = []
    for (start, stop), parts in sorted(rows.items()):
        row = {"z_start": start, "z_stop": stop}
        for name in parts[0]:
            values = [p[name] for p in parts]
            exact = all(isinstance(v, numbers.Integral) for v in values)
            row[name] = sum(values) if exact else math.fsum(values)
        table.append(row)
    return pd.DataFrame(table)


def _block_sums(block: np.ndarray, *, location: tuple[slice, ...],
                func: Callable) -> dict[str, float]:
    result = func(block)
    if not isinstance(result, Mapping):
        raise TypeError(f"func must return a mapping of name to number, got {type(result)}")
    out = {}
    for name, value in result.items():
        value = value.item() if isinstance(value, np.generic) else value
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"func must return numbers, got {name!r}: {value!r}")
        out[str(name)] = value
    return out


def porosity_by_slab(volume: Any, *, threshold: float | None = None, pore_class: int = 1,
                     slab: int | None = None) -> pd.DataFrame:
    """Porosity and mean value of every z-slab of a grey-value volume or probability map.

    For a grey-value volume, pore voxels are those below ``threshold`` (pores are dark in
    X-ray CT) and ``mean`` is the mean grey value. For a probability map (classes first, as
    returned by ``DictionarySegmenter.predict_proba``), pore voxels are those whose most
    probable class is ``pore_class`` and ``mean`` is the mean probability of that class (a
    soft porosity). Dask input is reduced chunk by chunk, see :func:`slab_statistics`.

    Parameters
    ----------
    volume : (Z, Y, X) or (C, Z, Y, X) ndarray or dask array
        Grey values, or probabilities of classes ``1..C`` over axis 0.
    threshold : float, optional
        Grey value below which a voxel is pore; required for a 3D volume.
    pore_class : int, optional
        Class (1..C) of the pores in a probability map.
    slab : int, optional
        Slab thickness in slices, see :func:`slab_statistics`.

    Returns
    -------
    pandas.DataFrame
        One row per slab: ``z_start``, ``z_stop``, ``voxels``, ``pore_voxels``,
        ``porosity`` (fraction 0-1) and ``mean``.

    Raises
    ------
    ValueError
        If ``threshold`` is missing for a 3D volume, or ``pore_class`` is not in ``1..C``.

    Examples
    --------
    >>> volume = np.zeros((4, 2, 5)); volume[:, :, :2] = 10; volume[2:, 0, 2] = 10
    >>> porosity_by_slab(volume, threshold=5, slab=2)[["z_start", "pore_voxels", "porosity"]]
       z_start  pore_voxels  porosity
    0        0           12       0.6
    1        2           10       0.5
    """
    volume = _validate.array(volume, "volume", ndim=(3, 4))
    if volume.ndim == 3:
        if threshold is None:
            raise ValueError("threshold is required for a grey-value (3D) volume")
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
            raise TypeError(f"threshold must be a number, got {threshold!r}")

        def func(block: np.ndarray) -> dict[str, float]:
            return {"voxels": block.size, "pore_voxels": int(np.count_nonzero(block < threshold)),
                    "sum": float(block.sum(dtype=np.float64))}
    else:
        n_classes = volume.shape[0]
        if (isinstance(pore_class, bool) or not isinstance(pore_class, numbers.Integral)
                or not 1 <= pore_class <= n_classes):
            raise ValueError(f"pore_class must be an integer in 1..{n_classes}, got {pore_class!r}")

        def func(block: np.ndarray) -> dict[str, float]:
            pore = np.argmax(block, axis=0) == pore_class - 1
            return {"voxels": pore.size, "pore_voxels": int(np.count_nonzero(pore)),
                    "sum": float(block[pore_class - 1].sum(dtype=np.float64))}
    table = slab_statistics(volume, func, slab=slab)
    table["porosity"] = table["pore_voxels"] / table["voxels"]
    table["mean"] = table.pop("sum") / table["voxels"]
    return table
