"""Coarse-to-fine layered surfaces for large volumes: solve only a band around a coarse answer."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from scipy import ndimage as ndi

from .. import _validate
from ._graph import (
    _check_costs,
    _check_delta,
    _check_distances,
    _check_wrap,
    _grid_pairs,
    _solve_band,
)

__all__ = ["BandedSurfaces", "detect_surfaces_banded"]


class BandedSurfaces(NamedTuple):
    """Result of :func:`detect_surfaces_banded`.

    Attributes
    ----------
    heights : (n_surfaces,) + S ndarray of int64
        Surface depths, as returned by :func:`detect_surfaces`.
    at_band_edge : (n_surfaces,) + S ndarray of bool
        True where a surface lies on the edge of its search band (and not on the edge of the
        volume): there the band may have cut off a cheaper surface. When none is True, the
        heights are the exact optimum among all surfaces inside the band.
    band_lower : (n_surfaces,) + S ndarray of int64
        First depth of each column's band: surface ``i`` was searched in
        ``band_lower[i] <= z < band_lower[i] + 2 * band + 1`` (clipped to the volume).
    """

    heights: np.ndarray
    at_band_edge: np.ndarray
    band_lower: np.ndarray


def _downsample(cost: np.ndarray, factor: int) -> np.ndarray:
    """Block mean by ``factor`` along every axis (edge blocks averaged over what they hold).

    Accumulates strided views, so the only temporaries have the coarse size.
    """
    coarse = tuple(-(-s // factor) for s in cost.shape)
    total, count = np.zeros(coarse), np.zeros(coarse)
    for start in itertools.product(range(factor), repeat=cost.ndim):
        part = cost[tuple(slice(s, None, factor) for s in start)]
        where = tuple(slice(0, n) for n in part.shape)
        total[where] += part
        count[where] += 1
    return total / count


def detect_surfaces_banded(cost: Any, n_surfaces: int = 1, delta: int | Sequence[int] = 1,
                           min_distance: int = 1, max_distance: int | None = None, *,
                           band: int = 8, factor: int = 4,
                           wrap: int | Sequence[int] = ()) -> BandedSurfaces:
    """Layered surfaces of a large volume, solved coarse-to-fine in a narrow band.

    The cost is block-averaged by ``factor`` along every axis and solved exactly with
    :func:`detect_surfaces` (constraints scaled to the coarse grid). The coarse heights,
    linearly interpolated back to full resolution, centre a band of ``2 * band + 1`` rows per
    column; only these nodes enter the exact fine solve (a sparse layered graph), so memory
    grows with ``band`` rather than with ``Z``.

    Parameters
    ----------
    cost : (Z, X) or (Z, Y, X) array_like of float, or a sequence of ``n_surfaces`` of them
        As for :func:`detect_surfaces`.
    n_surfaces, delta, min_distance, max_distance
        As for :func:`detect_surfaces` (voxels).
    band : int
        Half-width of the fine search band around the coarse solution, in voxels.
    factor : int
        Downsampling factor of the coarse solve along every axis (1: no coarse step, the band
        is centred at mid-depth).
    wrap : int or sequence of int
        Cyclic column axes, as for :func:`detect_surfaces`.

    Returns
    -------
    result : BandedSurfaces
        ``heights`` ``(n_surfaces,) + S`` int64, the boolean ``at_band_edge`` and the int64
        ``band_lower`` of the same shape; ``result.at_band_edge.any()`` False means the
        optimum within the band is not held back by the band's edge.

    Raises
    ------
    ValueError
        For bad input as in :func:`detect_surfaces`, ``band < 1``, ``factor < 1``, or when no
        surface satisfying the constraints fits in the band (widen ``band``).
    TypeError
        For non-numeric costs or non-integer parameters.

    See Also
    --------
    detect_surfaces : the exact solve over the whole depth.

    Notes
    -----
    The fine graph has ``n_surfaces * (2 * band + 1) * prod(S)`` nodes instead of
    ``n_surfaces * Z * prod(S)``. The result equals the global optimum whenever that optimum
    lies inside the band; a surface resting on the band's edge (``at_band_edge``) is the sign
    that it may not. A much cheaper surface far from the coarse answer that block averaging
    hides (e.g. a one-voxel-thin line) is not found: lower ``factor`` or widen ``band``
    where such features matter. Beyond the cost array, memory is that of the fine graph
    with its implicit arcs (see :func:`detect_surfaces`): about 35 bytes per node for one
    surface with ``delta`` constraints along two column axes.

    Examples
    --------
    >>> cost = np.ones((40, 6, 6)); cost[25] = 0
    >>> result = detect_surfaces_banded(cost, band=4, factor=2)
    >>> np.unique(result.heights).tolist(), bool(result.at_band_edge.any())
    ([25], False)
    """
    costs = _check_costs(cost, n_surfaces)
    n = len(costs)
    depth, cols = costs[0].shape[0], costs[0].shape[1:]
    deltas = _check_delta(delta, len(cols))
    wraps = _check_wrap(wrap, len(cols))
    band = _validate.positive(band, "band", integer=True)
    factor = _validate.positive(factor, "factor", integer=True)
    min_distance = _check_distances(min_distance, max_distance, n, depth)
    rows = min(2 * band + 1, depth)
    centre = _coarse_centres(costs, deltas, wraps, min_distance, max_distance, factor)
    lower = np.clip(np.rint(centre).astype(np.int64) - band, 0, depth - rows)
    lower = lower.reshape(n, -1)
    take = lower[:, None, :] + np.arange(rows)[None, :, None]           # (n, rows, N)
    flat = [np.take_along_axis(c.reshape(depth, -1), take[i], axis=0).astype(np.float64)
            for i, c in enumerate(costs)]
    del take
    heights = _solve_band(flat, lower, _grid_pairs(cols, deltas, wraps), min_distance,
                          max_distance)
    edge = ((heights == lower) & (lower > 0)) | ((heights == lower + rows - 1)
                                                 & (lower + rows < depth))
    shape = (n,) + cols
    return BandedSurfaces(heights.reshape(shape), edge.reshape(shape), lower.reshape(shape))


def _coarse_centres(costs: list[np.ndarray], deltas: tuple[int, ...], wraps: tuple[int, ...],
                    min_distance: int, max_distance: int | None, factor: int) -> np.ndarray:
    """Band centres ``(n,) + S`` (float voxels) from the exact solve of the coarse cost."""
    from ._graph import detect_surfaces

    n = len(costs)
    depth, cols = costs[0].shape[0], costs[0].shape[1:]
    if factor == 1:
        spread = (np.arange(n) - (n - 1) / 2) * min_distance + (depth - 1) / 2
        return np.broadcast_to(spread.reshape((n,) + (1,) * len(cols)), (n,) + cols)
    coarse = [_downsample(c, factor) for c in costs]
    fits = max(1, (coarse[0].shape[0] - 1) // max(n - 1, 1))
    heights = detect_surfaces(
        coarse if n > 1 else coarse[0], n_surfaces=n, delta=deltas,
        min_distance=min(min_distance // factor, fits),
        max_distance=None if max_distance is None else -(-max_distance // factor),
        wrap=tuple(a for a in wraps if cols[a] % factor == 0))
    grid = np.meshgrid(*[(np.arange(s) + 0.5) / factor - 0.5 for s in cols], indexing="ij")
    return np.stack([ndi.map_coordinates(h.astype(np.float64), grid, order=1, mode="nearest")
                     * factor + (factor - 1) / 2 for h in heights])
