"""The implicit layered max-flow: minimum closed sets against brute force and PyMaxflow."""

import itertools

import numpy as np
import pytest

from qimcore.surfaces._maxflow import _push, min_closure


def closure_weight(weight, arcs, sink_rows):
    """Weight of the sink side ``k < sink_rows[c]``, or None if it is not closed."""
    n_cols, rows = weight.shape
    sink = np.arange(rows)[None, :] < np.asarray(sink_rows)[:, None]
    for c, c2, s in zip(*arcs):
        for k in range(rows):
            t = k + s
            if sink[c, k]:
                continue
            if t < 0:
                return None                       # source node whose target leaves the rows
            if t < rows and sink[c2, t]:
                return None
    if np.isposinf(weight[sink]).any() or np.isneginf(weight[~sink]).any():
        return None                               # +inf: source side, -inf: sink side
    return weight[sink & np.isfinite(weight)].sum()


def brute_force(weight, arcs):
    n_cols, rows = weight.shape
    best = None
    for counts in itertools.product(range(rows + 1), repeat=n_cols):
        w = closure_weight(weight, arcs, counts)
        if w is not None and (best is None or w < best):
            best = w
    return best


def random_problem(rng, n_cols, rows, n_arcs, integer=True):
    weight = rng.integers(-9, 10, (n_cols, rows)).astype(float)
    if not integer:
        weight += rng.random((n_cols, rows))
    weight[:, -1] = np.inf                        # the top row is on the source side
    src = rng.integers(0, n_cols, n_arcs)
    dst = rng.integers(0, n_cols, n_arcs)
    slack = rng.integers(-2, 3, n_arcs)
    for c, s in zip(src, slack):                  # rows whose target leaves row 0: sink side
        weight[c, :max(0, -s)] = -np.inf
    return weight, (src, dst, slack)


@pytest.mark.parametrize("seed", range(40))
def test_minimum_closed_set_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    n_cols, rows = int(rng.integers(1, 4)), int(rng.integers(2, 5))
    weight, arcs = random_problem(rng, n_cols, rows, int(rng.integers(0, 6)), integer=seed % 2 == 0)
    best = brute_force(weight, arcs)
    counts = min_closure(weight.copy(), arcs)
    if best is None:
        assert counts is None
    else:
        assert counts is not None
        assert closure_weight(weight, arcs, counts) == pytest.approx(best, abs=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_minimum_cut_equals_pymaxflow_on_larger_graphs(seed):
    """Same minimum as an explicit graph cut (PyMaxflow) on 40 x 30 layered graphs."""
    maxflow = pytest.importorskip("maxflow")
    rng = np.random.default_rng(seed)
    n_cols, rows = 40, 30
    weight = rng.integers(-50, 51, (n_cols, rows)).astype(float)
    weight[:, -1] = np.inf
    src = np.repeat(np.arange(n_cols), 3)
    dst = (src + rng.integers(1, n_cols, src.size)) % n_cols
    slack = rng.integers(0, 4, src.size)
    counts = min_closure(weight.copy(), (src, dst, slack))
    graph = maxflow.GraphFloat()
    ids = graph.add_grid_nodes((n_cols, rows))
    big = 1e9
    finite = np.where(np.isinf(weight), big, weight)
    graph.add_grid_tedges(ids, np.maximum(finite, 0), np.maximum(-finite, 0))
    for c in range(n_cols):
        for k in range(rows - 1):
            graph.add_edge(ids[c, k], ids[c, k + 1], big, 0)
    for c, c2, s in zip(src, dst, slack):
        for k in range(rows):
            if 0 <= k + s < rows:
                graph.add_edge(ids[c, k], ids[c2, k + s], big, 0)
    cut = graph.maxflow() + np.minimum(finite, 0).sum()
    assert closure_weight(weight, (src, dst, slack), counts) == pytest.approx(cut)


def test_infinite_cut_returns_none():
    weight = np.array([[np.inf, np.inf], [-np.inf, np.inf]])
    assert min_closure(weight.copy(), (np.array([0]), np.array([1]), np.array([0]))) is None
    # the same arc from the sink-forced column is satisfiable
    assert min_closure(weight.copy(), (np.array([1]), np.array([0]), np.array([0]))).tolist() == [0, 1]


def test_orphan_queue_grows_and_keeps_fifo_order():
    buf, head, count = np.array([7, 5], np.int32), 1, 1          # holds [5], wrapped
    for x in (1, 2, 3, 4):
        buf, head, count = _push(buf, head, count, x)
    assert [buf[(head + i) % len(buf)] for i in range(count)] == [5, 1, 2, 3, 4]
