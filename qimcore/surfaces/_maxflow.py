"""Minimum closed set of a layered graph with implicit arcs (Boykov-Kolmogorov max-flow).

The graphs of :mod:`qimcore.surfaces` have the same arcs in every row: node ``(c, k)`` (column
``c``, row ``k`` of ``R``) has an infinite arc up its column, ``(c, k) -> (c, k + 1)``, and one
infinite arc ``(c, k) -> (c', k + slack)`` per *column arc* ``(c, c', slack)``; all finite
capacities are terminal arcs. Only the column arcs (one per pair of columns, not per node) and
one flow per node and arc are stored: the solver takes about 35 bytes per node for one terrain
surface and 72 for two, against 400-450 for slgbuilder's explicit PyMaxflow graph
(``benchmarks/bench_surfaces.py``). The forward residual of an infinite arc is infinite; its
reverse residual is the flow it carries.

The max-flow is the augmenting-tree algorithm of Boykov & Kolmogorov (IEEE TPAMI 26(9), 2004),
written for these implicit arcs, after a greedy flow that pairs the sources and sinks of each
column along its own arcs.
"""

from __future__ import annotations

import numpy as np
from numba import njit

FREE, SOURCE, SINK = 0, 1, 2
NONE, TERMINAL, ORPHAN = -1, -2, -3
FAR = np.int32(2**30)  # distance of a node cut off from its terminal
DMAX = 32767  # largest stored distance (int16)


def min_closure(weight: np.ndarray, arcs: tuple[np.ndarray, np.ndarray, np.ndarray]
                ) -> np.ndarray | None:
    """Nodes of a minimum-weight closed set of a layered graph.

    Parameters
    ----------
    weight : (C, R) C-contiguous ndarray of float64
        Weight of putting node ``(c, k)`` on the *sink* side. ``+inf`` forces the node to the
        source side (e.g. the top row), ``-inf`` to the sink side. Overwritten (it holds the
        residual terminal capacities afterwards): the solver keeps no copy.
    arcs : tuple of three (E,) int arrays
        Column arcs ``(c, c2, slack)``: node ``(c, k)`` on the source side forces
        ``(c2, k + slack)`` to the source side (arcs leaving the rows are dropped: a target
        at or above the top row is free, one below row 0 must be forced by ``weight``).
        Every column also has its arcs ``(c, k) -> (c, k + 1)``.

    Returns
    -------
    (C,) ndarray of int64 or None
        Number of sink-side nodes of each column (they are the rows ``k < count``), or None if
        every cut is infinite (no closed set has a finite weight).
    """
    if weight.dtype != np.float64 or not weight.flags.c_contiguous:
        raise TypeError("weight must be a C-contiguous float64 array")
    n_cols, rows = weight.shape
    start, table = _arc_table(n_cols, rows, *(np.asarray(a, np.int64) for a in arcs))
    tree = np.zeros(n_cols * rows, np.int8)
    flow = np.zeros((n_cols + len(table)) * rows, np.float64)
    ok = _maxflow(weight.reshape(-1), flow, rows, start, table, tree)
    if not ok:
        return None
    return (tree.reshape(n_cols, rows) == SINK).sum(axis=1)


NB, FLOW, KMIN, KMAX, DIR, REV = range(6)  # fields of a row of the arc table


