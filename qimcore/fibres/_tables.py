"""Per-fibre tables, breaks and the composite summary."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage as ndi
from scipy.spatial import cKDTree

from .. import _units, _validate
from ._diameter import _fit_radii, _fit_radius
from ._geometry import _check_tracks, _chord, _frame, _unit_direction

_ROW_VALUES = ("length", "theta", "phi", "touches_border", "straightness", "curvature",
               "in_volume_extent", "n_points")


def fibre_table(tracks: Any, voxel_size: Any = 1.0, shape: Any = None, *,
                volume: Any = None, diameter: Any = None, bright: bool = True,
                border: float = 3.0) -> pd.DataFrame:
    """One row per fibre track: length, orientation, diameter, shape, border contact.

    Parameters
    ----------
    tracks : list of (n_i, 3) array_like
        Centre points ``(z, y, x)`` in voxels (as returned by :func:`track_fibres`).
    voxel_size : float or (3,) tuple, optional
        Voxel size ``(z, y, x)`` in micrometres.
    shape : tuple of int, optional
        Volume shape; needed for ``touches_border`` and ``in_volume_extent`` (else NA / NaN).
    volume : (Z, Y, X) array_like, optional
        Grey-value volume to measure each diameter: a blurred disc fitted to the mean radial
        intensity profile around the track (perpendicular to it).
    diameter : float or (n_tracks,) array_like, optional
        Known diameter(s) in micrometres, used when ``volume`` is None (else NaN).
    bright : bool, optional
        Fibres are brighter than the matrix in ``volume``.
    border : float, optional
        A track touches the border when an end lies within ``border`` voxels of a face.

    Returns
    -------
    pandas.DataFrame
        ``length`` (µm, along the centre line), ``theta`` (degrees to the z axis, 0-90),
        ``phi`` (azimuth of the ``(y, x)`` projection, degrees from x towards y, -180..180),
        ``diameter`` (µm), ``touches_border``, ``straightness`` (end-to-end / length, <= 1),
        ``curvature`` (1/µm, from a quadratic fit along the track), ``in_volume_extent``
        (µm, length of the track's line inside the volume), ``n_points``.

    Examples
    --------
    >>> track = np.column_stack([np.arange(11.0), np.full(11, 5.0), np.full(11, 5.0)])
    >>> row = fibre_table([track], voxel_size=2.0, shape=(11, 11, 11), diameter=7.0).iloc[0]
    >>> float(row.length), float(row.theta), bool(row.touches_border)
    (20.0, 0.0, True)
    """
    trs = _check_tracks(tracks)
    vs = np.asarray(_units.voxel_size(voxel_size, 3))
    n = len(trs)
    diam = np.full(n, np.nan)
    if volume is not None:
        diam = _diameters(trs, volume, vs, bright=bright)
    elif diameter is not None:
        dval = np.broadcast_to(np.asarray(diameter, float), (n,)) if np.ndim(diameter) == 0 \
            else np.asarray(diameter, float)
        if dval.shape != (n,) or not np.all(dval > 0):
            raise ValueError("diameter must be > 0, one number or one per track")
        diam = dval.astype(float)
    if shape is not None:
        shape = tuple(int(s) for s in shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"shape must be 3 positive integers, got {shape!r}")
    rows = {k: [] for k in _ROW_VALUES}
    for pts in trs:
        phys = pts * vs
        seg = np.linalg.norm(np.diff(phys, axis=0), axis=1)
        length = float(seg.sum())
        v = _unit_direction(phys)
        theta = math.degrees(math.acos(min(1.0, abs(v[0]))))
        phi = math.degrees(math.atan2(v[1], v[2])) if abs(v[0]) < 1 - 1e-12 else 0.0
        s = np.concatenate([[0], np.cumsum(seg)])
        if len(pts) >= 3 and length > 0:
            coef = np.polyfit(s, phys, 2)
            curv = float(2 * np.linalg.norm(coef[0]))
        else:
            curv = 0.0
        rows["length"].append(length)
        rows["theta"].append(theta)
        rows["phi"].append(phi)
        rows["straightness"].append(float(np.linalg.norm(phys[-1] - phys[0]) / length)
                                    if length > 0 else 1.0)
        rows["curvature"].append(curv)
        rows["n_points"].append(len(pts))
        if shape is None:
            rows["touches_border"].append(pd.NA)
            rows["in_volume_extent"].append(np.nan)
        else:
            hi = np.asarray(shape) - 1
            ends = pts[[0, -1]]
            near = (ends < border) | (ends > hi - border)
            rows["touches_border"].append(bool(near.any()))
            rows["in_volume_extent"].append(_chord(phys, v, hi * vs))
    df = pd.DataFrame({
        "length": np.asarray(rows["length"], float),
        "theta": np.asarray(rows["theta"], float),
        "phi": np.asarray(rows["phi"], float),
        "diameter": diam,
        "touches_border": pd.array(rows["touches_border"], dtype="boolean"),
        "straightness": np.asarray(rows["straightness"], float),
        "curvature": np.asarray(rows["curvature"], float),
        "in_volume_extent": np.asarray(rows["in_volume_extent"], float),
        "n_points": np.asarray(rows["n_points"], np.int64),
    })
    return df


def _diameters(tracks: list[np.ndarray], volume: Any, vs: np.ndarray, *, bright: bool
               ) -> np.ndarray:
    """Diameter of each track (µm) from its mean radial cross-section profile.

    The profile is averaged over up to 24 centre points and 16 angles in the plane
    perpendicular to the track, out to ``reach`` (1.2 times the median distance to the nearest
    other track, at most 20 voxels). The mean of all profiles is fitted with a blurred disc
    (as in :func:`estimate_diameter`); each track's radius is then fitted with that blur.
    """
    vol = np.asarray(_validate.array(volume, "volume", ndim=3), np.float32)
    if not bright:
        vol = -vol
    out = np.full(len(tracks), np.nan)
    if len(tracks) == 0:
        return out
    reach = 20.0 * float(vs.min())
    if len(tracks) > 1:
        pts = np.concatenate([t[:: max(1, len(t) // 8)] * vs for t in tracks])
        owner = np.concatenate([np.full(len(t[:: max(1, len(t) // 8)]), i)
                                for i, t in enumerate(tracks)])
        mids = np.array([t[len(t) // 2] * vs for t in tracks])
        dist, nb = cKDTree(pts).query(mids, k=min(len(pts), 16))
        other = owner[nb] != np.arange(len(tracks))[:, None]
        near = np.where(other, dist, np.inf).min(1)
        if np.isfinite(near).any():
            reach = min(reach, 1.2 * float(np.median(near[np.isfinite(near)])))
    radii = np.arange(0, reach, 0.25 * float(vs.min()))
    profiles = []
    for pts in tracks:  # profiles in voxel coordinates of points spaced in µm
        phys = pts[:: max(1, len(pts) // 24)] * vs
        w = _unit_direction(pts * vs)
        frame = _frame(w)
        ang = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        ring = np.cos(ang)[:, None] * frame[1] + np.sin(ang)[:, None] * frame[2]
        where = phys[:, None, None] + radii[None, :, None, None] * ring[None, None]
        prof = ndi.map_coordinates(vol, (where / vs).reshape(-1, 3).T, order=1, mode="nearest")
        profiles.append(prof.reshape(where.shape[:3]).mean(axis=(0, 2)))
    radius, blur, end = _fit_radius(radii, np.mean(profiles, 0), reach)
    if np.isfinite(radius):
        out[:] = 2 * _fit_radii(radii, np.asarray(profiles), radius, blur, end)
    return out


def fibre_summary(table: pd.DataFrame, shape: Any, voxel_size: Any = 1.0, *,
                  e_fibre: float = 72.0, e_matrix: float = 3.5,
                  volume_fraction: float | None = None) -> pd.DataFrame:
    """Fibre count, volume fraction, orientation tensor and an ESTIMATED stiffness per axis.

    The stiffness is a rule-of-mixtures estimate with Krenchel's orientation efficiency,
    ``E_i = eta_i V_f E_f + (1 - V_f) E_m`` with ``eta_i = sum_k w_k cos^4(angle_k, axis i)``,
    weights ``w_k`` proportional to fibre volume (length * diameter^2). It ignores fibre
    length effects, interfaces and voids: an estimate, not a measurement.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`fibre_table` (``length``, ``theta``, ``phi``, ``diameter``).
    shape : tuple of int
        Volume shape ``(Z, Y, X)``.
    voxel_size : float or (3,) tuple, optional
        Voxel size in micrometres.
    e_fibre, e_matrix : float, optional
        Young's moduli in GPa; defaults E-glass (72 GPa) and epoxy (3.5 GPa).
    volume_fraction : float, optional
        Fibre volume fraction; by default ``sum(length * pi d^2 / 4) / volume``.

    Returns
    -------
    pandas.DataFrame
        One row: ``n_fibres``, ``volume_fraction``, ``a2_zz``, ``a2_yy``, ``a2_xx``, ``a2_zy``,
        ``a2_zx``, ``a2_yx``, ``eta_z``, ``eta_y``, ``eta_x``, ``E_z_estimate``,
        ``E_y_estimate``, ``E_x_estimate`` (GPa).

    Examples
    --------
    >>> table = fibre_table([np.column_stack([np.arange(10.0), np.zeros(10), np.zeros(10)])],
    ...                     diameter=2.0)
    >>> s = fibre_summary(table, (10, 10, 10), volume_fraction=0.5)
    >>> float(s.E_z_estimate[0]), float(s.E_x_estimate[0])
    (37.75, 1.75)
    """
    for name in ("length", "theta", "phi", "diameter"):
        if name not in table:
            raise ValueError(f"table must have a {name!r} column (from fibre_table)")
    vs = np.asarray(_units.voxel_size(voxel_size, 3))
    shape = np.asarray(shape, float)
    if shape.shape != (3,) or (shape < 1).any():
        raise ValueError(f"shape must be 3 positive integers, got {shape!r}")
    _validate.positive(e_fibre, "e_fibre")
    _validate.positive(e_matrix, "e_matrix")
    th, ph = np.radians(table["theta"].to_numpy(float)), np.radians(table["phi"].to_numpy(float))
    v = np.column_stack([np.cos(th), np.sin(th) * np.sin(ph), np.sin(th) * np.cos(ph)])
    diam = table["diameter"].to_numpy(float)
    length = table["length"].to_numpy(float)
    if volume_fraction is None:
        volume_fraction = float(np.nansum(length * np.pi * diam**2 / 4) / np.prod(shape * vs))
    elif not 0 <= volume_fraction <= 1:
        raise ValueError(f"volume_fraction must be in [0, 1], got {volume_fraction!r}")
    dw = np.where(np.isfinite(diam), diam, np.nanmean(diam) if np.isfinite(diam).any() else 1)
    w = length * dw**2
    w = w / w.sum() if w.sum() > 0 else w
    a2 = (v.T * w) @ v
    eta = (w[:, None] * v**4).sum(0)
    out = {"n_fibres": len(table), "volume_fraction": volume_fraction,
           "a2_zz": a2[0, 0], "a2_yy": a2[1, 1], "a2_xx": a2[2, 2], "a2_zy": a2[0, 1],
           "a2_zx": a2[0, 2], "a2_yx": a2[1, 2]}
    for k, ax in enumerate("zyx"):
        out[f"eta_{ax}"] = eta[k]
    for k, ax in enumerate("zyx"):
        out[f"E_{ax}_estimate"] = eta[k] * volume_fraction * e_fibre \
            + (1 - volume_fraction) * e_matrix
    return pd.DataFrame([out])

