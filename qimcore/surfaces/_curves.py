"""Geometry of closed ``(y, x)`` curves: polygon area, outward normals, radii on polar rays."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _validate

__all__ = ["curve_normals", "polar_radii", "polygon_area", "ray_directions"]


def _curves(curves: Any, name: str, ndim: tuple[int, ...] | None = None) -> np.ndarray:
    c = np.asarray(_validate.array(curves, name, ndim=ndim, allow_dask=False), np.float64)
    if c.ndim < 2 or c.shape[-1] != 2 or c.shape[-2] < 3:
        raise ValueError(f"{name} must be (n, 2) (y, x) points with n >= 3; got shape {c.shape}")
    return c


def polygon_area(curves: Any, *, signed: bool = False) -> np.ndarray | float:
    """Area of closed polygons by the shoelace formula.

    Parameters
    ----------
    curves : (..., n, 2) array_like of float
        Closed ``(y, x)`` polygons (last point not repeated), in any unit.
    signed : bool, keyword-only
        Return ``1/2 sum(x_i y_(i+1) - x_(i+1) y_i)``: positive when the points run
        clockwise on screen (``y`` down, ``x`` right), i.e. counter-clockwise in ``(x, y)``.

    Returns
    -------
    area : float or ndarray of float64, shape ``curves.shape[:-2]``
        Area in squared units (a float for one polygon).

    Examples
    --------
    >>> square = [[0, 0], [0, 4], [2, 4], [2, 0]]      # 2 high (y), 4 wide (x)
    >>> float(polygon_area(square)), float(polygon_area(square[::-1], signed=True))
    (8.0, -8.0)
    """
    c = _curves(curves, "curves")
    y, x = c[..., 0], c[..., 1]
    a = (x * np.roll(y, -1, axis=-1) - np.roll(x, -1, axis=-1) * y).sum(axis=-1) / 2
    return a if signed else np.abs(a)


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
    c = _curves(curve, "curve", ndim=(2, 3))
    t = np.roll(c, -1, axis=-2) - np.roll(c, 1, axis=-2)
    normal = np.stack([-t[..., 1], t[..., 0]], axis=-1)
    normal *= np.where(polygon_area(c, signed=True) < 0, -1.0, 1.0)[..., None, None]
    length = np.linalg.norm(normal, axis=-1, keepdims=True)
    if (length == 0).any():
        raise ValueError("curve has repeated neighbouring points: its normal is undefined")
    return normal / length


def ray_directions(n_angles: int) -> np.ndarray:
    """Unit ``(y, x)`` directions of the rays of a polar unfolding.

    Ray ``j`` has angle ``theta_j = 2 pi j / n_angles`` and direction
    ``(sin theta_j, cos theta_j)``: ray 0 points along ``+x``, ray ``n_angles / 4`` along ``+y``.

    Parameters
    ----------
    n_angles : int
        Number of rays (> 0).

    Returns
    -------
    directions : (n_angles, 2) ndarray of float64

    Examples
    --------
    >>> np.round(ray_directions(4), 6).tolist()
    [[0.0, 1.0], [1.0, 0.0], [0.0, -1.0], [-1.0, -0.0]]
    """
    theta = _angles(n_angles)
    return np.stack([np.sin(theta), np.cos(theta)], axis=-1)


def _angles(n_angles: int) -> np.ndarray:
    _validate.positive(n_angles, "n_angles", integer=True)
    return 2 * np.pi * np.arange(n_angles) / n_angles


def polar_radii(curves: Any, center: Any, n_angles: int) -> np.ndarray:
    """Radii of closed star-shaped curves on the rays of a polar unfolding.

    The inverse of :func:`polar_to_points` in pixels: the curve's distance from ``center``
    is interpolated linearly (and periodically) in the angle of its points to the angles
    ``2 pi j / n_angles`` of :func:`ray_directions`. The curve may have any number of points
    and must be star-shaped around ``center`` (each ray crosses it once).

    Parameters
    ----------
    curves : (n, 2) or (..., n, 2) array_like of float
        Closed ``(y, x)`` curves in pixels (last point not repeated).
    center : (2,) or (..., 2) array_like of float
        ``(y, x)`` centre(s), one per curve or one for all.
    n_angles : int
        Number of rays.

    Returns
    -------
    radii : (..., n_angles) ndarray of float64
        Distance from the centre along each ray, in pixels.

    Examples
    --------
    >>> theta = np.linspace(0, 2 * np.pi, 50, endpoint=False)
    >>> circle = 5 + 3 * np.stack([np.sin(theta), np.cos(theta)], axis=-1)
    >>> np.round(polar_radii(circle, (5, 5), 4), 6).tolist()
    [3.0, 3.0, 3.0, 3.0]
    """
    c = _curves(curves, "curves")
    centre = np.asarray(_validate.array(center, "center", allow_dask=False), np.float64)
    if centre.shape[-1:] != (2,):
        raise ValueError(f"center must be (y, x) with shape (..., 2); got {centre.shape}")
    d = c - centre[..., None, :]
    angle = np.arctan2(d[..., 0], d[..., 1]) % (2 * np.pi)
    radius = np.hypot(d[..., 0], d[..., 1])
    theta = _angles(n_angles)
    flat_a, flat_r = angle.reshape(-1, angle.shape[-1]), radius.reshape(-1, angle.shape[-1])
    out = np.stack([np.interp(theta, a, r, period=2 * np.pi) for a, r in zip(flat_a, flat_r)])
    return out.reshape(angle.shape[:-1] + (n_angles,))
