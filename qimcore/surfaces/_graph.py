"""Exact optimal-net detection of layered surfaces by one s-t minimum cut."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _validate
from ._maxflow import min_closure

__all__ = ["detect_surfaces"]


def detect_surfaces(cost: Any, n_surfaces: int = 1, delta: int | Sequence[int] = 1,
                    min_distance: int = 1, max_distance: int | None = None,
                    region_cost: Any = None, wrap: int | Sequence[int] = ()) -> np.ndarray:
    """Find the cheapest set of smooth, ordered surfaces (exact global minimum).

    Each surface ``i`` passes through exactly one voxel ``z = heights[i][p]`` of every column
    ``p`` of the cost array and pays ``cost[z, p]``. The total cost over all surfaces (plus the
    region terms) is minimised exactly under the smoothness and distance constraints by one
    minimum s-t cut (optimal net of Wu & Chen; Li, Wu, Chen & Sonka 2006).

    Parameters
    ----------
    cost : (Z, X) or (Z, Y, X) array_like of float, or a sequence of ``n_surfaces`` of them
        Cost of a surface passing through voxel ``(z, p)``; axis 0 (``z``, voxels) is the
        depth axis searched in every column, the remaining axes ``S`` are the columns
        (``(X,)`` for curves, ``(Y, X)`` for terrain surfaces). A sequence (list or tuple)
        gives each surface its own cost. Negative values are allowed.
    n_surfaces : int
        Number of surfaces (ignored, taken from the sequence, when ``cost`` is a sequence).
    delta : int or sequence of int
        Smoothness: ``|h(p) - h(q)| <= delta`` for 4-neighbour columns ``p``, ``q``, in voxels;
        one int per axis of ``S`` to differ per axis.
    min_distance : int
        ``heights[i + 1] - heights[i] >= min_distance`` (voxels, >= 0) in every column.
    max_distance : int, optional
        ``heights[i + 1] - heights[i] <= max_distance`` (voxels); None: no upper bound.
    region_cost : (n_surfaces + 1, Z) + S array_like of float, optional
        Voxel ``(z, p)`` in region ``k`` pays ``region_cost[k, z, p]``. Region 0 is
        ``z < heights[0][p]``, region ``k`` (``0 < k < n_surfaces``) is
        ``heights[k-1][p] <= z < heights[k][p]`` and region ``n_surfaces`` is
        ``z >= heights[-1][p]``: a surface voxel belongs to the region above it.
    wrap : int or sequence of int
        Axes of ``S`` (0-based, so ``0`` is the first column axis) that are cyclic, e.g. the
        angle axis of an unfolded closed curve or tube.

    Returns
    -------
    heights : (n_surfaces,) + S ndarray of int64
        Surface depths, ``0 <= heights < Z``, ascending along axis 0.

    Raises
    ------
    ValueError
        For non-finite costs, bad shapes, negative ``delta``, an unknown ``wrap`` axis, or
        when ``n_surfaces`` surfaces ``min_distance`` apart do not fit in ``Z``.
    TypeError
        For non-numeric costs or non-integer parameters.

    See Also
    --------
    unfold_polar, sample_normals : build ``cost`` for closed curves and tubes.
    polar_to_points, normals_to_points : map ``heights`` back to ``(y, x)`` points.

    Notes
    -----
    Node ``(i, z, p)`` is in the source set iff ``z >= heights[i][p]``. Infinite arcs
    ``(i, z, p) -> (i, z + 1, p)`` keep each column's source set an upper interval, so each
    column is cut exactly once; node ``(i, z, p)`` on the sink side pays
    ``cost[z + 1, p] - cost[z, p]`` (a terminal arc), so the cut below ``h`` pays ``cost[h, p]``
    up to a constant. Smoothness uses infinite arcs ``(i, z, p) -> (i, z + delta, q)`` both
    ways, distances use ``(i+1, z, p) -> (i, z - min, p)`` and ``(i, z, p) -> (i+1, z + max, p)``:
    the minimum cut is a minimum-weight closed set. Region costs enter as suffix sums along
    ``z`` of ``region_cost[i + 1] - region_cost[i]``. Surface ``i`` can only lie in
    ``i * min_distance <= z <= Z - 1 - (n_surfaces - 1 - i) * min_distance``, so only those
    rows get nodes, re-indexed so that the distance arcs join equal rows; this keeps the
    graph at ``n_surfaces * (Z - (n_surfaces - 1) * min_distance) * prod(S)`` nodes.

    The arcs are the same in every row, so they are stored once per pair of columns and the
    max-flow (Boykov-Kolmogorov, after a greedy flow up each column) runs on these implicit
    arcs with one float64 flow per node and arc: about 35 bytes per node for one terrain
    surface and 72 for two, against 400-450 for slgbuilder's explicit PyMaxflow graph. As the
    flows are float64, the result is the exact minimum for integer-valued costs (sums below
    2**53) and exact up to float64 rounding otherwise.

    References
    ----------
    .. [1] K. Li, X. Wu, D. Z. Chen, M. Sonka, "Optimal surface segmentation in volumetric
       images - a graph-theoretic approach", IEEE TPAMI 28(1), 2006.

    Examples
    --------
    >>> cost = np.ones((4, 5)); cost[2] = 0   # cheapest row is z = 2
    >>> detect_surfaces(cost).tolist()
    [[2, 2, 2, 2, 2]]
    >>> cost = np.ones((6, 3)); cost[1] = 0; cost[4] = 0.5
    >>> detect_surfaces(cost, n_surfaces=2, min_distance=2).tolist()
    [[1, 1, 1], [4, 4, 4]]
    """
    costs = _check_costs(cost, n_surfaces)
    n = len(costs)
    depth, cols = costs[0].shape[0], costs[0].shape[1:]
    deltas = _check_delta(delta, len(cols))
    wraps = _check_wrap(wrap, len(cols))
    min_distance = _check_distances(min_distance, max_distance, n, depth)
    columns = [np.asarray(c, np.float64) for c in costs]  # no copy of float64 costs
    if region_cost is not None:
        region = _validate.array(region_cost, "region_cost")
        if region.shape != (n + 1, depth) + cols:
            raise ValueError(f"region_cost must have shape {(n + 1, depth) + cols} "
                             f"(n_surfaces + 1, Z) + S; got {region.shape}")
        for i in range(n):
            step = np.asarray(region[i + 1], np.float64) - region[i]
            columns[i] = columns[i] + np.cumsum(step[::-1], axis=0)[::-1]
    return _solve(columns, deltas, wraps, min_distance, max_distance)


def _check_distances(min_distance: Any, max_distance: Any, n: int, depth: int) -> int:
    """Validate the distance limits of ``n`` surfaces in a cost of depth ``depth``."""
    min_distance = _validate.positive(min_distance, "min_distance", integer=True,
                                      allow_zero=True)
    if max_distance is not None:
        _validate.positive(max_distance, "max_distance", integer=True, allow_zero=True)
        if max_distance < min_distance:
            raise ValueError(f"max_distance must be >= min_distance ({min_distance}); "
                             f"got {max_distance!r}")
    if (n - 1) * min_distance > depth - 1:
        raise ValueError(f"n_surfaces={n} surfaces min_distance={min_distance} apart do not fit "
                         f"in the Z={depth} depth of cost")
    return min_distance


def _check_costs(cost: Any, n_surfaces: int) -> list[np.ndarray]:
    if isinstance(cost, (list, tuple)):
        costs = [_validate.array(c, f"cost[{i}]", ndim=(2, 3), allow_dask=False)
                 for i, c in enumerate(cost)]
        if not costs:
            raise ValueError("cost must not be an empty sequence")
        if any(c.shape != costs[0].shape for c in costs):
            raise ValueError(f"cost arrays must share one shape; got {[c.shape for c in costs]}")
        return costs
    _validate.positive(n_surfaces, "n_surfaces", integer=True)
    return [_validate.array(cost, "cost", ndim=(2, 3), allow_dask=False)] * n_surfaces


def _check_delta(delta: Any, n_axes: int) -> tuple[int, ...]:
    deltas = (delta,) * n_axes if np.ndim(delta) == 0 else tuple(np.ravel(delta).tolist())
    if len(deltas) != n_axes:
        raise ValueError(f"delta must be an int or {n_axes} ints (one per column axis of cost); "
                         f"got {delta!r}")
    for d in deltas:
        if isinstance(d, bool) or not isinstance(d, numbers.Integral):
            raise TypeError(f"delta must hold integers; got {delta!r}")
        if d < 0:
            raise ValueError(f"delta must be >= 0 for each axis of cost; got {delta!r}")
    return tuple(int(d) for d in deltas)


def _check_wrap(wrap: Any, n_axes: int) -> tuple[int, ...]:
    axes = (wrap,) if isinstance(wrap, numbers.Integral) else tuple(wrap)
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, numbers.Integral):
            raise TypeError(f"wrap must hold integer axes; got {wrap!r}")
        if not 0 <= a < n_axes:
            raise ValueError(f"wrap axis {a} does not exist: cost has {n_axes} column axes "
                             f"(valid: 0..{n_axes - 1})")
    return tuple(sorted({int(a) for a in axes}))


def _grid_pairs(cols: tuple[int, ...], deltas: tuple[int, ...], wraps: tuple[int, ...]
                ) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Flat column indices ``(p, q, delta)`` of 4-neighbour columns of a grid ``cols``."""
    index = np.arange(int(np.prod(cols)), dtype=np.int64).reshape(cols)
    pairs = []
    for axis, d in enumerate(deltas):
        size = cols[axis]
        first = np.take(index, np.arange(size - 1), axis=axis).ravel()
        second = np.take(index, np.arange(1, size), axis=axis).ravel()
        if axis in wraps and size > 2:
            first = np.concatenate([first, np.take(index, size - 1, axis=axis).ravel()])
            second = np.concatenate([second, np.take(index, 0, axis=axis).ravel()])
        pairs.append((first, second, d))
    return pairs


