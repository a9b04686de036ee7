"""Grey values along fibre centre lines: the fibre core's profile, its level over the
matrix and the noise of the profiles."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from ._geometry import _frame

_STEP = 0.5  # voxels between samples along a centre line
_MIN_SNR = 6.0  # noise deviations a fibre's core stands above the matrix (a gap half-way
# down is then a dip of 3)


def _resample(pts: np.ndarray) -> np.ndarray:
    """The polyline through ``pts`` at steps of ``_STEP`` voxels of arc length."""
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    s = np.concatenate([[0], np.cumsum(seg)])
    t = np.arange(0, s[-1] + 1e-9, _STEP)
    return np.column_stack([np.interp(t, s, pts[:, k]) for k in range(3)])


def _core_profile(vol: np.ndarray, line: np.ndarray, radius: float) -> np.ndarray:
    """Mean intensity of the fibre core (the axis and 8 points at half the radius, in the plane
    perpendicular to the local direction) at every point of a resampled centre line."""
    tan = ndi.gaussian_filter1d(line, max(1.0, radius / _STEP), axis=0, order=1,
                                mode="nearest")
    tan /= np.maximum(np.linalg.norm(tan, axis=1, keepdims=True), 1e-12)
    ang = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    frames = _frame(tan)
    ring = (np.cos(ang)[None, :, None] * frames[:, None, 1]
            + np.sin(ang)[None, :, None] * frames[:, None, 2])  # (n, 8, 3)
    pts = np.concatenate([line[:, None], line[:, None] + 0.5 * radius * ring], 1)
    val = ndi.map_coordinates(vol, pts.reshape(-1, 3).T, order=1, mode="nearest")
    return val.reshape(pts.shape[:2]).mean(1)


def _profile_noise(profiles: list[np.ndarray | None], diameter: float) -> float:
    """Noise of the core profiles: 1.4826 times the median absolute deviation of the
    profiles from their running median over two diameters, pooled over all profiles."""
    w = max(3, int(round(2 * diameter / _STEP)) | 1)
    res = [p - ndi.median_filter(p, w, mode="nearest") for p in profiles if p is not None]
    if not res:
        return 0.0
    return 1.4826 * float(np.median(np.abs(np.concatenate(res))))


def _matrix_level(vol: np.ndarray, lines: list[np.ndarray], diameter: float) -> float:
    """Median grey value of the voxels farther than one diameter from every track."""
    near = np.zeros(vol.shape, bool)
    for line in lines:
        idx = np.clip(np.round(line).astype(int), 0, np.asarray(vol.shape) - 1)
        near[tuple(idx.T)] = True
    far = ndi.distance_transform_edt(~near) > diameter
    if far.sum() >= 64:
        return float(np.median(vol[far]))
    return float(np.quantile(vol, 0.05))


def _core_levels(vol: np.ndarray, lines: list[np.ndarray], radius: float
                 ) -> tuple[list[np.ndarray | None], np.ndarray]:
    """Core profile (:func:`_core_profile`) of every resampled centre line (None for lines of
    fewer than three samples) and its median, the line's level (NaN for None)."""
    profiles = [_core_profile(vol, line, radius) if len(line) >= 3 else None for line in lines]
    levels = np.array([np.median(p) if p is not None else np.nan for p in profiles])
    return profiles, levels


def _snr(vol: np.ndarray, tracks: list[np.ndarray], diameter: float) -> np.ndarray:
    """Level of each track's core above the matrix (:func:`_matrix_level`) in noise deviations
    of the core profiles (:func:`_profile_noise`); NaN for tracks of fewer than three samples,
    infinite where the profiles show no noise."""
    lines = [_resample(t) for t in tracks]
    profiles, levels = _core_levels(vol, lines, diameter / 2)
    above = levels - _matrix_level(vol, lines, diameter)
    with np.errstate(divide="ignore", invalid="ignore"):
        return above / _profile_noise(profiles, diameter)
