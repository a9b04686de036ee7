"""Fibre radius and blur from a model of the whole volume: blurred cylinders around the
detected fibre axes on a flat matrix, fitted by least squares."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi
from scipy.optimize import minimize
from scipy.spatial import cKDTree

from ._orientation import _orientation_np
from ._ridges import _centres, _directions_at


def _smooth_axes(pos: np.ndarray, directions: np.ndarray, diameter: float,
                 length: float = 3.0) -> np.ndarray:
    """Axis points ``(n, 3)`` moved, across their fibre, to the mean of the points of the same
    fibre within ``length`` voxels along it (closer than half a ``diameter`` across): the
    detection jitter averaged out."""
    dist, j = cKDTree(pos).query(pos, k=48, distance_upper_bound=length + 0.5 * diameter)
    valid = np.isfinite(dist)
    rel = pos[np.where(valid, j, 0)] - pos[:, None]
    along = np.einsum("nkc,nc->nk", rel, directions)
    across = rel - along[..., None] * directions[:, None]
    same = valid & (np.abs(along) <= length) & (np.linalg.norm(across, axis=-1) < 0.5 * diameter)
    return pos + (across * same[..., None]).sum(1) / np.maximum(same.sum(1), 1)[:, None]


def _axis_distance(shape: tuple[int, ...], pos: np.ndarray, directions: np.ndarray
                   ) -> np.ndarray:
    """Distance of every voxel from the fibre axis through its nearest axis point (the line
    through that point along its direction)."""
    grid = np.indices(shape, dtype=np.float32).reshape(3, -1).T
    _, j = cKDTree(pos).query(grid)
    rel = grid - pos[j]
    along = np.einsum("nc,nc->n", rel, directions[j])
    return np.sqrt(np.maximum((rel ** 2).sum(1) - along ** 2, 0.0)).reshape(shape)


def _fit_cylinders(crop: np.ndarray, distance: np.ndarray, scale: float, margin: int
                   ) -> tuple[float, float, float]:
    """Radius, blur and mean squared residual of the best model ``level + contrast * G * C``:
    ``C`` the cylinders (partial-volume discs of the radius around the axes at ``distance``),
    ``G`` a Gaussian of the blur, voxels ``margin`` or more from the faces compared.

    The level and contrast are solved linearly for each radius and blur; the radius (bounded
    by 0.1-1.5 times ``scale``, a diameter) and blur (0.05-0.4 times ``scale``) by Nelder-Mead
    from half and a fifth of ``scale``.
    """
    inner = tuple(slice(margin, n - margin) for n in crop.shape)
    data = crop[inner].ravel().astype(np.float64)

    def residual(p: np.ndarray) -> float:
        radius, blur = p
        if not (0.1 * scale <= radius <= 1.5 * scale and 0.05 * scale <= blur <= 0.4 * scale):
            return math.inf
        cylinders = np.clip(radius + 0.5 - distance, 0.0, 1.0).astype(np.float32)
        model = ndi.gaussian_filter(cylinders, blur, mode="nearest")[inner].ravel()
        basis = np.column_stack([np.ones_like(model), model])
        coef = np.linalg.lstsq(basis, data, rcond=None)[0]
        return float(((data - basis @ coef) ** 2).mean())

    res = minimize(residual, [0.5 * scale, 0.2 * scale], method="Nelder-Mead",
                   options={"xatol": 0.01, "fatol": 1e-9, "maxiter": 120})
    return float(res.x[0]), float(res.x[1]), float(res.fun)


def _model_diameter(crop: np.ndarray, d0: float) -> float:
    """Fibre diameter (voxels) of the cylinder model that fits ``crop`` (a standardised
    volume, fibres bright) best, over axes detected at trial diameters ``d0 * 2**(k/4)``,
    ``k = -2..3`` (NaN where none fits).

    Each trial detects every ridge of the Laplacian of Gaussian at its scale, averages the
    points along each fibre over 3 voxels (:func:`_smooth_axes`) and fits radius and blur
    (:func:`_fit_cylinders`); the fit with the least residual wins. Unlike the mean radial
    profile, the model places every neighbour where it is, so the blurred edges of packed
    neighbours are no model error that the radius-blur trade-off turns into a smaller radius.
    """
    trials = [d0 * 2 ** (k / 4) for k in range(-2, 4)]
    trials = [c for c in trials if c < min(crop.shape) / 3]
    if not trials:
        return math.nan
    margin = int(math.ceil(max(trials))) + 1
    best = (math.inf, math.nan)
    for c in trials:
        vec = _orientation_np(crop, max(0.5, c / 4), c, 4.0)
        pos = _centres(crop, c, vec, None, every_ridge=True)
        if len(pos) < 3:
            continue
        directions = _directions_at(vec, pos)
        pos = _smooth_axes(pos, directions, c)
        radius, _, residual = _fit_cylinders(crop, _axis_distance(crop.shape, pos, directions),
                                             c, margin)
        if residual < best[0]:
            best = (residual, 2 * radius)
    return best[1]