def _solve(columns: list[np.ndarray], deltas: tuple[int, ...], wraps: tuple[int, ...],
           min_distance: int, max_distance: int | None) -> np.ndarray:
    n, m = len(columns), min_distance
    cols = columns[0].shape[1:]
    # Surface i can only lie in i * m <= z <= Z - 1 - (n - 1 - i) * m: keep just that band.
    depth = columns[0].shape[0] - (n - 1) * m
    flat = [c[i * m: i * m + depth].reshape(depth, -1) for i, c in enumerate(columns)]
    lower = np.repeat(np.arange(n, dtype=np.int64)[:, None] * m, flat[0].shape[1], axis=1)
    heights = _solve_band(flat, lower, _grid_pairs(cols, deltas, wraps), min_distance,
                          max_distance)
    return heights.reshape((n,) + cols)


def _solve_band(costs: list[np.ndarray], lower: np.ndarray,
                pairs: list[tuple[np.ndarray, np.ndarray, int]], min_distance: int,
                max_distance: int | None) -> np.ndarray:
    """Exact minimum cut for surfaces confined to a band of rows above ``lower``.

    ``costs[i]`` is ``(B, N)``: row ``k`` of column ``p`` is depth ``lower[i, p] + k``.
    ``pairs`` holds flat column indices ``(p, q, delta)`` of neighbouring columns (a grid or
    any graph, e.g. a mesh). Node ``(i, k, p)`` is on the source side iff
    ``k >= heights[i, p] - lower[i, p]``. Returns the heights ``(n, N)`` (int64 depths).
    """
    n = len(costs)
    rows, size = costs[0].shape
    lower = np.asarray(lower, np.int64)
    column = np.arange(size, dtype=np.int64)
    # Column (i, p) cut below row h pays C[h] = C[0] + sum_{k < h} (C[k + 1] - C[k]): node
    # (i, k, p) on the sink side pays C[k + 1] - C[k]; the top row is always on the source side.
    weight = np.empty((n * size, rows), np.float64)
    for i, c in enumerate(costs):
        weight[i * size:(i + 1) * size, :-1] = np.diff(c, axis=0).T
    weight[:, -1] = np.inf
    arcs = []

    def at_most(i: int, a: np.ndarray, j: int, b: np.ndarray, s: np.ndarray) -> None:
        """Row of surface ``j`` column ``b`` <= that of surface ``i`` column ``a`` + ``s``."""
        arcs.append((i * size + a, j * size + b, np.broadcast_to(s, a.shape)))

    for i in range(n):
        for p, q, d in pairs:                           # |h(p) - h(q)| <= d
            at_most(i, p, i, q, d + lower[i, p] - lower[i, q])
            at_most(i, q, i, p, d + lower[i, q] - lower[i, p])
    for i in range(n - 1):                              # min <= h(i+1) - h(i) <= max
        at_most(i + 1, column, i, column, lower[i + 1] - lower[i] - min_distance)
        if max_distance is not None:
            at_most(i, column, i + 1, column, lower[i] + max_distance - lower[i + 1])
    src, dst, slack = (np.concatenate([a[m] for a in arcs]) if arcs else np.zeros(0, np.int64)
                       for m in range(3))
    # an arc whose target row k + slack < 0 does not exist: rows k < -slack lie below h
    below = np.zeros(n * size, np.int64)
    np.maximum.at(below, src, -slack)
    weight[np.arange(rows) < below[:, None]] = -np.inf
    counts = None if (below >= rows).any() else min_closure(weight, (src, dst, slack))
    if counts is None:
        raise ValueError("no surface fits the band: widen band")
    return lower + counts.reshape(n, size)   # sink-side rows lie below h
