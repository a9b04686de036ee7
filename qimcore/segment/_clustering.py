"""Clustering of feature rows into words: k-means (scikit-learn) or a hierarchical k-means tree."""

from __future__ import annotations

from typing import Any

import numpy as np

BLOCK = 1 << 22  # entries of a (rows x words) distance block in the nearest-word search


def kmeans(samples: np.ndarray, k: int, random_state: Any) -> np.ndarray:
    """``k`` centres ``(k, dim)`` of ``samples``: scikit-learn ``KMeans`` (full-batch Lloyd),
    one random initialisation, 10 iterations."""
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=k, n_init=1, max_iter=10, init="random", random_state=random_state)
    return km.fit(samples).cluster_centers_.astype(np.float32)


def nearest(x: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Index of the nearest row of ``centers`` ``(k, dim)`` for each row of ``x`` ``(n, dim)``.

    ``||x - c||² = ||x||² - 2 x·c + ||c||²``: one float32 matrix product per block of rows.
    """
    sq = (centers * centers).sum(-1)
    out = np.empty(len(x), np.int64)
    step = max(1, BLOCK // len(centers))
    for a in range(0, len(x), step):
        d = x[a:a + step] @ centers.T
        d *= -2
        d += sq
        out[a:a + step] = np.argmin(d, axis=1)
    return out


def tree_descend(x: np.ndarray, centers: np.ndarray, node: np.ndarray) -> np.ndarray:
    """Index of the nearest child (among ``centers[node]``) of each row of ``x``.

    Rows are grouped by node, so each group is one small matrix product.
    """
    out = np.empty(len(x), np.int64)
    order = np.argsort(node, kind="stable")
    bounds = np.searchsorted(node[order], np.arange(len(centers) + 1))
    for g in np.flatnonzero(np.diff(bounds)):
        rows = order[bounds[g]:bounds[g + 1]]
        out[rows] = nearest(x[rows], centers[g])
    return out


def kmtree(samples: np.ndarray, branching: int, n_layers: int, random_state: Any,
           n_iter: int = 10) -> tuple[np.ndarray, ...]:
    """Hierarchical k-means: per layer an array ``(n_nodes, branching, dim)`` of child centres.

    All nodes of a layer are clustered together: Lloyd iterations where each sample only
    competes among the children of its own node.
    """
    rng = np.random.default_rng(random_state)
    n, dim = samples.shape
    node = np.zeros(n, np.int64)
    layers = []
    for layer in range(n_layers):
        n_nodes = branching**layer
        # initial centres: random members of each node (repeated when a node is small)
        order = np.lexsort((rng.random(n), node))
        start = np.searchsorted(node[order], np.arange(n_nodes))
        size = np.bincount(node, minlength=n_nodes)
        pick = start[:, None] + np.arange(branching)[None, :] % np.maximum(size, 1)[:, None]
        centers = samples[order[np.minimum(pick, n - 1)]].astype(np.float32)
        for _ in range(n_iter):
            child = node * branching + tree_descend(samples, centers, node)
            count = np.bincount(child, minlength=n_nodes * branching)
            sums = np.stack([np.bincount(child, samples[:, d], n_nodes * branching)
                             for d in range(dim)], axis=1)
            keep = count > 0
            flat = centers.reshape(-1, dim)
            flat[keep] = sums[keep] / count[keep, None]
        layers.append(centers)
        node = node * branching + tree_descend(samples, centers, node)
    return tuple(layers)


def tree_assign(x: np.ndarray, tree: tuple[np.ndarray, ...]) -> np.ndarray:
    """Leaf of each row of ``x`` by greedy descent of the ``tree`` of :func:`kmtree`."""
    node = np.zeros(len(x), np.int64)
    for centers in tree:
        node = node * centers.shape[1] + tree_descend(x, centers, node)
    return node
