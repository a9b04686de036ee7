"""Structure-tensor fibre orientation, float32 numba kernels, numpy or chunked dask.

The gradients use the separable filters of :mod:`qimcore._filters`; the 6 gradient products are
smoothed with the same line filters, fused with a per-voxel eigen solver.
"""

from __future__ import annotations

import math
from typing import Any

import dask.array as da
import numpy as np
from numba import njit, prange

from .. import _chunk, _validate
from .._filters import _filter_buf, _filter_lines, _locked, _separable, _taps, _u

_PAIRS = np.array([[0, 0], [1, 1], [2, 2], [0, 1], [0, 2], [1, 2]], np.int64)
_INV_SQRT3 = 1 / math.sqrt(3)
_EPS32 = float(np.finfo(np.float32).eps)
_TINY32 = float(np.finfo(np.float32).tiny)


@njit(parallel=True, cache=True)
def _tensor_xy_kernel(g, nz, ny, nx, w, pairs, out):  # pragma: no cover
    """The 6 gradient products ``g[i] g[j]`` (flat ``(3, N)``) of every z-plane, each filtered
    along x then y, into the flat ``(6, N)`` ``out``."""
    size = nz * ny * nx
    r = w.shape[0] // 2
    for z in prange(nz):
        zi = np.int64(z) * ny * nx
        plane = np.empty(6 * ny * nx, np.float32)
        buf = np.empty(nx + 2 * r, np.float32)
        for y in range(ny):
            for c in range(6):
                gi = _u(pairs[c, 0] * size + zi + y * nx)
                gj = _u(pairs[c, 1] * size + zi + y * nx)
                for x in range(_u(nx)):
                    buf[_u(r) + x] = g[gi + x] * g[gj + x]
                _filter_buf(buf, w, False, plane, (c * ny + y) * nx)
        for c in range(6):
            for y in range(ny):
                _filter_lines(plane, c * ny * nx, nx, ny, y, w, False, out,
                              c * size + zi + y * nx, nx)


@njit(cache=True, error_model="numpy", inline="always")
def _eigenvector(a, b, c, d, e, f):  # pragma: no cover
    """Unit eigenvector of the smallest eigenvalue of ``[[a, d, e], [d, b, f], [e, f, c]]``.

    float64, branch-free (vectorises). Eigenvalue ``q + 2 p cos(acos(h) / 3 + 2 pi / 3)``: the
    cosine is the smallest root of ``4 t^3 - 3 t = h``, found by Newton steps from below, which
    converge monotonically (3 steps reach float64 rounding). The vector is the largest cross
    product of two rows of ``S - lambda I``; canonical sign (z > 0, else y > 0, else x >= 0);
    ``(1, 0, 0)`` where the tensor is (numerically) isotropic.
    """
    q = (a + b + c) / 3
    a0, b0, c0 = a - q, b - q, c - q
    p2 = (a0 * a0 + b0 * b0 + c0 * c0 + 2 * (d * d + e * e + f * f)) / 6
    p = math.sqrt(p2)
    det = a0 * (b0 * c0 - f * f) - d * (d * c0 - f * e) + e * (d * f - b0 * e)
    h = min(max(det / (2 * p * p2) if p > 0 else 0.0, -1.0), 1.0)
    u = math.sqrt((1 - h) / 2)
    t = -0.5 - u * _INV_SQRT3 + (_INV_SQRT3 - 0.5) * u * u  # below the root, exact at h = -1
    for _ in range(3):  # the root is in [-1, -1/2]: the clamp guards against rounding
        t = min(max(t - (4 * t * t * t - 3 * t - h) / max(12 * t * t - 3, 1e-300), -1.0), -0.5)
    lam = q + 2 * p * t
    a0, b0, c0 = a - lam, b - lam, c - lam
    v0, v1, v2 = d * f - e * b0, e * d - a0 * f, a0 * b0 - d * d  # rows 0 x 1
    n = v0 * v0 + v1 * v1 + v2 * v2
    u0, u1, u2 = d * c0 - e * f, e * e - a0 * c0, a0 * f - d * e  # rows 0 x 2
    m = u0 * u0 + u1 * u1 + u2 * u2
    take = m > n
    v0, v1, v2, n = (u0 if take else v0), (u1 if take else v1), (u2 if take else v2), max(m, n)
    u0, u1, u2 = b0 * c0 - f * f, f * e - d * c0, d * f - b0 * e  # rows 1 x 2
    m = u0 * u0 + u1 * u1 + u2 * u2
    take = m > n
    v0, v1, v2, n = (u0 if take else v0), (u1 if take else v1), (u2 if take else v2), max(m, n)
    n = math.sqrt(n)
    scale = max(abs(q), _TINY32)
    flat = n <= _EPS32 * scale * scale
    neg = (v0 < 0) | ((v0 == 0) & ((v1 < 0) | ((v1 == 0) & (v2 < 0))))
    inv = (-1.0 if neg else 1.0) / (1.0 if flat else n)
    return (1.0 if flat else v0 * inv), (0.0 if flat else v1 * inv), (0.0 if flat else v2 * inv)