def _arc_table(n_cols: int, rows: int, src: np.ndarray, dst: np.ndarray, slack: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """The arcs of every column as rows of a table, valid for all rows ``k`` of the column.

    Column ``c`` owns rows ``start[c]:start[c + 1]``: its arc up, its arc down, its column
    arcs out, its column arcs in. For node ``(c, k)`` and its arc ``e``: the neighbour is node
    ``k + table[e, NB]``, the flow sits at ``k + table[e, FLOW]``, the arc exists for
    ``table[e, KMIN] <= k <= table[e, KMAX]``, ``table[e, DIR]`` is +1 if the node -> neighbour
    direction is the infinite one (else -1) and ``table[e, REV]`` is the arc's index among the
    neighbour's arcs. Flows: ``c * rows + k`` for the arcs up, then one block of ``rows`` per
    column arc.
    """
    keep = (slack <= rows - 2) & (slack >= 1 - rows)          # some row has its target inside
    order = np.flatnonzero(keep)[np.argsort(src[keep], kind="stable")]
    src, dst, slack = src[order], dst[order], slack[order]
    n_out = np.bincount(src, minlength=n_cols)
    in_order = np.argsort(dst, kind="stable")
    n_in = np.bincount(dst, minlength=n_cols)
    start = np.concatenate(([0], np.cumsum(2 + n_out + n_in)))
    out_first = start[:-1] + 2                                # table row of the first arc out
    in_first = out_first + n_out
    out_local = np.arange(len(src)) - (np.cumsum(n_out) - n_out)[src]
    in_local = np.empty(len(dst), np.int64)                   # position in dst's in-list
    in_local[in_order] = np.arange(len(dst)) - (np.cumsum(n_in) - n_in)[dst[in_order]]
    small = (n_cols + len(src)) * rows < 2**31                # int32 indices suffice
    table = np.empty((start[-1], 6), np.int32 if small else np.int64)
    col = np.arange(n_cols) * rows
    table[start[:-1]] = np.stack([col + 1, col, np.zeros(n_cols), np.full(n_cols, rows - 2),
                                  np.ones(n_cols), np.ones(n_cols)], axis=1)
    table[start[:-1] + 1] = np.stack([col - 1, col - 1, np.ones(n_cols),
                                      np.full(n_cols, rows - 1), -np.ones(n_cols),
                                      np.zeros(n_cols)], axis=1)
    arc_flow = (n_cols + np.arange(len(src))) * rows
    table[out_first[src] + out_local] = np.stack([
        dst * rows + slack, arc_flow, np.maximum(0, -slack), np.minimum(rows - 1, rows - 2 - slack),
        np.ones(len(src)), 2 + n_out[dst] + in_local], axis=1)
    table[in_first[dst] + in_local] = np.stack([
        src * rows - slack, arc_flow - slack, np.maximum(0, slack),
        np.minimum(rows - 2, rows - 1 + slack), -np.ones(len(src)), 2 + out_local], axis=1)
    return start, table


@njit(cache=True, inline="always")
def _arc(table, e, k):  # pragma: no cover
    """Arc ``e`` of a node in row ``k``: (neighbour or -1, flow index, direction)."""
    if k < table[e, KMIN] or k > table[e, KMAX]:
        return -1, 0, 0
    return k + table[e, NB], k + table[e, FLOW], table[e, DIR]


@njit(cache=True)
def _column_flow(cap, flow, rows, n_cols):  # pragma: no cover
    """Pair each sink node with the sources below it in its column (nearest first).

    Pushes the flow along the column's own arcs ``(c, k) -> (c, k + 1)`` (their flows are the
    first ``n_cols * rows`` entries of ``flow``) and lowers the terminal residuals ``cap``.
    """
    stack_row = np.empty(rows, np.int64)
    diff = np.zeros(rows, np.float64)
    for c in range(n_cols):
        base = c * rows
        top = 0
        diff[:] = 0.0
        for k in range(rows):
            w = cap[base + k]
            if w > 0:
                stack_row[top] = k
                top += 1
            elif w < 0:
                while top > 0 and cap[base + k] < 0:
                    k1 = stack_row[top - 1]
                    m = min(cap[base + k1], -cap[base + k])
                    if m == np.inf:  # forced source below a forced sink: left to the max-flow
                        break
                    cap[base + k1] -= m
                    cap[base + k] += m
                    diff[k1] += m
                    diff[k] -= m
                    if cap[base + k1] <= 0:
                        top -= 1
        run = 0.0
        for k in range(rows - 1):
            run += diff[k]
            flow[base + k] = run


@njit(cache=True, inline="always")
def _parent_arc(table, start, rows, v, a):  # pragma: no cover
    """Arc ``a`` of node ``v`` (any row): (neighbour or -1, flow index, direction)."""
    c = v // rows
    return _arc(table, start[c] + a, v - c * rows)


@njit(cache=True)
def _push(buf, head, count, x):  # pragma: no cover
    """Append ``x`` to the circular FIFO ``buf[head:head + count]``, doubling it when full."""
    size = buf.shape[0]
    if count == size:
        grown = np.empty(2 * size, buf.dtype)
        grown[:size - head] = buf[head:]
        grown[size - head:size] = buf[:head]
        buf, head, size = grown, 0, 2 * size
    tail = head + count
    buf[tail - size if tail >= size else tail] = x
    return buf, head, count + 1


@njit(cache=True)
def _maxflow(cap, flow, rows, start, table, tree):  # pragma: no cover
    """Boykov-Kolmogorov max-flow; ``cap`` = source (>0) or sink (<0) residual per node.

    Leaves ``tree`` = FREE/SOURCE/SINK per node; returns False for an infinite flow.
    """
    n_cols = len(start) - 1
    n = n_cols * rows
    _column_flow(cap, flow, rows, n_cols)
    parent = np.full(n, NONE, np.int16)
    ts = np.zeros(n, np.int32)
    dist = np.zeros(n, np.int16)  # a heuristic: saturates at DMAX
    queue = np.empty(np.count_nonzero(cap) + n // 64 + 16, np.int32)  # FIFO of active nodes; grows
    queued = np.zeros(n, np.bool_)
    orphans = np.empty(n // 64 + 16, np.int32)  # FIFO of orphans; grows
    head = 0
    size = 0
    for v in range(n):
        if cap[v] != 0:
            tree[v] = SOURCE if cap[v] > 0 else SINK
            parent[v] = TERMINAL
            dist[v] = 1
            queue, head, size = _push(queue, head, size, v)
            queued[v] = True
    time = 0
    current = -1
    while True:
        # ---- grow the trees from the next active node until they touch
        if current >= 0 and tree[current] == FREE:
            current = -1
        while current < 0 and size > 0:
            v = queue[head]
            head = head + 1 if head + 1 < queue.shape[0] else 0
            size -= 1
            queued[v] = False
            if tree[v] != FREE:
                current = v
        if current < 0:
            break
        v = current
        c = v // rows
        k = v - c * rows
        tv = tree[v]
        meet = -1
        for e in range(start[c], start[c + 1]):
            u, f, d = _arc(table, e, k)
            if u < 0:
                continue
            if tv == SOURCE:
                res = np.inf if d == 1 else flow[f]  # v -> u
            else:
                res = flow[f] if d == 1 else np.inf  # u -> v
            if res <= 0:
                continue
            tu = tree[u]
            if tu == FREE:
                tree[u] = tv
                parent[u] = table[e, REV]
                ts[u] = ts[v]
                dist[u] = min(dist[v] + 1, DMAX)
                if not queued[u]:
                    queue, head, size = _push(queue, head, size, u)
                    queued[u] = True
            elif tu != tv:
                meet = e
                break
            elif ts[u] <= ts[v] and dist[u] > dist[v]:
                parent[u] = table[e, REV]
                ts[u] = ts[v]
                dist[u] = min(dist[v] + 1, DMAX)
        if meet < 0:
            current = -1
            continue
        time += 1
        # ---- bottleneck of the path source -> ... -> v -- u -> ... -> sink (or reversed)
        u, f, d = _arc(table, meet, k)
        forward = tv == SOURCE  # the meeting arc carries v -> u, else u -> v
        meet_s, meet_t = (v, u) if forward else (u, v)
        if forward:
            bottleneck = np.inf if d == 1 else flow[f]
        else:
            bottleneck = flow[f] if d == 1 else np.inf
        for side in (SOURCE, SINK):
            x = meet_s if side == SOURCE else meet_t
            while parent[x] != TERMINAL:
                y, g, e = _parent_arc(table, start, rows, x, parent[x])
                # source side: flow y -> x against the infinite x -> y; sink side: mirrored
                if e == (1 if side == SOURCE else -1):
                    bottleneck = min(bottleneck, flow[g])
                x = y
            bottleneck = min(bottleneck, cap[x] if side == SOURCE else -cap[x])
        if bottleneck == np.inf:
            return False
        # ---- augment; saturated tree arcs make orphans
        flow[f] += bottleneck if (d == 1) == forward else -bottleneck
        n_orphans = 0
        o_head = 0
        for side in (SOURCE, SINK):
            x = meet_s if side == SOURCE else meet_t
            against = 1 if side == SOURCE else -1
            while True:
                if parent[x] == TERMINAL:
                    cap[x] += -bottleneck if side == SOURCE else bottleneck
                    if (cap[x] <= 0) if side == SOURCE else (cap[x] >= 0):
                        cap[x] = 0.0
                        parent[x] = ORPHAN
                        orphans, o_head, n_orphans = _push(orphans, o_head, n_orphans, x)
                    break
                y, g, e = _parent_arc(table, start, rows, x, parent[x])
                if e == against:
                    flow[g] -= bottleneck
                    if flow[g] <= 0:
                        parent[x] = ORPHAN
                        orphans, o_head, n_orphans = _push(orphans, o_head, n_orphans, x)
                else:
                    flow[g] += bottleneck
                x = y
        # ---- adopt the orphans
        while n_orphans > 0:
            x = orphans[o_head]
            o_head = o_head + 1 if o_head + 1 < orphans.shape[0] else 0
            n_orphans -= 1
            tx = tree[x]
            c = x // rows
            kx = x - c * rows
            best = NONE
            best_d = FAR
            for e in range(start[c], start[c + 1]):
                y, g, dy = _arc(table, e, kx)
                if y < 0 or tree[y] != tx:
                    continue
                if tx == SOURCE:
                    res = flow[g] if dy == 1 else np.inf  # y -> x
                else:
                    res = np.inf if dy == 1 else flow[g]  # x -> y
                if res <= 0:
                    continue
                # distance of y to its terminal (FAR if it hangs on an orphan)
                z = y
                dd = 0
                while True:
                    if ts[z] == time:
                        dd += dist[z]
                        break
                    pz = parent[z]
                    dd += 1
                    if pz == TERMINAL:
                        ts[z] = time
                        dist[z] = 1
                        break
                    if pz < 0:
                        dd = FAR
                        break
                    z = _parent_arc(table, start, rows, z, pz)[0]
                if dd < FAR:
                    if dd < best_d:
                        best = e - start[c]
                        best_d = dd
                    z = y
                    while ts[z] != time:
                        ts[z] = time
                        dist[z] = min(dd, DMAX)
                        dd -= 1
                        z = _parent_arc(table, start, rows, z, parent[z])[0]
            if best != NONE:
                parent[x] = best
                ts[x] = time
                dist[x] = min(best_d + 1, DMAX)
                continue
            # no parent: x becomes free; its children become orphans, its neighbours active
            for e in range(start[c], start[c + 1]):
                y, g, dy = _arc(table, e, kx)
                if y < 0 or tree[y] != tx:
                    continue
                if tx == SOURCE:
                    res = flow[g] if dy == 1 else np.inf
                else:
                    res = np.inf if dy == 1 else flow[g]
                if res > 0 and not queued[y]:
                    queue, head, size = _push(queue, head, size, y)
                    queued[y] = True
                if parent[y] == table[e, REV]:
                    parent[y] = ORPHAN
                    orphans, o_head, n_orphans = _push(orphans, o_head, n_orphans, y)
            tree[x] = FREE
            parent[x] = NONE
    return True
