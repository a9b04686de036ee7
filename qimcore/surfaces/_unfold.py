"""Resampling of closed curves and tubes onto straight grids, and the inverse mapping.

``unfold_polar`` and ``sample_normals`` turn an image into a cost grid whose depth axis runs
along rays or curve normals; ``polar_to_points`` and ``normals_to_points`` turn the
``heights`` found by :func:`detect_surfaces` on that grid back into ``(y, x)`` points.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage as ndi

from .. import _validate

__all__ = ["curve_normals", "normals_to_points", "polar_to_points", "sample_normals",
           "unfold_polar"]


def _angles(n_angles: int) -> np.ndarray:
    _validate.positive(n_angles, "n_angles", integer=True)
    return 2 * np.pi * np.arange(n_angles) / n_angles


def _vector(values: Any, name: str) -> np.ndarray:
    return np.asarray(_validate.array(values, name, ndim=1, allow_dask=False), np.float64)


def _centres(center: Any, n_slices: int | None) -> np.ndarray:
    """Centre(s) as ``(2,)`` for an image, ``(Z, 2)`` for a volume."""
    c = np.asarray(_validate.array(center, "center", ndim=(1, 2), allow_dask=False), np.float64)
    if c.shape[-1] != 2 or (c.ndim == 2 and c.shape[0] != n_slices):
        want = "(2,)" if n_slices is None else f"(2,) or ({n_slices}, 2)"
        raise ValueError(f"center must be (y, x) with shape {want}; got shape {c.shape}")
    return c if n_slices is None else np.broadcast_to(c, (n_slices, 2))


def _sample(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear samples of a 2D image or 3D volume at ``(Z,) + (..., 2)`` (y, x) points."""
    coords = np.moveaxis(points, -1, 0)
    if image.ndim == 3:
        z = np.arange(image.shape[0]).reshape((-1,) + (1,) * (points.ndim - 2))
        coords = np.concatenate([np.broadcast_to(z, points.shape[:-1])[None], coords])
    return ndi.map_coordinates(image, coords, order=1, mode="nearest", output=np.float32)


def _image(image: Any) -> np.ndarray:
    img = _validate.array(image, "image", ndim=(2, 3), allow_dask=False)
    return np.asarray(img, np.float32)


def unfold_polar(image: Any, center: Any, radii: Any, n_angles: int) -> np.ndarray:
    """Sample an image on rays from a centre: the polar unfolding of a closed curve.

    Ray ``j`` has angle ``theta_j = 2 pi j / n_angles`` and visits
    ``(y, x) = center + r (sin theta_j, cos theta_j)`` for ``r`` in ``radii``. Samples are
    bilinear, with the nearest edge value outside the image.

    Parameters
    ----------
    image : (Y, X) or (Z, Y, X) array_like
        Image, or volume whose slices are unfolded one by one (a tube along ``z``).
    center : (2,) or (Z, 2) array_like of float
        ``(y, x)`` centre in pixels; one per slice for a volume (a centre line).
    radii : (R,) array_like of float
        Distances from the centre in pixels, ascending for use as a depth axis.
    n_angles : int
        Number of rays.

    Returns
    -------
    unfolded : (R, n_angles) or (R, Z, n_angles) ndarray of float32
        Radius first, so it can serve directly as ``cost`` for :func:`detect_surfaces`
        (with ``wrap=0`` for an image, ``wrap=1`` for a volume).

    See Also
    --------
    polar_to_points : the inverse mapping of heights on this grid.

    Examples
    --------
    >>> yy, xx = np.mgrid[:21, :21]
    >>> disk = (np.hypot(yy - 10, xx - 10) < 6).astype(float)
    >>> u = unfold_polar(disk, (10, 10), np.arange(10), 8)
    >>> u.shape, u[:, 0].tolist()
    ((10, 8), [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    """
    img = _image(image)
    r = _vector(radii, "radii")
    _validate.centre_reaches(center, float(np.abs(r).max(initial=0)), img.shape)
    theta = _angles(n_angles)
    ray = np.stack([np.sin(theta), np.cos(theta)], axis=-1)          # (A, 2)
    if img.ndim == 2:
        points = _centres(center, None) + r[:, None, None] * ray      # (R, A, 2)
        return _sample(img, points)
    c = _centres(center, img.shape[0])
    points = c[:, None, None] + r[None, :, None, None] * ray           # (Z, R, A, 2)
    return np.moveaxis(_sample(img, points), 1, 0)


