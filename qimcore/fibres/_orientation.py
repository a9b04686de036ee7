"""Structure-tensor fibre orientation, float32, numpy or chunked dask."""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np
from scipy import ndimage as ndi

from .. import _chunk, _validate


def _smallest_eigenvector(s: list[np.ndarray]) -> np.ndarray:
    """Unit eigenvector of the smallest eigenvalue of symmetric 3x3 tensors, canonical sign.

    ``s`` = ``[szz, syy, sxx, szy, szx, syx]`` (same shapes). The eigenvalue is found in closed
    form (trigonometric method); the vector is the largest cross product of two rows of
    ``S - lambda I``. Sign: z >= 0, then y >= 0, then x >= 0.
    """
    a, b, c, d, e, f = s
    dtype = a.dtype
    q = (a + b + c) / 3
    p1 = d * d + e * e + f * f
    a0, b0, c0 = a - q, b - q, c - q
    p = np.sqrt(np.maximum((a0 * a0 + b0 * b0 + c0 * c0 + 2 * p1) / 6, np.finfo(dtype).tiny))
    det = (a0 * (b0 * c0 - f * f) - d * (d * c0 - f * e) + e * (d * f - b0 * e)) / p**3
    phi = np.arccos(np.clip(det / 2, -1, 1)) / 3
    lam = q + 2 * p * np.cos(phi + np.asarray(2 * np.pi / 3, dtype))  # smallest eigenvalue
    a0, b0, c0 = a - lam, b - lam, c - lam
    rows = ((a0, d, e), (d, b0, f), (e, f, c0))
    best = None
    best_n = None
    for i, j in ((0, 1), (0, 2), (1, 2)):
        (r1, r2) = rows[i], rows[j]
        v = (r1[1] * r2[2] - r1[2] * r2[1], r1[2] * r2[0] - r1[0] * r2[2],
             r1[0] * r2[1] - r1[1] * r2[0])
        n = v[0] * v[0] + v[1] * v[1] + v[2] * v[2]
        if best is None:
            best, best_n = list(v), n
        else:
            take = n > best_n
            for k in range(3):
                best[k] = np.where(take, v[k], best[k])
            best_n = np.where(take, n, best_n)
    vec = np.stack(best)
    norm = np.sqrt(best_n)
    flat = norm <= np.finfo(dtype).eps * np.maximum(np.abs(q), np.finfo(dtype).tiny) ** 2
    vec /= np.where(flat, 1, norm)
    vec[0][flat] = 1  # isotropic or degenerate: report z
    sign = np.where(vec[0] != 0, np.sign(vec[0]),
                    np.where(vec[1] != 0, np.sign(vec[1]), np.sign(vec[2]) + (vec[2] == 0)))
    return (vec * sign).astype(dtype, copy=False)


def _gaussian_matrix(n: int, sigma: float, order: int, truncate: float) -> np.ndarray:
    """(n, n) float32 matrix of scipy's 1D Gaussian (derivative) filter, ``mode="nearest"``."""
    radius = int(truncate * sigma + 0.5)
    impulse = np.zeros(2 * radius + 1)
    impulse[radius] = 1
    weights = ndi.gaussian_filter1d(impulse, sigma, order=order, truncate=truncate,
                                    mode="constant")[::-1]
    rows = np.repeat(np.arange(n), 2 * radius + 1)
    cols = np.clip(rows + np.tile(np.arange(-radius, radius + 1), n), 0, n - 1)
    mat = np.zeros((n, n))
    np.add.at(mat, (rows, cols), np.tile(weights, n))
    return mat.astype(np.float32)


def _filter_axis0(vol: np.ndarray, sigma: float, order: int, truncate: float,
                  block: int = 64) -> np.ndarray:
    """1D Gaussian (derivative) filter along axis 0 as a banded matrix product (BLAS).

    Equal to ``ndi.gaussian_filter1d(vol, sigma, axis=0, mode="nearest")`` in float32, and
    several times faster than scipy's strided line buffers on that axis.
    """
    n = vol.shape[0]
    mat = _gaussian_matrix(n, sigma, order, truncate)
    radius = int(truncate * sigma + 0.5)
    flat = vol.reshape(n, -1)
    res = np.empty_like(flat)
    for lo in range(0, n, block):
        hi = min(n, lo + block)
        a, b = max(0, lo - radius), min(n, hi + radius)
        np.matmul(mat[lo:hi, a:b], flat[a:b], out=res[lo:hi])
    return res.reshape(vol.shape)


