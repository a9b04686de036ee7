"""Resampling of closed curves and tubes onto straight grids, and the inverse mapping.

``unfold_polar`` and ``sample_normals`` turn an image into a cost grid whose depth axis runs
along rays or curve normals; ``polar_to_points`` and ``normals_to_points`` turn the
``heights`` found by :func:`detect_surfaces` on that grid back into ``(y, x)`` points.
They are the functional form of :class:`PolarGrid` and :class:`CurveNormalGrid`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _validate
from ._grids import CurveNormalGrid, PolarGrid

__all__ = ["normals_to_points", "polar_to_points", "sample_normals", "unfold_polar"]


def _centres(center: Any, n_slices: int | None) -> np.ndarray:
    """Centre(s) as ``(2,)`` for an image, ``(Z, 2)`` for a volume."""
    c = np.asarray(_validate.array(center, "center", ndim=(1, 2), allow_dask=False), np.float64)
    if c.shape[-1] != 2 or (c.ndim == 2 and c.shape[0] != n_slices):
        want = "(2,)" if n_slices is None else f"(2,) or ({n_slices}, 2)"
        raise ValueError(f"center must be (y, x) with shape {want}; got shape {c.shape}")
    return c if n_slices is None else np.broadcast_to(c, (n_slices, 2))


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
    PolarGrid : the same sampling as an object, with the inverse mappings.
    polar_to_points : the inverse mapping of heights on this grid.

    Examples
    --------
    >>> yy, xx = np.mgrid[:21, :21]
    >>> disk = (np.hypot(yy - 10, xx - 10) < 6).astype(float)
    >>> u = unfold_polar(disk, (10, 10), np.arange(10), 8)
    >>> u.shape, u[:, 0].tolist()
    ((10, 8), [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    """
    img = _validate.array(image, "image", ndim=(2, 3), allow_dask=False)
    _validate.centre_reaches(center, float(np.abs(np.asarray(radii, float)).max(initial=0)),
                             img.shape)
    center = _centres(center, img.shape[0] if img.ndim == 3 else None)
    return PolarGrid(center, radii, n_angles).sample(img)


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
    return PolarGrid(center, radii, n_angles).points(heights)


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
    CurveNormalGrid, curve_normals, normals_to_points

    Examples
    --------
    >>> yy, xx = np.mgrid[:21, :21]
    >>> disk = (np.hypot(yy - 10, xx - 10) < 6).astype(float)
    >>> curve = polar_to_points(np.full(16, 4), (10, 10), np.arange(10), 16)
    >>> s = sample_normals(disk, curve, np.arange(-2, 5))
    >>> s.shape, s[:, 0].tolist()
    ((7, 16), [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    """
    return CurveNormalGrid(curve, offsets).sample(image)


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
    return CurveNormalGrid(curve, offsets).points(heights)
