"""Exact optimal-net detection of layered surfaces by one s-t minimum cut (PyMaxflow)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _validate

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
    ``(i, z-1, p) -> (i, z, p)`` keep each column's source set an upper interval, so each
    column is cut exactly once; the reverse arc ``(i, z, p) -> (i, z-1, p)`` carries the
    (shifted, non-negative) cost of ``heights[i][p] = z``. Smoothness uses infinite arcs
    ``(i, z, p) -> (i, z + delta, q)`` both ways, distances use ``(i+1, z, p) -> (i, z - min, p)``
    and ``(i, z, p) -> (i+1, z + max, p)``. Region costs enter as suffix sums along ``z``
    of ``region_cost[i + 1] - region_cost[i]``. Surface ``i`` can only lie in
    ``i * min_distance <= z <= Z - 1 - (n_surfaces - 1 - i) * min_distance``, so only those
    rows get nodes, re-indexed so that the distance arcs join equal rows; this keeps the
    graph at ``n_surfaces * (Z - (n_surfaces - 1) * min_distance) * prod(S)`` nodes and makes
    the max-flow of several surfaces about as fast as for one. The graph is built with
    vectorised ``add_edges`` calls.

    Capacities are float64 (``maxflow.GraphFloat``): the result is the exact minimum for
    integer-valued costs (sums below 2**53) and exact up to float64 rounding otherwise.

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
    columns = [c.astype(np.float64) for c in costs]
    if region_cost is not None:
        region = _validate.array(region_cost, "region_cost")
        if region.shape != (n + 1, depth) + cols:
            raise ValueError(f"region_cost must have shape {(n + 1, depth) + cols} "
                             f"(n_surfaces + 1, Z) + S; got {region.shape}")
        for i in range(n):
            step = np.asarray(region[i + 1], np.float64) - region[i]
            columns[i] += np.cumsum(step[::-1], axis=0)[::-1]
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
    import maxflow

    n = len(costs)
    rows, size = costs[0].shape
    lower = np.asarray(lower, np.int64)
    # Cutting column p between rows k - 1 (sink side) and k (source side) pays C(k), shifted
    # to be >= 0 per column (each column is cut once: its minimum is a constant); one finite
    # arc per column and surface is cut, so inf beats any feasible cut.
    shifted = [c - c.min(axis=0) for c in costs]
    inf = 1.0 + 2.0 * sum(float(c.max(axis=0).sum()) for c in shifted)
    n_arcs = rows * (n * size + 2 * n * sum(len(p) for p, _, _ in pairs) + 2 * (n - 1) * size)
    graph = maxflow.GraphFloat(n * rows * size, n_arcs)
    graph.add_nodes(n * rows * size)
    column = np.arange(size, dtype=np.int64)

    row = np.arange(rows, dtype=np.int64)[:, None]

    def at_most(i: int, a: np.ndarray, j: int, b: np.ndarray, slack: np.ndarray) -> None:
        """Constrain row ``k`` of surface ``j`` column ``b`` <= that of ``i``, ``a`` + slack."""
        target = row + slack                                # (rows, len(a)), all rows at once
        source_nodes = (i * rows + row) * size + a
        arc = (target >= 0) & (target < rows - 1)          # the top row is always source
        graph.add_edges(source_nodes[arc], ((j * rows + target) * size + b)[arc],
                        np.full(arc.sum(), inf), np.zeros(arc.sum()))
        never = target < 0                                 # (i, k, a) must stay on the sink side
        if never.any():
            nodes = source_nodes[never]
            graph.add_grid_tedges(nodes, np.zeros(nodes.size), np.full(nodes.size, inf))

    for i, c in enumerate(shifted):
        ids = (i * rows + np.arange(rows)[:, None]) * size + column
        source, sink = np.zeros(c.shape), np.zeros(c.shape)
        source[-1] = inf                                   # every column has a surface point
        sink[0] = c[0]                                     # lowest row: whole column source
        graph.add_grid_tedges(ids, source, sink)
        # upward infinite arcs keep the source set of a column k >= h; downward ones pay C(h)
        graph.add_edges(ids[:-1].ravel(), ids[1:].ravel(), np.full(ids[1:].size, inf),
                        c[1:].ravel())
        for p, q, d in pairs:                              # |h(p) - h(q)| <= d
            at_most(i, p, i, q, d + lower[i, p] - lower[i, q])
            at_most(i, q, i, p, d + lower[i, q] - lower[i, p])
    for i in range(n - 1):                                 # min <= h(i+1) - h(i) <= max
        at_most(i + 1, column, i, column, lower[i + 1] - lower[i] - min_distance)
        if max_distance is not None:
            at_most(i, column, i + 1, column, lower[i] + max_distance - lower[i + 1])
    if graph.maxflow() >= inf:
        raise ValueError("no surface fits the band: widen band")
    ids = np.arange(n * rows * size, dtype=np.int64).reshape(n, rows, size)
    return lower + graph.get_grid_segments(ids).sum(axis=1)   # sink-side rows lie below h