def _filter1d(vol: np.ndarray, sigma: float, axis: int, order: int, truncate: float
              ) -> np.ndarray:
    if axis == 0:
        return _filter_axis0(vol, sigma, order, truncate)
    return ndi.gaussian_filter1d(vol, sigma, axis=axis, order=order, truncate=truncate,
                                 mode="nearest", output=np.float32)


def _gaussian(vol: np.ndarray, sigma: float | tuple[float, float, float],
              order: tuple[int, int, int] = (0, 0, 0), truncate: float = 4.0) -> np.ndarray:
    """float32 ``ndi.gaussian_filter(vol, sigma, order, mode="nearest")`` (axis 0 by BLAS)."""
    sig = (sigma,) * 3 if np.isscalar(sigma) else tuple(sigma)
    out = np.ascontiguousarray(vol, dtype=np.float32)
    for ax in (2, 1, 0):
        out = _filter1d(out, float(sig[ax]), ax, order[ax], truncate)
    return out


def _orientation_np(volume: np.ndarray, sigma: float, rho: float, truncate: float,
                    slab: int = 16) -> np.ndarray:
    vol = np.ascontiguousarray(volume, dtype=np.float32)
    f = _filter1d
    sx = f(vol, sigma, 2, 0, truncate)  # separable passes shared between the gradients
    dx = f(vol, sigma, 2, 1, truncate)
    grads = [f(f(sx, sigma, 1, 0, truncate), sigma, 0, 1, truncate),
             f(f(sx, sigma, 1, 1, truncate), sigma, 0, 0, truncate),
             f(f(dx, sigma, 1, 0, truncate), sigma, 0, 0, truncate)]
    del sx, dx
    pairs = ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))
    tensor = [_gaussian(grads[i] * grads[j], rho, truncate=truncate) for i, j in pairs]
    del grads
    out = np.empty((3,) + vol.shape, np.float32)
    for z0 in range(0, vol.shape[0], slab):  # slabs keep temporaries small
        out[:, z0:z0 + slab] = _smallest_eigenvector([t[z0:z0 + slab] for t in tensor])
    return out


def orientation(volume: Any, sigma: float, rho: float, *, truncate: float = 4.0
                ) -> np.ndarray | da.Array:
    """Dominant (fibre) direction at every voxel from the structure tensor.

    The structure tensor ``S = G_rho * (grad I grad I^T)`` with gradients of a Gaussian of
    scale ``sigma`` is built at each voxel; the fibre direction is its eigenvector of the
    smallest eigenvalue (the direction along which the intensity varies least). Computed in
    float32 with a closed-form eigen solver.

    Parameters
    ----------
    volume : (Z, Y, X) ndarray or dask array
        Grey-value volume, axes ``(z, y, x)``. A dask array is processed chunk by chunk with a
        halo of ``ceil(truncate*sigma) + ceil(truncate*rho)`` voxels and a dask array returned.
    sigma : float
        Gradient (noise) scale in voxels, about a quarter of the fibre diameter.
    rho : float
        Integration scale in voxels, about the fibre diameter or more.
    truncate : float, optional
        Gaussian kernels are cut at ``truncate`` standard deviations.

    Returns
    -------
    (3, Z, Y, X) float32 ndarray or dask array
        Unit vectors ``(z, y, x)``, canonical sign (z >= 0; y >= 0 where z == 0; ...).

    Raises
    ------
    ValueError
        If ``volume`` is not 3D or not finite, or ``sigma``/``rho`` is not > 0.

    Examples
    --------
    >>> z, y, x = np.mgrid[:12, :12, :12]
    >>> volume = np.sin(y * 1.3) + np.sin(z * 1.1)   # constant along x
    >>> np.round(orientation(volume, 1.0, 2.0)[:, 6, 6, 6], 3).tolist()
    [0.0, 0.0, 1.0]
    """
    volume = _validate.array(volume, "volume", ndim=3)
    sigma = _validate.positive(sigma, "sigma")
    rho = _validate.positive(rho, "rho")
    truncate = _validate.positive(truncate, "truncate")
    kwargs = {"sigma": float(sigma), "rho": float(rho), "truncate": float(truncate)}
    depth = _chunk.gaussian_depth(sigma, rho, truncate=truncate)
    return _chunk.apply(_orientation_np, volume, depth=depth, n_new=3, **kwargs)