def _height_values(heights: Any, grid: np.ndarray, name: str) -> np.ndarray:
    """Map (possibly fractional) indices into ``grid`` to grid values, linearly."""
    h = np.asarray(_validate.array(heights, "heights", allow_dask=False), np.float64)
    if h.min() < 0 or h.max() > len(grid) - 1:
        raise ValueError(f"heights must index {name}: 0 <= heights <= {len(grid) - 1}; "
                         f"got range [{h.min()}, {h.max()}]")
    return np.interp(h, np.arange(len(grid)), grid)


def polar_to_points(heights: Any, center: Any, radii: Any, n_angles: int) -> np.ndarray:
    """Map heights on a polar unfolding back to ``(y, x)`` points (inverse of `unfold_polar`).

    Parameters
    ----------
    heights : (..., n_angles) array_like
        Indices into ``radii`` (fractional ones are interpolated), e.g. one surface of
        :func:`detect_surfaces`; leading axes may be surfaces and/or slices.
    center : (2,) or (Z, 2) array_like of float
        The ``(y, x)`` centre(s) used for unfolding; ``(Z, 2)`` needs ``heights`` of shape
        ``(..., Z, n_angles)``.
    radii : (R,) array_like of float
        The radii used for unfolding, in pixels.
    n_angles : int
        The number of rays used for unfolding.

    Returns
    -------
    points : heights.shape + (2,) ndarray of float64
        ``(y, x)`` positions in pixels, one closed curve along the angle axis.

    Examples
    --------
    >>> pts = polar_to_points([2, 2, 2, 2], (5, 5), np.arange(4), 4)
    >>> np.round(pts, 6).tolist()
    [[5.0, 7.0], [7.0, 5.0], [5.0, 3.0], [3.0, 5.0]]
    """
    r = _height_values(heights, _vector(radii, "radii"), "radii")
    theta = _angles(n_angles)
    if r.shape[-1] != n_angles:
        raise ValueError(f"heights must have n_angles={n_angles} values on its last axis; "
                         f"got shape {r.shape}")
    c = np.asarray(_validate.array(center, "center", ndim=(1, 2), allow_dask=False), np.float64)
    if c.shape[-1] != 2 or (c.ndim == 2 and (r.ndim < 2 or r.shape[-2] != c.shape[0])):
        raise ValueError(f"center must be (2,), or (Z, 2) for heights of shape (..., Z, "
                         f"n_angles); got center {c.shape} for heights {r.shape}")
    offset = np.stack([r * np.sin(theta), r * np.cos(theta)], axis=-1)
    return offset + (c if c.ndim == 1 else c[:, None, :])


def curve_normals(curve: Any) -> np.ndarray:
    """Unit outward normals of a closed curve.

    The tangent at point ``i`` is the central difference ``curve[i+1] - curve[i-1]``
    (cyclic); the normal is perpendicular to it and points away from the enclosed region
    whatever the orientation of the curve.

    Parameters
    ----------
    curve : (n, 2) or (Z, n, 2) array_like of float
        Closed curve(s) of ``(y, x)`` points in pixels (last point not repeated).

    Returns
    -------
    normals : same shape as ``curve``, ndarray of float64
        Unit ``(y, x)`` vectors.

    Examples
    --------
    >>> square = [[0, 0], [0, 2], [2, 2], [2, 0]]
    >>> np.round(curve_normals(square) * np.sqrt(2), 6).tolist()
    [[-1.0, -1.0], [-1.0, 1.0], [1.0, 1.0], [1.0, -1.0]]
    """
    c = np.asarray(_validate.array(curve, "curve", ndim=(2, 3), allow_dask=False), np.float64)
    if c.shape[-1] != 2 or c.shape[-2] < 3:
        raise ValueError(f"curve must be (n, 2) (y, x) points with n >= 3; got shape {c.shape}")
    t = np.roll(c, -1, axis=-2) - np.roll(c, 1, axis=-2)
    normal = np.stack([-t[..., 1], t[..., 0]], axis=-1)
    y, x = c[..., 0], c[..., 1]
    area = (y * np.roll(x, -1, axis=-1) - x * np.roll(y, -1, axis=-1)).sum(axis=-1)
    normal *= np.where(area > 0, -1.0, 1.0)[..., None, None]
    length = np.linalg.norm(normal, axis=-1, keepdims=True)
    if (length == 0).any():
        raise ValueError("curve has repeated neighbouring points: its normal is undefined")
    return normal / length


