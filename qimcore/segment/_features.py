"""Per-pixel features: projections of the surrounding patch on a DCT basis, or Gaussian derivatives."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi


def dct_basis(size: int, n: int) -> np.ndarray:
    """First ``n`` orthonormal DCT-II vectors of length ``size``, shape ``(n, size)``."""
    t = np.arange(size) + 0.5
    basis = np.stack([np.cos(np.pi * k * t / size) for k in range(n)])
    return (basis / np.linalg.norm(basis, axis=1, keepdims=True)).astype(np.float32)


def patch_features(x: np.ndarray, size: int, n_basis: int) -> np.ndarray:
    """Project the patch around every pixel on a separable DCT basis: ``(n_basis**d,) + x.shape``.

    With ``n_basis == size`` this is an orthonormal change of basis of the full patch, so
    distances between patches are exact; smaller ``n_basis`` keeps the low frequencies.
    """
    basis = dct_basis(size, n_basis)
    stack = [x]
    for axis in range(x.ndim):
        stack = [ndi.correlate1d(s, b, axis=axis, mode="reflect") for s in stack for b in basis]
    return np.stack(stack)


def gaussian_features(x: np.ndarray, sigmas: tuple[float, ...]) -> np.ndarray:
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
