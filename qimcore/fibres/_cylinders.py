"""Fibre radius and blur from a model of the whole volume: blurred cylinders around the
detected fibre axes on a flat matrix, fitted by least squares."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy import ndimage as ndi
from scipy.optimize import minimize
from scipy.spatial import cKDTree

from ._orientation import _orientation_np
from ._ridges import _centres, _directions_at


def _same_fibre(pos: np.ndarray, directions: np.ndarray, diameter: float, length: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each axis point ``(n, 3)``: indices ``(n, k)`` of the points of the same fibre within
    ``length`` voxels along it (closer than half a ``diameter`` across), a mask ``(n, k)`` of
    the valid ones, and their offsets across the fibre ``(n, k, 3)``."""
    dist, j = cKDTree(pos).query(pos, k=int(4 * length) + 16,
                                 distance_upper_bound=length + 0.5 * diameter)
    valid = np.isfinite(dist)
    j = np.where(valid, j, 0)
    rel = pos[j] - pos[:, None]
    along = np.einsum("nkc,nc->nk", rel, directions)
    across = rel - along[..., None] * directions[:, None]
    same = valid & (np.abs(along) <= length) & (np.linalg.norm(across, axis=-1) < 0.5 * diameter)
    return j, same, across


def _smooth_axes(pos: np.ndarray, directions: np.ndarray, diameter: float,
                 length: float = 3.0) -> np.ndarray:
    """Axis points ``(n, 3)`` moved, across their fibre, to the mean of the points of the same
    fibre within ``length`` voxels along it (closer than half a ``diameter`` across): the
    detection jitter averaged out."""
    _, same, across = _same_fibre(pos, directions, diameter, length)
    return pos + (across * same[..., None]).sum(1) / np.maximum(same.sum(1), 1)[:, None]