def sample_normals(image: Any, curve: Any, offsets: Any) -> np.ndarray:
    """Sample an image along the outward normals of a closed curve (bilinear).

    Parameters
    ----------
    image : (Y, X) or (Z, Y, X) array_like
        Image, or volume with one curve per slice.
    curve : (n, 2) or (Z, n, 2) array_like of float
        Closed ``(y, x)`` curve in pixels; one per slice for a volume.
    offsets : (K,) array_like of float
        Signed distances along the unit outward normal in pixels, ascending for use as a
        depth axis (negative = inside).

    Returns
    -------
    samples : (K, n) or (K, Z, n) ndarray of float32
        Offset first, ready as ``cost`` for :func:`detect_surfaces` (``wrap=0`` or ``wrap=1``).

    See Also
    --------
    curve_normals, normals_to_points

    Examples
    --------
    >>> yy, xx = np.mgrid[:21, :21]
    >>> disk = (np.hypot(yy - 10, xx - 10) < 6).astype(float)
    >>> curve = polar_to_points(np.full(16, 4), (10, 10), np.arange(10), 16)
    >>> s = sample_normals(disk, curve, np.arange(-2, 5))
    >>> s.shape, s[:, 0].tolist()
    ((7, 16), [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    """
    img = _image(image)
    normals = curve_normals(curve)
    c = np.asarray(curve, np.float64)
    if c.ndim != img.ndim or (img.ndim == 3 and c.shape[0] != img.shape[0]):
        raise ValueError(f"curve must be (n, 2) for an image or (Z, n, 2) for a volume of "
                         f"{img.shape[0] if img.ndim == 3 else 'Z'} slices; got {c.shape}")
    d = _vector(offsets, "offsets")
    if img.ndim == 2:
        return _sample(img, c + d[:, None, None] * normals)              # (K, n, 2)
    points = c[:, None] + d[None, :, None, None] * normals[:, None]       # (Z, K, n, 2)
    return np.moveaxis(_sample(img, points), 1, 0)


def normals_to_points(heights: Any, curve: Any, offsets: Any) -> np.ndarray:
    """Map heights on a normal sampling back to ``(y, x)`` points (inverse of `sample_normals`).

    Parameters
    ----------
    heights : (..., n) array_like
        Indices into ``offsets`` (fractional ones are interpolated); for a ``(Z, n, 2)``
        curve the shape is ``(..., Z, n)``.
    curve : (n, 2) or (Z, n, 2) array_like of float
        The curve used for sampling.
    offsets : (K,) array_like of float
        The offsets used for sampling, in pixels.

    Returns
    -------
    points : heights.shape + (2,) ndarray of float64
        ``curve + offsets[heights] * normals``: new closed ``(y, x)`` curve(s).

    Examples
    --------
    >>> square = [[0, 0], [0, 2], [2, 2], [2, 0]]
    >>> pts = normals_to_points([1, 1, 1, 1], square, [0, np.sqrt(2)])
    >>> np.round(pts, 6).tolist()
    [[-1.0, -1.0], [-1.0, 3.0], [3.0, 3.0], [3.0, -1.0]]
    """
    d = _height_values(heights, _vector(offsets, "offsets"), "offsets")
    normals = curve_normals(curve)
    c = np.asarray(curve, np.float64)
    if d.shape[-c.ndim + 1:] != c.shape[:-1]:
        raise ValueError(f"heights must end with the curve's shape {c.shape[:-1]}; "
                         f"got {d.shape}")
    return c + d[..., None] * normals
