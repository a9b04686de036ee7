"""Fast float32 Gaussian (derivative) filters: separable numba kernels.

Every filter is applied as 1D correlations with ``mode="nearest"`` (clamped indices), as
:func:`scipy.ndimage.gaussian_filter1d` does, using the (anti)symmetry of the kernel. Lines along
x are padded in a small buffer; passes along y and z combine whole x-rows, so every inner loop
runs over contiguous memory and vectorises. The kernels are compiled on first use and cached.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit, prange
from scipy import ndimage as ndi

from . import _chunk


def _taps(sigma: float, order: int, truncate: float) -> np.ndarray:
    """float32 weights ``w`` of scipy's 1D Gaussian filter: ``out[i] = sum_k w[k] in[i + k - r]``."""
    radius = int(truncate * sigma + 0.5)
    impulse = np.zeros(2 * radius + 1)
    impulse[radius] = 1
    weights = ndi.gaussian_filter1d(impulse, sigma, order=order, truncate=truncate,
                                    mode="constant")[::-1]
    return weights.astype(np.float32)


# Index arithmetic in the inner loops is unsigned: numba then skips the negative-index
# wrap-around, and the loops vectorise with contiguous loads instead of gathers.
_u = np.uint64


@njit(cache=True)
def _filter_lines(src, s0, stride, n, i, w, odd, dst, d0, nx):  # pragma: no cover
    """``dst[d0:d0 + nx]`` = line ``i`` of the ``n`` lines ``src[s0 + j * stride:][:nx]``,
    filtered by ``w`` across lines (clamped)."""
    r = w.shape[0] // 2
    c, d, nu = _u(s0 + i * stride), _u(d0), _u(nx)
    wc = w[r]
    for x in range(nu):
        dst[d + x] = wc * src[c + x]
    for k in range(r):
        a = _u(s0 + max(i - r + k, 0) * stride)
        b = _u(s0 + min(i + r - k, n - 1) * stride)
        wk = w[k]
        if odd:
            for x in range(nu):
                dst[d + x] += wk * (src[a + x] - src[b + x])
        else:
            for x in range(nu):
                dst[d + x] += wk * (src[a + x] + src[b + x])


@njit(cache=True)
def _filter_buf(buf, w, odd, dst, d0):  # pragma: no cover
    """``dst[d0:d0 + n] = w (*) line`` for the line in ``buf[r:r + n]``; pads ``buf``'s ends."""
    r = w.shape[0] // 2
    n = buf.shape[0] - 2 * r
    for x in range(r):
        buf[x] = buf[r]
        buf[r + n + x] = buf[r + n - 1]
    _filter_lines(buf, 0, 1, buf.shape[0], r, w, odd, dst, d0, n)  # the shifted copies


@njit(parallel=True, cache=True)
def _xy_kernel(vol, nz, ny, nx, wy, odd_y, wx, odd_x, out):  # pragma: no cover
    """Filter every z-plane of the flat C-order volume along x, then y, into ``out`` (one
    plane per thread)."""
    rx = wx.shape[0] // 2
    for z in prange(nz):
        zi = np.int64(z) * ny * nx
        plane = np.empty(ny * nx, np.float32)
        buf = np.empty(nx + 2 * rx, np.float32)
        for y in range(ny):
            row = _u(zi + y * nx)
            for x in range(_u(nx)):
                buf[_u(rx) + x] = vol[row + x]
            _filter_buf(buf, wx, odd_x, plane, y * nx)
        for y in range(ny):
            _filter_lines(plane, 0, nx, ny, y, wy, odd_y, out, zi + y * nx, nx)


@njit(parallel=True, cache=True)
def _z_kernel(vol, nz, ny, nx, w, odd, out):  # pragma: no cover
    """Filter along z into ``out``; one y per thread, z innermost so the lines stay in cache."""
    for y in prange(ny):
        yi = np.int64(y) * nx
        for z in range(nz):
            _filter_lines(vol, yi, ny * nx, nz, z, w, odd, out, z * ny * nx + yi, nx)


def _locked(kernel, *args) -> None:
    """Run a parallel kernel, one at a time (numba's threading layer is not re-entrant)."""
    with _chunk.KERNEL_LOCK:
        kernel(*args)


def _separable(vol: np.ndarray, sigma: tuple[float, ...], order: tuple[int, ...],
               truncate: float, out: np.ndarray, tmp: np.ndarray) -> None:
    """float32 ``ndi.gaussian_filter(vol, sigma, order, mode="nearest")`` of a C-contiguous
    float32 volume into the flat ``out``; ``tmp`` is flat scratch of the same size.

    Large arrays are allocated by numpy (which asks for huge pages), not inside the kernels.
    """
    taps = [_taps(s, o, truncate) for s, o in zip(sigma, order, strict=True)]
    odd = [o % 2 == 1 for o in order]
    _locked(_xy_kernel, vol.ravel(), *vol.shape, taps[1], odd[1], taps[2], odd[2], tmp)
    _locked(_z_kernel, tmp, *vol.shape, taps[0], odd[0], out)


def gaussian(volume: np.ndarray, sigma: float | Sequence[float],
             order: int | Sequence[int] = 0, *, truncate: float = 4.0) -> np.ndarray:
    """float32 Gaussian (derivative) filter of a 3D volume.

    The same result as ``scipy.ndimage.gaussian_filter(volume, sigma, order, mode="nearest",
    truncate=truncate)`` to float32 rounding, several times faster (parallel numba kernels).

    Parameters
    ----------
    volume : (Z, Y, X) array_like
        Volume, axes ``(z, y, x)``; computed in float32.
    sigma : float or (3,) sequence of float
        Standard deviation per axis in voxels (> 0).
    order : int or (3,) sequence of int
        Derivative order per axis (0 = smoothing).
    truncate : float, optional
        Kernels are cut at ``truncate`` standard deviations.

    Returns
    -------
    (Z, Y, X) float32 ndarray

    Examples
    --------
    >>> volume = np.zeros((5, 5, 5)); volume[2, 2, 2] = 1
    >>> out = gaussian(volume, 1.0)
    >>> bool(np.allclose(out, ndi.gaussian_filter(volume, 1.0, mode="nearest"), atol=1e-6))
    True
    """
    sig = (float(sigma),) * 3 if np.ndim(sigma) == 0 else tuple(map(float, sigma))
    orders = (int(order),) * 3 if np.ndim(order) == 0 else tuple(map(int, order))
    vol = np.ascontiguousarray(volume, dtype=np.float32)
    if vol.ndim != 3 or len(sig) != 3 or len(orders) != 3:
        raise ValueError("volume must be 3D, with one sigma and one order per axis")
    if min(sig) <= 0 or min(orders) < 0:
        raise ValueError(f"sigma must be > 0 and order >= 0, got {sigma!r}, {order!r}")
    out = np.empty(vol.shape, np.float32)
    _separable(vol, sig, orders, truncate, out.ravel(), np.empty(vol.size, np.float32))
    return out