def _axis_offsets(shape: tuple[int, ...], pos: np.ndarray, directions: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """For every voxel (raveled): the index of its nearest axis point and its offset ``(3,)``
    across the fibre from the axis line through that point (along the point's direction)."""
    grid = np.indices(shape, dtype=np.float32).reshape(3, -1).T
    _, j = cKDTree(pos).query(grid)
    rel = grid - pos[j]
    along = np.einsum("nc,nc->n", rel, directions[j])
    return j, rel - along[:, None] * directions[j]


def _axis_distance(shape: tuple[int, ...], pos: np.ndarray, directions: np.ndarray
                   ) -> np.ndarray:
    """Distance of every voxel from the fibre axis through its nearest axis point (the line
    through that point along its direction)."""
    return np.linalg.norm(_axis_offsets(shape, pos, directions)[1], axis=1).reshape(shape)


def _cylinders(distance: np.ndarray, radius: float, blur: float) -> np.ndarray:
    """Partial-volume cylinders of ``radius`` around the axes at ``distance``, blurred by a
    Gaussian of sigma ``blur`` (voxels)."""
    cylinders = np.clip(radius + 0.5 - distance, 0.0, 1.0).astype(np.float32)
    return ndi.gaussian_filter(cylinders, blur, mode="nearest")


class _CylinderFit(NamedTuple):
    radius: float
    blur: float
    residual: float  # mean squared
    contrast: float
    model: np.ndarray  # the fitted volume
    variance: float  # of the voxels compared

    def holds(self) -> bool:
        """Whether the fit describes resolved bright fibres: a positive contrast, at least 5 %
        of the variance explained (cylinders that cover every voxel compared make a flat
        model, whose residual is the data's variance and whose contrast is arbitrary) and a
        blur below 0.8 of the radius (beyond, a smaller, more blurred disc of higher contrast
        looks the same: a thin line of blur, whose width and contrast trade off)."""
        return (self.contrast > 0 and self.residual < 0.95 * self.variance
                and self.blur < 0.8 * self.radius)


def _fit_cylinders(crop: np.ndarray, distance: np.ndarray, scale: float, margin: int,
                   start: tuple[float, float] | None = None) -> _CylinderFit:
    """The best model ``level + contrast * G * C`` of ``crop``: ``C`` the cylinders
    (partial-volume discs of the radius around the axes at ``distance``), ``G`` a Gaussian of
    the blur, voxels ``margin`` or more from the faces compared.

    The level and contrast are solved linearly for each radius and blur; the radius (bounded
    by 0.1-1.5 times ``scale``, a diameter) and blur (0.05-0.4 times ``scale``) by Nelder-Mead
    from ``start`` (default half and a fifth of ``scale``).
    """
    inner = tuple(slice(margin, n - margin) for n in crop.shape)
    data = crop[inner].ravel().astype(np.float64)

    data_var = float(data.var())

    def solve(p: np.ndarray) -> tuple[float, float, float, np.ndarray]:
        model = _cylinders(distance, *p)
        x = model[inner].ravel().astype(np.float64)
        x_mean = x.mean()
        x_var = max(float(((x - x_mean) ** 2).mean()), 1e-12)
        cov = float(((x - x_mean) * (data - data.mean())).mean())
        contrast = cov / x_var  # least squares of level + contrast * model, in closed form
        return data_var - cov * contrast, data.mean() - contrast * x_mean, contrast, model

    def residual(p: np.ndarray) -> float:
        radius, blur = p
        if not (0.1 * scale <= radius <= 1.5 * scale and 0.05 * scale <= blur <= 0.4 * scale):
            return math.inf
        return solve(p)[0]

    res = minimize(residual, start or [0.5 * scale, 0.2 * scale], method="Nelder-Mead",
                   options={"xatol": 0.01, "fatol": 1e-9, "maxiter": 120})
    err, level, contrast, model = solve(res.x)
    return _CylinderFit(float(res.x[0]), float(res.x[1]), err, float(contrast),
                        level + contrast * model, data_var)


def _disc_slope(radius: float, blur: float) -> tuple[np.ndarray, np.ndarray]:
    """Radial derivative of a partial-volume disc of ``radius`` blurred by a Gaussian of sigma
    ``blur`` (the cross-section of one model cylinder), tabulated as ``(distance, slope)`` on an
    eighth of a voxel."""
    k = 8
    n = int(math.ceil((radius + 4 * blur + 2) * k))
    rho = np.hypot(*np.mgrid[-n:n + 1, -n:n + 1]) / k
    disc = ndi.gaussian_filter(np.clip(radius + 0.5 - rho, 0.0, 1.0), blur * k)
    r = np.arange(n + 1) / k
    return r, np.gradient(disc[n, n:], r)


def _recentre(crop: np.ndarray, model: np.ndarray, pos: np.ndarray, directions: np.ndarray,
              radius: float, blur: float, contrast: float, diameter: float, length: float
              ) -> np.ndarray:
    """Axis points ``(n, 3)`` moved across their fibre by one Gauss-Newton step of the model's
    least squares, each solved over the voxels of the points of the same fibre within
    ``length`` voxels along it (:func:`_same_fibre`), from their mean position.

    The step of a point's axis line moves the voxels nearest to it as its own blurred disc
    would (``contrast`` times its slope, :func:`_disc_slope`); the rest of ``model`` stays,
    so the neighbours' edges, which bias ridges of the Laplacian of Gaussian by tenths of a
    voxel, are no longer mistaken for the fibre's own.
    """
    j, offset = _axis_offsets(crop.shape, pos, directions)
    rho = np.linalg.norm(offset, axis=1)
    r, slope = _disc_slope(radius, blur)
    grad = (-contrast * np.interp(rho, r, slope, right=0.0) / np.maximum(rho, 1e-6))[:, None] \
        * offset
    residual = (crop - model).ravel()
    n = len(pos)
    normal = np.zeros((n, 3, 3))
    rhs = np.zeros((n, 3))
    np.add.at(normal, j, grad[:, :, None] * grad[:, None, :])
    np.add.at(rhs, j, grad * residual[:, None])
    nb, same, across = _same_fibre(pos, directions, diameter, length)
    normal = (normal[nb] * same[..., None, None]).sum(1)
    rhs = (rhs[nb] * same[..., None]).sum(1)
    along = directions[:, :, None] * directions[:, None, :]
    plane = np.eye(3) - along
    normal = plane @ normal @ plane + along \
        + 1e-3 * np.trace(normal, axis1=1, axis2=2)[:, None, None] * np.eye(3)
    step = np.linalg.solve(normal, (plane @ rhs[..., None]))[..., 0]
    mean = pos + (across * same[..., None]).sum(1) / np.maximum(same.sum(1), 1)[:, None]
    return mean + np.clip(step, -0.5, 0.5)


def _trials_around(d0: float) -> list[float]:
    """Trial diameters ``d0 * 2**(k/4)``, ``k = -2..3``, around a first estimate ``d0``."""
    return [d0 * 2 ** (k / 4) for k in range(-2, 4)]


def _model_diameter(crop: np.ndarray, trials: Sequence[float], rounds: int = 3) -> float:
    """Fibre diameter (voxels) of the cylinder model that fits ``crop`` (a standardised
    volume, fibres bright) best, over axes detected at the trial diameters ``trials`` (e.g.
    :func:`_trials_around` a first estimate), then re-centred (NaN where the fit does not
    hold).

    Each trial detects every ridge of the Laplacian of Gaussian at its scale, averages the
    points along each fibre over 3 voxels (:func:`_smooth_axes`) and fits radius and blur
    (:func:`_fit_cylinders`); the fit with the least residual wins. Unlike the mean radial
    profile, the model places every neighbour where it is, so the blurred edges of packed
    neighbours are no model error that the radius-blur trade-off turns into a smaller radius.
    The winner's axes are then re-centred ``rounds`` times (:func:`_recentre`, over 8 voxels
    of fibre) and radius and blur refitted: ridges of packed neighbours stray by tenths of a
    voxel, and every voxel taking the distance to its nearest axis line makes strayed axes read
    as thinner fibres (0.15 voxel of stray: about -9 % in diameter).

    The final fit must describe resolved bright fibres (:meth:`_CylinderFit.holds`). On the
    phantom families the fits that held to within 10 % had a blur of at most 0.75 of their
    radius; most of those that failed were flat models (few or no fibres inside the crop's
    margin: phantoms whose plies held none, or a trial scale far from the fibres') or had
    blurs of 0.91-1.7 times the radius.
    """
    trials = [c for c in trials if c < min(crop.shape) / 3]
    if not trials:
        return math.nan
    margin = int(math.ceil(max(trials))) + 1
    best = None
    for c in trials:
        vec = _orientation_np(crop, max(0.5, c / 4), c, 4.0)
        pos = _centres(crop, c, vec, None, every_ridge=True)
        if len(pos) < 3:
            continue
        directions = _directions_at(vec, pos)
        pos = _smooth_axes(pos, directions, c)
        fit = _fit_cylinders(crop, _axis_distance(crop.shape, pos, directions), c, margin)
        if best is None or fit.residual < best[0].residual:
            best = (fit, c, pos, directions)
    if best is None:
        return math.nan
    fit, c, pos, directions = best
    for _ in range(rounds):
        pos = _recentre(crop, fit.model, pos, directions, fit.radius, fit.blur, fit.contrast,
                        c, 8.0)
        fit = _fit_cylinders(crop, _axis_distance(crop.shape, pos, directions), c, margin,
                             (fit.radius, fit.blur))
    return 2 * fit.radius if fit.holds() else math.nan
