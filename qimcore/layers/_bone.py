"""Trabecular bone morphometry: BV/TV, Tb.Th, Tb.Sp (BoneJ) and calibrated density."""

from __future__ import annotations

import math
from typing import Any

import dask
import dask.array as da
import numpy as np
import pandas as pd

from .. import _units, _validate
from ._thickness import local_thickness

__all__ = ["bone_table"]


def _means(pairs: list[tuple[Any, Any]]) -> list[float]:
    """Means of ``x[where]`` for each pair, in one pass for dask inputs."""
    sums = [(da.where(w, x, 0).sum(dtype=np.float64), w.sum()) if isinstance(x, da.Array)
            or isinstance(w, da.Array) else (np.sum(x, where=w, dtype=np.float64), np.sum(w))
            for x, w in pairs]
    sums = dask.compute(*sums)
    return [float(s) / float(n) if n else math.nan for s, n in sums]


def bone_table(mask: Any, voxel_size: Any = 1.0, *, intensity: Any = None,
               calibration: Any = None, roi: Any = None, max_thickness: float | None = None,
               progress: bool = False) -> pd.DataFrame:
    """Trabecular bone morphometry: BV/TV, Tb.Th, Tb.Sp and density.

    Parameters
    ----------
    mask : (Z, Y, X) bool ndarray or dask array
        Bone (True) and marrow/background (False).
    voxel_size : float or sequence of float
        Voxel size in micrometres.
    intensity : ndarray or dask array, keyword-only, optional
        Grey values of the same shape; adds ``density``, the mean intensity in bone.
    calibration : ((float, float), (float, float)), keyword-only, optional
        Two reference pairs ``(intensity, density)``, e.g. of two hydroxyapatite phantoms in
        mg HA/cm³; ``density`` is then mapped linearly through them.
    roi : bool array, keyword-only, optional
        Total volume (TV); the whole volume by default.
    max_thickness : float, keyword-only, optional
        Largest thickness or spacing (µm); required for dask input (see
        :func:`local_thickness`).
    progress : bool, keyword-only
        Progress bars for the local thickness.

    Returns
    -------
    pandas.DataFrame
        One row: ``bv_tv`` (0-1), ``tb_th`` and ``tb_th_std`` (mean and std of the bone's local
        thickness, µm; a plate ``n`` voxels thick reads ``n + 0.5`` voxels for odd ``n`` and
        ``n - 0.5`` for even ``n``, see :func:`local_thickness`), ``tb_sp`` and ``tb_sp_std``
        (same for the marrow within the ROI),
        ``bv`` and ``tv`` (µm³), and ``density`` when ``intensity`` is given.

    Raises
    ------
    ValueError
        When the mask holds no bone, the ROI is empty, or the calibration is degenerate.

    Examples
    --------
    >>> m = np.zeros((12, 12, 12), bool)
    >>> m[:, 4:7, 4:7] = True                            # a 3-voxel rod along z
    >>> t = bone_table(m, voxel_size=10.0)
    >>> round(float(t.bv_tv[0]), 4), float(t.tb_th[0])   # 3.5 voxels (see local_thickness)
    (0.0625, 35.0)
    """
    m = _validate.array(mask, "mask", ndim=3)
    if m.dtype != bool:
        raise TypeError("mask must be a boolean array; threshold the volume first "
                        "(e.g. mask = volume > t)")
    sizes = _units.voxel_size(voxel_size, ndim=3)
    if roi is None:
        roi = np.ones(m.shape, bool) if not isinstance(m, da.Array) else da.ones_like(m)
    else:
        roi = _validate.array(roi, "roi", ndim=3)
        if roi.shape != m.shape:
            raise ValueError(f"roi must have the mask's shape {m.shape}, got {roi.shape}")
        roi = roi.astype(bool)
    bone = m & roi
    n_bone, n_tv = (int(v) for v in dask.compute(bone.sum(), roi.sum()))
    if n_tv == 0:
        raise ValueError("roi is empty: no voxel in the total volume")
    if n_bone == 0:
        raise ValueError("mask is empty: no bone voxel (True) inside the ROI")
    opts = {"max_thickness": max_thickness, "progress": progress}
    th = local_thickness(bone, sizes, **opts)
    sp = local_thickness(roi & ~m, sizes, **opts)
    # (local thickness of the marrow within the ROI: Tb.Sp)
    marrow = roi & ~m
    pairs = [(th, bone), (th * th, bone), (sp, marrow), (sp * sp, marrow)]
    img = None
    if intensity is not None:
        img = _validate.array(intensity, "intensity", ndim=3)
        if img.shape != m.shape:
            raise ValueError(f"intensity must have the mask's shape {m.shape}, got {img.shape}")
        pairs.append((img, bone))
    elif calibration is not None:
        raise ValueError("calibration needs intensity= (the grey values to calibrate)")
    th_mean, th_sq, sp_mean, sp_sq, *density = _means(pairs)
    vox = math.prod(sizes)
    row = {"bv_tv": n_bone / n_tv, "tb_th": th_mean,
           "tb_th_std": math.sqrt(max(th_sq - th_mean ** 2, 0.0)),
           "tb_sp": sp_mean, "tb_sp_std": math.sqrt(max(sp_sq - sp_mean ** 2, 0.0))
           if not math.isnan(sp_mean) else math.nan,
           "bv": n_bone * vox, "tv": n_tv * vox}
    if density:
        row["density"] = _calibrate(density[0], calibration)
    return pd.DataFrame({k: [float(v)] for k, v in row.items()})


def _calibrate(value: float, calibration: Any) -> float:
    if calibration is None:
        return value
    try:
        (i1, d1), (i2, d2) = calibration
        i1, d1, i2, d2 = (float(v) for v in (i1, d1, i2, d2))
    except (TypeError, ValueError) as err:
        raise ValueError("calibration must be ((intensity1, density1), (intensity2, density2)), "
                         f"got {calibration!r}") from err
    if i1 == i2:
        raise ValueError(f"calibration needs two different reference intensities, got {i1}")
    return d1 + (value - i1) * (d2 - d1) / (i2 - i1)
