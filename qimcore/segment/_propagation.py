"""Label propagation ``P = T2 · T1 · L`` through the words of a fitted image (numba kernels).

The biadjacency matrix ``B`` of size ``N × (M^d K)`` is never built: ``T1`` (:func:`collect`) sums
the labelled pixels per (offset, word) and ``T2`` (:func:`spread`) gathers per pixel and offset
from an ``(O, C, K)`` table.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .. import _chunk


def patch_offsets(size: int, ndim: int) -> np.ndarray:
    """Offsets ``(size**ndim, ndim)`` of the pixels of a patch from its centre, C order."""
    r = size // 2
    grids = np.meshgrid(*[np.arange(-r, r + 1)] * ndim, indexing="ij")
    return np.stack([g.ravel() for g in grids], axis=1)


def pad_words(words: np.ndarray, r: int, n_words: int) -> np.ndarray:
    """Word map padded by ``r`` with the padding word ``n_words`` (zero in every table)."""
    return np.pad(words.astype(np.int32), r, mode="constant", constant_values=n_words)


def offset_flat(offsets: np.ndarray, padded_shape: tuple[int, ...]) -> np.ndarray:
    """Patch ``offsets`` as steps in the flat (C order) array of ``padded_shape``."""
    strides = np.cumprod((1,) + padded_shape[::-1])[:-1][::-1]
    return offsets @ strides


def word_counts(words: np.ndarray, size: int, n_words: int) -> np.ndarray:
    """``count[o, k]`` = number of pixels ``i`` with word ``k`` and ``i + o`` inside the image.

    Pixels are grouped by their distance to the edges per axis (``size`` states per axis); the
    valid offsets of a state are an interval, so the count is one bincount plus one small
    matrix product per axis.
    """
    r, nd = size // 2, words.ndim
    state = 0
    for axis, n in enumerate(words.shape):
        i = np.arange(n)
        s = np.where(i < r, i, np.where(i > n - 1 - r, size - n + i, r))
        state = state * size + s.reshape((-1,) + (1,) * (nd - axis - 1))
    hist = np.bincount((words.astype(np.int64) * size**nd + state).ravel(),
                       minlength=n_words * size**nd).reshape((n_words,) + (size,) * nd)
    o = np.arange(-r, r + 1)
    s = np.arange(size)
    lo = np.where(s < r, s, r)
    hi = np.where(s <= r, r, size - 1 - s)
    valid = ((o[None, :] >= -lo[:, None]) & (o[None, :] <= hi[:, None])).astype(np.float64)
    counts = hist.astype(np.float64)
    for axis in range(nd):
        counts = np.moveaxis(np.tensordot(counts, valid, axes=([axis + 1], [0])), -1, axis + 1)
    return np.ascontiguousarray(counts.reshape(n_words, -1).T)


@njit(parallel=True, cache=True)
def _collect_kernel(padded: np.ndarray, flat: np.ndarray, weights: np.ndarray,
                    offsets_flat: np.ndarray, n_words: int) -> np.ndarray:  # pragma: no cover
    """T1 numerator ``mass[o, k, c]``: sum of ``weights[i, c]`` over the labelled pixels ``j =
    flat[i]`` (indices in the flat padded word map) whose ``j - o`` has word ``k``.

    Padding has word ``n_words`` (collected in an extra row, dropped by the caller). One
    thread per offset: each writes its own ``mass[o]``, so there are no races.
    """
    n_off, n_classes = offsets_flat.shape[0], weights.shape[1]
    mass = np.zeros((n_off, n_words + 1, n_classes), np.float64)
    for o in prange(n_off):
        off = offsets_flat[o]
        for i in range(flat.shape[0]):
            w = padded[flat[i] - off]
            for c in range(n_classes):
                mass[o, w, c] += weights[i, c]
    return mass


@njit(parallel=True, cache=True)
def _spread_kernel(padded: np.ndarray, shape: np.ndarray, strides: np.ndarray,
                   offsets_flat: np.ndarray, table: np.ndarray,
                   step: int) -> np.ndarray:  # pragma: no cover
    """T2 and normalisation: ``P[c, j] ∝ sum_o table[o, word[j - o], c]`` over the pixels ``j =
    step * (z, y, x)`` for ``(z, y, x)`` in ``shape`` ``(Z, Y, X)`` (``Z = 1`` in 2D), inside the
    flat padded word map with ``strides`` ``(sz, sy)`` and pixel ``(0, 0, 0)`` at
    ``strides[2]``. ``table`` is ``(O, C, K + 1)`` with a zero entry ``K`` for the padding word.

    One thread per image row; offsets in the outer loop keep ``table[o]`` in cache.
    """
    nz, ny, nx = shape[0], shape[1], shape[2]
    n_off, n_classes = offsets_flat.shape[0], table.shape[1]
    out = np.empty((n_classes, nz * ny * nx), np.float32)
    uniform = np.float32(1.0 / n_classes)
    for row in prange(nz * ny):
        start = strides[2] + step * ((row // ny) * strides[0] + (row % ny) * strides[1])
        acc = np.zeros((n_classes, nx), np.float32)
        for o in range(n_off):
            src = start - offsets_flat[o]
            for c in range(n_classes):
                tab = table[o, c]
                for x in range(nx):
                    acc[c, x] += tab[padded[src + step * x]]
        for x in range(nx):
            total = acc[:, x].sum()
            for c in range(n_classes):
                out[c, row * nx + x] = acc[c, x] / total if total > 0 else uniform
    return out


def collect(padded: np.ndarray, flat: np.ndarray, weights: np.ndarray,
            offsets_flat: np.ndarray, n_words: int) -> np.ndarray:
    """T1 numerator ``(O, K, C)`` of the pixels ``flat`` (indices in ``padded``) with ``weights``."""
    with _chunk.KERNEL_LOCK:
        mass = _collect_kernel(padded.ravel(), flat, weights, offsets_flat, n_words)
    return mass[:, :-1]


def spread(padded: np.ndarray, table: np.ndarray, size: int, step: int = 1) -> np.ndarray:
    """Normalised T2 of a ``(O, K, C)`` table over the image whose word map is ``padded``, at
    the pixels ``[::step, ::step]`` (every axis)."""
    r = size // 2
    shape = -(-(np.array(padded.shape, np.int64) - 2 * r) // step)
    pstrides = np.cumprod((1,) + padded.shape[::-1])[:-1][::-1]
    if padded.ndim == 2:
        shape, pstrides = np.concatenate(([1], shape)), np.concatenate(([0], pstrides))
    strides = np.array([pstrides[0], pstrides[1], r * pstrides.sum()], np.int64)
    tab = np.zeros((table.shape[0], table.shape[2], table.shape[1] + 1), np.float32)
    tab[:, :, :-1] = table.transpose(0, 2, 1)
    with _chunk.KERNEL_LOCK:
        out = _spread_kernel(padded.ravel(), shape, strides,
                             offset_flat(patch_offsets(size, padded.ndim), padded.shape), tab,
                             step)
    return out.reshape((table.shape[2],) + tuple(shape[-padded.ndim:]))


def dictionary_table(mass: np.ndarray, counts: np.ndarray, weighting: str) -> np.ndarray:
    """Label probabilities ``(O, K, C)`` per (offset, word): the T1 ``mass`` divided by the
    ``counts`` of :func:`word_counts`, weighted by confidence (:func:`weight`)."""
    counts = counts[..., None]
    table = np.divide(mass, counts, out=np.zeros_like(mass), where=counts > 0)
    return weight(table, weighting).astype(np.float32)


def weight(table: np.ndarray, weighting: str) -> np.ndarray:
    """Scale each dictionary entry ``(O, K, C)`` by its confidence (entropy or two-max)."""
    if weighting == "none":
        return table
    total = table.sum(-1, keepdims=True)
    q = np.divide(table, total, out=np.zeros_like(table), where=total > 0)
    c = table.shape[-1]
    if weighting == "entropy":
        ent = -(q * np.log(np.where(q > 0, q, 1))).sum(-1, keepdims=True)
        conf = 1 - ent / math.log(c)
    else:  # "twomax"
        top = np.sort(q, axis=-1)
        conf = top[..., -1:] - top[..., -2:-1]
    return table * conf


def normalise(p: np.ndarray) -> np.ndarray:
    """Probabilities ``(C, ...)`` summing to 1 over axis 0 (uniform where all are 0)."""
    total = p.sum(0, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(total > 0, p / total, np.float32(1.0 / p.shape[0]))
    return p.astype(np.float32)
