"""The dictionary of one patch size: feature rows of pixels clustered into words."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator

import numpy as np
from tqdm.auto import tqdm

from .. import _chunk
from . import _clustering, _features

SLAB = 1 << 21  # pixels per slab of features (bounded memory)


@dataclasses.dataclass(frozen=True)
class Dictionary:
    """Words of one patch size: the features of a pixel's patch, mapped to the nearest centre.

    Attributes
    ----------
    size : int
        Patch side ``M`` (pixels, odd).
    features : {"intensity", "gaussian"}
        DCT projections of the ``M^d`` patch, or Gaussian derivative features.
    n_basis : int
        DCT functions per axis (``features="intensity"``).
    sigmas : tuple of float
        Gaussian scales in pixels (``features="gaussian"``).
    mean, std : ndarray of float32
        Feature normalisation, scalars or ``(dim,)``.
    centers : ndarray of float32, shape ``(K, dim)``
        The words: cluster centres in normalised feature space (the leaves of ``tree``).
    tree : tuple of ndarray
        Layers ``(n_nodes, branching, dim)`` of a k-means tree; empty for flat k-means.
    """

    size: int
    features: str
    n_basis: int
    sigmas: tuple[float, ...]
    mean: np.ndarray
    std: np.ndarray
    centers: np.ndarray
    tree: tuple[np.ndarray, ...] = ()

    @property
    def n_words(self) -> int:
        return len(self.centers)

    @property
    def depth(self) -> int:
        """Support radius (pixels) of the features of one pixel."""
        if self.features == "gaussian":
            return _chunk.gaussian_depth(max(self.sigmas))
        return self.size // 2

    def rows(self, x: np.ndarray) -> np.ndarray:
        """Normalised feature rows ``(n_pixels, dim)`` of a normalised float32 block."""
        if self.features == "gaussian":
            f = _features.gaussian_features(x, self.sigmas)
        else:
            f = _features.patch_features(x, self.size, self.n_basis)
        f = f.reshape(len(f), -1).T
        return (f - self.mean) / self.std

    def slabs(self, x: np.ndarray, progress: bool = False
              ) -> Iterator[tuple[int, int, np.ndarray]]:
        """Yield ``(z0, z1, rows)``: feature rows of slabs along axis 0 (bounded memory)."""
        n = x.shape[0]
        step = max(1, SLAB // max(1, int(np.prod(x.shape[1:]))))
        for z0 in tqdm(range(0, n, step), disable=not progress, desc="words"):
            z1 = min(n, z0 + step)
            a, b = max(0, z0 - self.depth), min(n, z1 + self.depth)
            f = self.rows(x[a:b])
            rows = f.reshape(b - a, -1, f.shape[-1])[z0 - a:z1 - a].reshape(-1, f.shape[-1])
            yield z0, z1, rows

    def assign(self, rows: np.ndarray) -> np.ndarray:
        """Word (int32) of each feature row: nearest centre, or greedy descent of the tree."""
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        if self.tree:
            return _clustering.tree_assign(rows, self.tree).astype(np.int32)
        return _clustering.nearest(rows, self.centers).astype(np.int32)

    def words(self, x: np.ndarray, progress: bool = False,
              slabs: list | None = None) -> np.ndarray:
        """Word map (int32, ``x.shape``) of a normalised block (from precomputed ``slabs``)."""
        out = np.empty(x.shape, np.int32)
        for z0, z1, rows in slabs or self.slabs(x, progress):
            out[z0:z1] = self.assign(rows).reshape((z1 - z0,) + x.shape[1:])
        return out


def build_dictionary(x: np.ndarray, size: int, *, features: str, n_basis: int,
                     sigmas: tuple[float, ...], method: str, n_words: int, n_samples: int,
                     branching: int, rng: np.random.Generator, progress: bool = False
                     ) -> tuple[Dictionary, np.ndarray]:
    """Cluster ``n_samples`` random pixels' features of ``x`` into words; word map of ``x``.

    ``method="kmeans"``: ``n_words`` centres by :func:`_clustering.kmeans`; ``"kmtree"``: a
    tree of ``branching ** round(log_branching(n_words))`` leaves by :func:`_clustering.kmtree`.
    Gaussian features are standardised with the samples' mean and standard deviation.
    """
    zero, one = np.float32(0), np.float32(1)
    d = Dictionary(size, features, n_basis, sigmas, zero, one, np.empty((0, 0), np.float32))
    n_pix = x.size
    pick = np.sort(rng.choice(n_pix, size=min(n_pix, max(n_samples, n_words)), replace=False))
    slabs = d.slabs(x)
    if n_pix <= SLAB:  # a single slab: compute the features once
        slabs = list(slabs)
    parts, done = [], 0
    for _, _, rows in slabs:
        parts.append(rows[pick[(pick >= done) & (pick < done + len(rows))] - done])
        done += len(rows)
    samples = np.concatenate(parts).astype(np.float32)
    if features == "gaussian":
        d = dataclasses.replace(d, mean=samples.mean(0).astype(np.float32),
                                std=(samples.std(0) + 1e-6).astype(np.float32))
        samples = (samples - d.mean) / d.std
        if isinstance(slabs, list):
            slabs = [(a, b, (r - d.mean) / d.std) for a, b, r in slabs]
    seed = int(rng.integers(2**31))
    if method == "kmeans":
        d = dataclasses.replace(d, centers=_clustering.kmeans(samples, n_words, seed))
    else:
        n_layers = max(1, round(math.log(n_words) / math.log(branching)))
        tree = _clustering.kmtree(samples, branching, n_layers, seed)
        d = dataclasses.replace(d, centers=tree[-1].reshape(branching**n_layers, -1), tree=tree)
    return d, d.words(x, progress, slabs if isinstance(slabs, list) else None)

