"""Dictionary-diffusion segmentation: propagate sparse scribbles through a dictionary of patches.

Every pixel (voxel) gets the *word* of the ``M×M`` (``M×M×M``) patch centred on it; a word is a
cluster of similar patches. User labels are collected per (word, offset within the patch) and spread
back to every pixel covered by a patch with that word: ``P = T2 · T1 · L`` (Dahl et al., 2020).
The biadjacency matrix ``B`` of size ``N × (M^d K)`` is never built: ``T1`` sums the labelled
pixels per (offset, word) and ``T2`` gathers per pixel and offset from an ``(O, C, K)`` table;
both are numba kernels.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import dask.array as da
import numpy as np
from numba import njit, prange
from scipy import ndimage as ndi
from tqdm.auto import tqdm

from . import _chunk, _validate

__all__ = ["DictionarySegmenter", "segment", "load_scribbles", "save_scribbles"]

_SLAB = 1 << 21  # pixels per slab of features (bounded memory)
_BLOCK = 1 << 22  # entries of a (rows x words) distance block in the nearest-word search


# ----------------------------------------------------------------------------- features
def _dct_basis(size: int, n: int) -> np.ndarray:
    """First ``n`` orthonormal DCT-II vectors of length ``size``, shape ``(n, size)``."""
    t = np.arange(size) + 0.5
    basis = np.stack([np.cos(np.pi * k * t / size) for k in range(n)])
    return (basis / np.linalg.norm(basis, axis=1, keepdims=True)).astype(np.float32)


def _patch_features(x: np.ndarray, size: int, n_basis: int) -> np.ndarray:
    """Project the patch around every pixel on a separable DCT basis: ``(n_basis**d,) + x.shape``.

    With ``n_basis == size`` this is an orthonormal change of basis of the full patch, so
    distances between patches are exact; smaller ``n_basis`` keeps the low frequencies.
    """
    basis = _dct_basis(size, n_basis)
    stack = [x]
    for axis in range(x.ndim):
        stack = [ndi.correlate1d(s, b, axis=axis, mode="reflect") for s in stack for b in basis]
    return np.stack(stack)


def _gaussian_features(x: np.ndarray, sigmas: tuple[float, ...]) -> np.ndarray:
    """Smoothed intensity, gradient magnitude and Laplacian (scale-normalised) per sigma."""
    out = []
    for s in sigmas:
        out.append(ndi.gaussian_filter(x, s, mode="reflect"))
        grad = np.zeros_like(x)
        lap = np.zeros_like(x)
        for axis in range(x.ndim):
            order = [0] * x.ndim
            order[axis] = 1
            grad += ndi.gaussian_filter(x, s, order=order, mode="reflect") ** 2
            order[axis] = 2
            lap += ndi.gaussian_filter(x, s, order=order, mode="reflect")
        out.append(np.sqrt(grad) * s)
        out.append(lap * s * s)
    return np.stack(out)


# ----------------------------------------------------------------------------- clustering
def _kmeans(samples: np.ndarray, k: int, random_state: Any):
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=1, max_iter=10, init="random",
                  random_state=random_state).fit(samples)


def _nearest(x: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Index of the nearest row of ``centers`` ``(k, dim)`` for each row of ``x`` ``(n, dim)``.

    ``||x - c||² = ||x||² - 2 x·c + ||c||²``: one float32 matrix product per block of rows.
    """
    sq = (centers * centers).sum(-1)
    out = np.empty(len(x), np.int64)
    step = max(1, _BLOCK // len(centers))
    for a in range(0, len(x), step):
        d = x[a:a + step] @ centers.T
        d *= -2
        d += sq
        out[a:a + step] = np.argmin(d, axis=1)
    return out


def _tree_descend(x: np.ndarray, centers: np.ndarray, node: np.ndarray) -> np.ndarray:
    """Index of the nearest child (among ``centers[node]``) of each row of ``x``.

    Rows are grouped by node, so each group is one small matrix product.
    """
    out = np.empty(len(x), np.int64)
    order = np.argsort(node, kind="stable")
    bounds = np.searchsorted(node[order], np.arange(len(centers) + 1))
    for g in np.flatnonzero(np.diff(bounds)):
        rows = order[bounds[g]:bounds[g + 1]]
        out[rows] = _nearest(x[rows], centers[g])
    return out


def _kmtree(samples: np.ndarray, branching: int, n_layers: int, random_state: Any,
            n_iter: int = 10) -> list:
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
            child = node * branching + _tree_descend(samples, centers, node)
            count = np.bincount(child, minlength=n_nodes * branching)
            sums = np.stack([np.bincount(child, samples[:, d], n_nodes * branching)
                             for d in range(dim)], axis=1)
            keep = count > 0
            flat = centers.reshape(-1, dim)
            flat[keep] = sums[keep] / count[keep, None]
        layers.append(centers)
        node = node * branching + _tree_descend(samples, centers, node)
    return layers


def _assign(feats: np.ndarray, model: dict) -> np.ndarray:
    """Word of each row of ``feats`` ``(n, dim)``: nearest centre, or greedy descent of the tree."""
    feats = np.ascontiguousarray(feats, dtype=np.float32)
    if model["method"] == "kmeans":
        return _nearest(feats, model["centers"]).astype(np.int32)
    node = np.zeros(len(feats), np.int64)
    for centers in model["tree"]:
        node = node * centers.shape[1] + _tree_descend(feats, centers, node)
    return node.astype(np.int32)


# ----------------------------------------------------------------------------- propagation
def _offsets(size: int, ndim: int) -> np.ndarray:
    r = size // 2
    grids = np.meshgrid(*[np.arange(-r, r + 1)] * ndim, indexing="ij")
    return np.stack([g.ravel() for g in grids], axis=1)


def _pad_words(words: np.ndarray, r: int, n_words: int) -> np.ndarray:
    """Word map padded by ``r`` with the padding word ``n_words`` (zero in every table)."""
    return np.pad(words.astype(np.int32), r, mode="constant", constant_values=n_words)


def _offset_flat(offsets: np.ndarray, padded_shape: tuple[int, ...]) -> np.ndarray:
    strides = np.cumprod((1,) + padded_shape[::-1])[:-1][::-1]
    return offsets @ strides


def _word_counts(words: np.ndarray, size: int, n_words: int) -> np.ndarray:
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
                   offsets_flat: np.ndarray, table: np.ndarray) -> np.ndarray:  # pragma: no cover
    """T2 and normalisation: ``P[c, j] ∝ sum_o table[o, word[j - o], c]`` over the pixels ``j`` of
    the image of ``shape`` ``(Z, Y, X)`` (``Z = 1`` in 2D) inside the flat padded word map with
    ``strides`` ``(sz, sy)`` and pixel ``(0, 0, 0)`` at ``strides[2]``. ``table`` is
    ``(O, C, K + 1)`` with a zero entry ``K`` for the padding word.

    One thread per image row; offsets in the outer loop keep ``table[o]`` in cache.
    """
    nz, ny, nx = shape[0], shape[1], shape[2]
    n_off, n_classes = offsets_flat.shape[0], table.shape[1]
    out = np.empty((n_classes, nz * ny * nx), np.float32)
    uniform = np.float32(1.0 / n_classes)
    for row in prange(nz * ny):
        start = strides[2] + (row // ny) * strides[0] + (row % ny) * strides[1]
        acc = np.zeros((n_classes, nx), np.float32)
        for o in range(n_off):
            src = start - offsets_flat[o]
            for c in range(n_classes):
                tab = table[o, c]
                for x in range(nx):
                    acc[c, x] += tab[padded[src + x]]
        for x in range(nx):
            total = acc[:, x].sum()
            for c in range(n_classes):
                out[c, row * nx + x] = acc[c, x] / total if total > 0 else uniform
    return out


def _collect(scale: dict, flat: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """T1 numerator ``(O, K, C)`` of the pixels ``flat`` (padded indices) with ``weights``."""
    with _chunk.KERNEL_LOCK:
        mass = _collect_kernel(scale["padded"].ravel(), flat, weights, scale["offsets_flat"],
                               scale["n_words"])
    return mass[:, :-1]


def _spread(padded: np.ndarray, table: np.ndarray, size: int) -> np.ndarray:
    """Normalised T2 of a ``(O, K, C)`` table over the image whose word map is ``padded``."""
    r = size // 2
    shape = np.array(padded.shape, np.int64) - 2 * r
    pstrides = np.cumprod((1,) + padded.shape[::-1])[:-1][::-1]
    if padded.ndim == 2:
        shape, pstrides = np.concatenate(([1], shape)), np.concatenate(([0], pstrides))
    strides = np.array([pstrides[0], pstrides[1], r * pstrides.sum()], np.int64)
    tab = np.zeros((table.shape[0], table.shape[2], table.shape[1] + 1), np.float32)
    tab[:, :, :-1] = table.transpose(0, 2, 1)
    with _chunk.KERNEL_LOCK:
        out = _spread_kernel(padded.ravel(), shape, strides,
                             _offset_flat(_offsets(size, padded.ndim), padded.shape), tab)
    return out.reshape((table.shape[2],) + tuple(shape[-padded.ndim:]))


def _weight(table: np.ndarray, weighting: str) -> np.ndarray:
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


def _normalise(p: np.ndarray) -> np.ndarray:
    total = p.sum(0, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(total > 0, p / total, np.float32(1.0 / p.shape[0]))
    return p.astype(np.float32)


# ----------------------------------------------------------------------------- the segmenter
class DictionarySegmenter:
    """Interactive segmentation by propagating labels through a dictionary of image patches.

    Parameters
    ----------
    patch_size : int or tuple of int
        Odd patch side ``M`` (pixels); a tuple of sizes gives a multiscale model whose
        probabilities are averaged over the sizes.
    n_words : int
        Dictionary size ``K`` (for ``method="kmtree"`` rounded to ``branching ** n_layers``).
    method : {"kmeans", "kmtree"}
        ``"kmeans"``: mini-batch k-means, exact nearest word. ``"kmtree"``: hierarchical k-means
        tree with greedy assignment (much faster for large ``K``).
    features : {"intensity", "gaussian"}
        ``"intensity"``: the patch of intensities (projected on ``n_basis`` separable DCT
        functions per axis). ``"gaussian"``: per-pixel Gaussian derivative features at ``sigmas``.
    sigmas : tuple of float
        Gaussian scales (pixels) for ``features="gaussian"``.
    random_state : int, optional
        Seed for ``numpy.random.default_rng`` (sampling and clustering).
    n_basis : int, optional
        DCT functions per axis for intensity patches; ``None`` = 4 in 2D, 3 in 3D (``M`` keeps the
        whole patch).
    n_samples : int
        Patches sampled for clustering (all pixels are assigned afterwards).
    branching : int
        Branching factor of the k-means tree.
    steps : int
        1 = one-step propagation ``T2 T1 L``; 2 = two-step (the result is propagated once more).
    overwrite : bool
        Labelled pixels keep their label (probability 1).
    smooth : float
        Gaussian sigma (pixels) regularising the probabilities; 0 = none.
    weighting : {"none", "entropy", "twomax"}
        Weight each dictionary entry by its confidence (1 - normalised entropy, or the
        difference of its two largest class probabilities).
    progress : bool
        Show progress bars on ``fit`` and ``predict_proba``.

    Attributes
    ----------
    words_ : ndarray of int32, shape ``image.shape`` (or ``(n_scales,) + image.shape``)
        Word of every pixel of the fitted image.
    centers_ : ndarray of float32, shape ``(K, dim)`` (or a list, one per scale)
        The dictionary (cluster centres in feature space; tree leaves for ``"kmtree"``).
    dictionary_probabilities_ : list of ndarray ``(K, M**d, C)``
        Label probabilities per (word, offset) from the last :meth:`propagate`.
    probabilities_ : ndarray of float32 ``(C,) + image.shape``
        Result of the last :meth:`propagate`.

    Notes
    -----
    ``propagate`` costs one pass over the labelled pixels per offset (T1) and ``N · M^d · C``
    table look-ups (T2, about 1 ns each), numba kernels parallel over offsets and image rows.
    CPU time of one ``propagate`` (divide by the number of cores for the wall time): 1024²,
    ``M = 9``, ``K = 1000``: 0.23 s. In 3D the patch has ``M³`` offsets (729 for ``M = 9``); on
    the 128³ nerves volume ``M = 5``: 0.6 s, ``M = 7``: 1.7 s, ``M = 9``: 3.6 s. Use
    ``patch_size=5`` (or 7) for interactive work on volumes; the default 9 suits 2D images.

    References
    ----------
    A. B. Dahl, P. Emerson, C. Trinderup, V. A. Dahl, "Content-based propagation of user markings
    for interactive segmentation of patterned images", CVPR Workshops 2020.

    Examples
    --------
    >>> image = np.zeros((20, 21), np.float32); image[:, ::2] = 1; image[10:, :] = 0.5
    >>> labels = np.zeros(image.shape, np.uint8); labels[2, 3] = 1; labels[15, 4] = 2
    >>> seg = DictionarySegmenter(patch_size=3, n_words=4).fit(image)
    >>> prob = seg.propagate(labels)
    >>> prob.shape, prob.dtype.name
    ((2, 20, 21), 'float32')
    >>> seg.predict()[[5, 15], 10].tolist()
    [1, 2]
    """

    def __init__(self, patch_size: int | tuple[int, ...] = 9, n_words: int = 1000,
                 method: str = "kmeans", features: str = "intensity",
                 sigmas: tuple[float, ...] = (1, 2, 4), random_state: int | None = 0, *,
                 n_basis: int | None = None, n_samples: int = 20_000, branching: int = 10,
                 steps: int = 1, overwrite: bool = True, smooth: float = 0.0,
                 weighting: str = "none", progress: bool = False) -> None:
        self.patch_size = patch_size
        self.n_words = n_words
        self.method = method
        self.features = features
        self.sigmas = sigmas
        self.random_state = random_state
        self.n_basis = n_basis
        self.n_samples = n_samples
        self.branching = branching
        self.steps = steps
        self.overwrite = overwrite
        self.smooth = smooth
        self.weighting = weighting
        self.progress = progress

    # -- checks
    def _sizes(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        sizes = (self.patch_size,) if np.isscalar(self.patch_size) else tuple(self.patch_size)
        for m in sizes:
            _validate.positive(m, "patch_size", integer=True)
            if m % 2 == 0:
                raise ValueError(f"patch_size must be odd, got {m}")
            if m > min(shape):
                raise ValueError(f"patch_size {m} is larger than the image shape {shape}")
        return sizes

    def _check_params(self) -> None:
        _validate.positive(self.n_words, "n_words", integer=True)
        _validate.choice(self.method, "method", ("kmeans", "kmtree"))
        _validate.choice(self.features, "features", ("intensity", "gaussian"))
        _validate.choice(self.weighting, "weighting", ("none", "entropy", "twomax"))
        _validate.positive(self.branching, "branching", integer=True)
        if self.branching < 2:
            raise ValueError(f"branching must be >= 2, got {self.branching}")
        _validate.positive(self.n_samples, "n_samples", integer=True)
        _validate.choice(self.steps, "steps", (1, 2))
        _validate.positive(self.smooth, "smooth", allow_zero=True)
        for s in self.sigmas:
            _validate.positive(s, "sigmas")
        if self.features == "gaussian" and not len(self.sigmas):
            raise ValueError("sigmas must name at least one scale for features='gaussian'")
        if self.n_basis is not None:
            _validate.positive(self.n_basis, "n_basis", integer=True)

    # -- features and words
    def _feature_depth(self, size: int) -> int:
        if self.features == "gaussian":
            return _chunk.gaussian_depth(max(self.sigmas))
        return size // 2

    def _features(self, x: np.ndarray, scale: dict) -> np.ndarray:
        """Feature rows ``(n_pixels, dim)`` of a normalised float32 block."""
        if self.features == "gaussian":
            f = _gaussian_features(x, tuple(float(s) for s in self.sigmas))
        else:
            f = _patch_features(x, scale["size"], scale["n_basis"])
        f = f.reshape(len(f), -1).T
        return (f - scale["mean"]) / scale["std"]

    def _slabs(self, x: np.ndarray, scale: dict, progress: bool = False):
        """Yield ``(z0, z1, rows)``: feature rows of slabs along axis 0 (bounded memory)."""
        depth = self._feature_depth(scale["size"])
        n = x.shape[0]
        step = max(1, _SLAB // max(1, int(np.prod(x.shape[1:]))))
        for z0 in tqdm(range(0, n, step), disable=not progress, desc="words"):
            z1 = min(n, z0 + step)
            a, b = max(0, z0 - depth), min(n, z1 + depth)
            f = self._features(x[a:b], scale)
            rows = f.reshape(b - a, -1, f.shape[-1])[z0 - a:z1 - a].reshape(-1, f.shape[-1])
            yield z0, z1, rows

    def _words(self, x: np.ndarray, scale: dict, progress: bool = False,
               slabs: list | None = None) -> np.ndarray:
        """Word map of a normalised block (from precomputed ``slabs`` when given)."""
        out = np.empty(x.shape, np.int32)
        for z0, z1, rows in slabs or self._slabs(x, scale, progress):
            out[z0:z1] = _assign(rows, scale).reshape((z1 - z0,) + x.shape[1:])
        return out

    def _normalised(self, image: np.ndarray) -> np.ndarray:
        return ((image.astype(np.float32) - self._mean) / self._std).astype(np.float32)

    # -- public API
    def fit(self, image: Any) -> DictionarySegmenter:
        """Build the patch dictionary of a 2D image or 3D volume and assign every pixel a word.

        Parameters
        ----------
        image : (Y, X) or (Z, Y, X) array_like
            Image or volume, in memory (numpy). Fit on a representative crop of a large
            volume and apply :meth:`predict_proba` to the whole (dask) volume.

        Returns
        -------
        self : DictionarySegmenter
        """
        self._check_params()
        image = _validate.array(image, "image", ndim=(2, 3), allow_dask=False)
        sizes = self._sizes(image.shape)
        rng = np.random.default_rng(self.random_state)
        self._mean = np.float32(image.mean())
        self._std = np.float32(image.std()) or np.float32(1.0)
        x = self._normalised(image)
        n_pix = x.size
        if self.n_words > n_pix:
            raise ValueError(f"n_words ({self.n_words}) is larger than the number of patches "
                             f"({n_pix})")
        self._scales = []
        for size in sizes:
            n_basis = self.n_basis or min(size, 4 if x.ndim == 2 else 3)
            scale = {"size": size, "n_basis": min(n_basis, size), "method": self.method,
                     "mean": np.float32(0), "std": np.float32(1)}
            pick = np.sort(rng.choice(n_pix, size=min(n_pix, max(self.n_samples, self.n_words)),
                                      replace=False))
            parts, done = [], 0
            slabs = self._slabs(x, scale)
            if x.size <= _SLAB:  # a single slab: compute the features once
                slabs = list(slabs)
            for _, _, rows in slabs:
                sel = pick[(pick >= done) & (pick < done + len(rows))] - done
                parts.append(rows[sel])
                done += len(rows)
            samples = np.concatenate(parts).astype(np.float32)
            if self.features == "gaussian":
                scale["mean"] = samples.mean(0).astype(np.float32)
                scale["std"] = (samples.std(0) + 1e-6).astype(np.float32)
                samples = (samples - scale["mean"]) / scale["std"]
            seed = int(rng.integers(2**31))
            if self.method == "kmeans":
                scale["centers"] = _kmeans(samples, self.n_words,
                                           seed).cluster_centers_.astype(np.float32)
                n_words = self.n_words
            else:
                n_layers = max(1, round(math.log(self.n_words) / math.log(self.branching)))
                scale["tree"] = _kmtree(samples, self.branching, n_layers, seed)
                n_words = self.branching ** n_layers
                scale["centers"] = scale["tree"][-1].reshape(n_words, -1)
            scale["n_words"] = n_words
            if self.features == "gaussian" and isinstance(slabs, list):
                slabs = [(a, b, (r - scale["mean"]) / scale["std"]) for a, b, r in slabs]
            scale["words"] = self._words(x, scale, self.progress,
                                         slabs if isinstance(slabs, list) else None)
            del slabs
            scale["padded"] = _pad_words(scale["words"], size // 2, n_words)
            scale["counts"] = _word_counts(scale["words"], size, n_words)
            scale["offsets_flat"] = _offset_flat(_offsets(size, x.ndim), scale["padded"].shape)
            self._scales.append(scale)
        self.shape_ = image.shape
        self.words_ = (self._scales[0]["words"] if len(sizes) == 1
                       else np.stack([s["words"] for s in self._scales]))
        self.centers_ = (self._scales[0]["centers"] if len(sizes) == 1
                         else [s["centers"] for s in self._scales])
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "_scales"):
            raise ValueError("this DictionarySegmenter is not fitted: call fit(image) first")

    def _check_labels(self, labels: Any) -> np.ndarray:
        labels = _validate.array(labels, "labels", allow_dask=False)
        if labels.shape != self.shape_:
            raise ValueError(f"labels must have the fitted image's shape {self.shape_}, "
                             f"got {labels.shape}")
        if not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool):
            raise TypeError(f"labels must be integers (0 = unlabelled, 1..C), got {labels.dtype}")
        if labels.min() < 0:
            raise ValueError("labels must be >= 0 (0 = unlabelled)")
        present = np.unique(labels[labels > 0])
        if len(present) == 0:
            raise ValueError("labels has no labelled pixels (all 0)")
        if len(present) < 2:
            raise ValueError(f"labels must contain at least two classes, got only {present[0]}")
        return labels

    def _dictionary(self, scale: dict, flat: np.ndarray, weights: np.ndarray) -> np.ndarray:
        mass = _collect(scale, flat, weights)
        counts = scale["counts"][..., None]
        table = np.divide(mass, counts, out=np.zeros_like(mass), where=counts > 0)
        return _weight(table, self.weighting).astype(np.float32)

    def _finish(self, p: np.ndarray) -> np.ndarray:
        if self.smooth:
            p = np.stack([ndi.gaussian_filter(c, self.smooth, mode="reflect") for c in p])
        return _normalise(p)

    def propagate(self, labels: Any) -> np.ndarray:
        """Propagate sparse labels of the fitted image to all pixels (fast; no refit).

        Parameters
        ----------
        labels : ndarray of int, shape ``image.shape``
            ``0`` = unlabelled, ``1..C`` = classes (at least two).

        Returns
        -------
        probabilities : ndarray of float32, shape ``(C,) + image.shape``
            Class probabilities, summing to 1 over axis 0.
        """
        self._check_fitted()
        _validate.labels(labels, "labels")
        labels = self._check_labels(labels)
        n_classes = int(labels.max())
        idx = np.flatnonzero(labels)
        coords = np.unravel_index(idx, labels.shape)
        onehot = np.zeros((len(idx), n_classes), np.float64)
        onehot[np.arange(len(idx)), labels.ravel()[idx].astype(np.int64) - 1] = 1
        total = np.zeros((n_classes,) + labels.shape, np.float32)
        self.dictionary_probabilities_ = []
        for scale in self._scales:
            r = scale["size"] // 2
            pad_shape = scale["padded"].shape
            flat, weights = np.ravel_multi_index(tuple(c + r for c in coords), pad_shape), onehot
            for step in range(self.steps):
                table = self._dictionary(scale, flat, weights)
                p = _spread(scale["padded"], table, scale["size"])
                if step + 1 < self.steps:
                    if self.overwrite:
                        p.reshape(n_classes, -1)[:, idx] = onehot.T
                    grid = np.indices(labels.shape).reshape(labels.ndim, -1)
                    flat = np.ravel_multi_index(tuple(g + r for g in grid), pad_shape)
                    weights = np.ascontiguousarray(p.reshape(n_classes, -1).T, np.float64)
            self.dictionary_probabilities_.append(table.transpose(1, 0, 2))
            total += p
        p = self._finish(total)
        if self.overwrite:
            p.reshape(n_classes, -1)[:, idx] = onehot.T
        self.probabilities_ = p
        return p

    def _predict_block(self, block: np.ndarray) -> np.ndarray:
        x = self._normalised(block)
        total = None
        for scale, table in zip(self._scales, self.dictionary_probabilities_):
            padded = _pad_words(self._words(x, scale, self.progress), scale["size"] // 2,
                                scale["n_words"])
            p = _spread(padded, table.transpose(1, 0, 2), scale["size"])
            total = p if total is None else total + p
        return self._finish(total)

    def predict_proba(self, image: Any) -> np.ndarray | da.Array:
        """Class probabilities of a new image/volume with the learned dictionary (*chunked*).

        Uses the dictionary probabilities of the last :meth:`propagate`.

        Parameters
        ----------
        image : (Y, X) or (Z, Y, X) array_like or dask array
            Same dimensionality as the fitted image. A dask array is processed chunk by chunk
            (halo = feature support + ``M // 2`` + smoothing) and a dask array is returned.

        Returns
        -------
        probabilities : ndarray or dask array of float32, shape ``(C,) + image.shape``
        """
        self._check_fitted()
        if not hasattr(self, "dictionary_probabilities_"):
            raise ValueError("call propagate(labels) before predict_proba(image)")
        image = _validate.array(image, "image", ndim=len(self.shape_))
        self._sizes(image.shape)
        n_classes = self.dictionary_probabilities_[0].shape[-1]
        depth = max(self._feature_depth(s["size"]) + s["size"] // 2 for s in self._scales)
        if self.smooth:
            depth += _chunk.gaussian_depth(self.smooth)
        return _chunk.apply(self._predictor()._predict_block, image, depth=depth,
                            n_new=n_classes)

    def _predictor(self) -> DictionarySegmenter:
        """A shallow copy without the fitted image's per-pixel arrays.

        Each chunk task of a dask volume ships its own copy of the model to the workers:
        the word maps and probabilities of the fitted image would multiply the memory.
        """
        light = copy.copy(self)
        for name in ("words_", "probabilities_"):
            light.__dict__.pop(name, None)
        light._scales = [{k: v for k, v in scale.items() if k not in ("words", "padded")}
                         for scale in self._scales]
        return light

    def predict(self, image: Any = None) -> np.ndarray | da.Array:
        """Most probable class ``1..C`` of every pixel (fitted image when ``image`` is None).

        Returns
        -------
        labels : ndarray (or dask array) of uint8/uint16, shape ``image.shape``
        """
        self._check_fitted()
        if image is None:
            if not hasattr(self, "probabilities_"):
                raise ValueError("call propagate(labels) first, or pass an image")
            prob = self.probabilities_
        else:
            prob = self.predict_proba(image)
        dtype = np.uint8 if prob.shape[0] < 255 else np.uint16
        return (prob.argmax(axis=0) + 1).astype(dtype)


def segment(image: Any, labels: Any, **params: Any) -> np.ndarray:
    """Fit a :class:`DictionarySegmenter` on ``image`` and propagate ``labels`` in one call.

    Parameters
    ----------
    image : (Y, X) or (Z, Y, X) array_like
        Image or volume.
    labels : ndarray of int, shape ``image.shape``
        ``0`` = unlabelled, ``1..C`` = classes.
    **params
        Passed to :class:`DictionarySegmenter`.

    Returns
    -------
    probabilities : ndarray of float32, shape ``(C,) + image.shape``

    Examples
    --------
    >>> image = np.zeros((16, 16), np.float32); image[:, 8:] = 1
    >>> labels = np.zeros((16, 16), int); labels[3, 2] = 1; labels[12, 13] = 2
    >>> prob = segment(image, labels, patch_size=3, n_words=2)
    >>> prob.argmax(0)[8].tolist()
    [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]
    """
    return DictionarySegmenter(**params).fit(image).propagate(labels)


def save_scribbles(path: Any, labels: np.ndarray) -> None:
    """Store sparse labels compactly: arrays ``z, y, x`` (or ``y, x``), ``label`` and ``shape``.

    Examples
    --------
    >>> import tempfile, os
    >>> labels = np.zeros((4, 5, 6), np.uint8); labels[1, 2, 3] = 2
    >>> path = os.path.join(tempfile.mkdtemp(), "s.npz")
    >>> save_scribbles(path, labels)
    >>> bool((load_scribbles(path) == labels).all())
    True
    """
    labels = _validate.array(labels, "labels", ndim=(2, 3), allow_dask=False)
    _validate.labels(labels, "labels")  # stored as uint8
    idx = np.nonzero(labels)
    names = ("z", "y", "x")[3 - labels.ndim:]
    dtype = np.uint16 if max(labels.shape) < 65536 else np.int64
    np.savez_compressed(path, shape=np.array(labels.shape), label=labels[idx].astype(np.uint8),
                        **{n: i.astype(dtype) for n, i in zip(names, idx)})


def load_scribbles(path: Any) -> np.ndarray:
    """Labels volume (uint8, ``0`` = unlabelled) from a scribble file of :func:`save_scribbles`.

    Parameters
    ----------
    path : str or path-like
        ``.npz`` file with arrays ``shape``, ``label`` and ``z``, ``y``, ``x`` (``y``, ``x`` in 2D).

    Returns
    -------
    labels : ndarray of uint8, shape ``shape``
    """
    with np.load(_validate.existing_path(path)) as f:
        shape = tuple(int(s) for s in f["shape"])
        names = ("z", "y", "x")[3 - len(shape):]
        labels = np.zeros(shape, np.uint8)
        labels[tuple(f[n].astype(np.int64) for n in names)] = f["label"]
    return labels