@njit(parallel=True, cache=True, error_model="numpy")
def _z_eigen_kernel(t, nz, ny, nx, w, out):  # pragma: no cover
    """Filter the 6 tensor components (flat ``(6, N)``) along z, then solve each voxel's
    eigenvector into the flat ``(3, N)`` ``out``."""
    size = nz * ny * nx
    for y in prange(ny):
        yi = np.int64(y) * nx
        s = np.empty(6 * nx, np.float32)
        for z in range(nz):
            for c in range(6):
                _filter_lines(t, c * size + yi, ny * nx, nz, z, w, False, s, c * nx, nx)
            o, n = _u(z * ny * nx + yi), _u(nx)
            for x in range(n):
                v0, v1, v2 = _eigenvector(
                    np.float64(s[x]), np.float64(s[n + x]), np.float64(s[2 * n + x]),
                    np.float64(s[3 * n + x]), np.float64(s[4 * n + x]),
                    np.float64(s[5 * n + x]))
                out[o + x] = v0
                out[_u(size) + o + x] = v1
                out[_u(2 * size) + o + x] = v2


def _orientation_np(volume: np.ndarray, sigma: float, rho: float, truncate: float
                    ) -> np.ndarray:
    vol = np.ascontiguousarray(volume, dtype=np.float32)
    size = vol.size
    grads = np.empty(3 * size, np.float32)  # gradients, later the directions
    tensor = np.empty(6 * size, np.float32)  # first scratch for the gradients
    for i, order in enumerate(((1, 0, 0), (0, 1, 0), (0, 0, 1))):
        _separable(vol, (sigma,) * 3, order, truncate, grads[i * size:(i + 1) * size],
                   tensor[:size])
    w = _taps(rho, 0, truncate)
    _locked(_tensor_xy_kernel, grads, *vol.shape, w, _PAIRS, tensor)
    _locked(_z_eigen_kernel, tensor, *vol.shape, w, grads)
    return grads.reshape((3,) + vol.shape)


def orientation(volume: Any, sigma: float, rho: float, *, truncate: float = 4.0
                ) -> np.ndarray | da.Array:
    """Dominant (fibre) direction at every voxel from the structure tensor.

    The structure tensor ``S = G_rho * (grad I grad I^T)`` with gradients of a Gaussian of
    scale ``sigma`` is built at each voxel; the fibre direction is its eigenvector of the
    smallest eigenvalue (the direction along which the intensity varies least).

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

    Notes
    -----
    Filters and tensor are float32 (numba kernels, parallel over planes or rows, boundary
    ``mode="nearest"`` as :func:`scipy.ndimage.gaussian_filter`); the 6 gradient products are
    smoothed along x and y plane by plane, and the z pass is fused with a per-voxel float64
    eigen solver (trigonometric closed form, the cosine refined by Newton steps; vectorised).
    The kernels are compiled on first use (several seconds) and cached on disk.

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
    _validate.in_range(sigma, "sigma", 0, max(volume.shape), low_open=True)  # no endless
    _validate.in_range(rho, "rho", 0, max(volume.shape), low_open=True)  # filter of a blur
    kwargs = {"sigma": float(sigma), "rho": float(rho), "truncate": float(truncate)}
    depth = _chunk.gaussian_depth(sigma, rho, truncate=truncate)
    return _chunk.apply(_orientation_np, volume, depth=depth, n_new=3, **kwargs)
