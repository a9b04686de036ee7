"""Fibre-axis points: ridges of the scale-normalised Laplacian of Gaussian across the fibres."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi


def _centres(vol: np.ndarray, d0: float, vec: np.ndarray, max_points: int | None = 4000, *,
             every_ridge: bool = False) -> np.ndarray:
    """Sub-voxel fibre-axis points: ridge points of the scale-normalised LoG (scale of ``d0``)
    above its median, the weakest quarter and those below half the response of the strongest
    ridges (95th percentile) dropped, away from the faces, at most
    ``max_points`` (evenly thinned; None: all).

    A ridge point is a maximum within the section across the fibre: of the three axis planes,
    the one most perpendicular to the local direction ``vec`` (3, Z, Y, X). Unlike 3D maxima,
    which along a fibre's nearly constant ridge are few and may all lie near the faces, this
    gives axis points all along every fibre, so few thick fibres in a small volume still show.

    With ``every_ridge`` the points cover every fibre of the volume, as a model of the whole
    volume needs: every ridge point above 0.3 times the response of the strongest ridges,
    faces included.
    """
    s = d0 / (2 * math.sqrt(2))
    log = -(s * s) * ndi.gaussian_laplace(vol, s, mode="nearest")
    size = max(3, int(round(d0 * 0.6)) | 1)
    along = np.argmax(np.abs(vec), axis=0)
    peaks = np.zeros(vol.shape, bool)
    for ax in range(3):
        footprint = [size] * 3
        footprint[ax] = 1
        peaks |= (along == ax) & (log == ndi.maximum_filter(log, size=footprint))
    peaks &= log > (0 if every_ridge else np.median(log))
    if not every_ridge:
        m = int(math.ceil(d0)) + 1
        for ax in range(3):
            sl = [slice(None)] * 3
            sl[ax] = np.r_[0:m, -m:0]
            peaks[tuple(sl)] = False
    idx = np.argwhere(peaks)
    if len(idx) > 3:  # weak ridges are noise between fibres
        val = log[tuple(idx.T)]
        strong = np.quantile(val, 0.95)
        idx = idx[val > (0.3 * strong if every_ridge
                         else max(np.quantile(val, 0.25), 0.5 * strong))]
    if max_points is not None and len(idx) > max_points:
        idx = idx[np.linspace(0, len(idx) - 1, max_points).astype(int)]
    pos = idx.astype(float)
    ax_of = along[tuple(idx.T)]
    top = np.array(vol.shape) - 1
    for ax in range(3):
        e = np.zeros(3, int)
        e[ax] = 1
        fm, f0, fp = (log[tuple(np.clip(idx + k * e, 0, top).T)] for k in (-1, 0, 1))
        den = fm - 2 * f0 + fp
        ok = (den < 0) & (ax_of != ax)  # refined across the fibre only
        pos[:, ax] += np.clip(np.where(ok, 0.5 * (fm - fp) / np.where(ok, den, -1), 0), -0.5, 0.5)
    return pos


def _directions_at(vec: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """The local directions ``vec`` (3, Z, Y, X) at the voxels nearest to the points ``pos``
    (n, 3), as ``(n, 3)``."""
    ip = np.clip(np.round(pos).astype(int), 0, np.array(vec.shape[1:]) - 1)
    return vec[:, ip[:, 0], ip[:, 1], ip[:, 2]].T
