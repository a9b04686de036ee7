"""Growth layers between surfaces: thickness along the normal, porosity and intensity per layer.

Voxel ``(z, p)`` belongs to layer ``i`` when ``heights[i, p] <= z < heights[i + 1, p]``. Pores
are told from each layer's own material: a voxel is pore when it is darker than the 50 %
iso-level between the pore grey value (shared by all layers) and the grey value of its layer's
material, so layers of different mineral density are measured alike.
"""

from __future__ import annotations

import math
from typing import Any

import dask
import numpy as np
import pandas as pd
from scipy import ndimage as ndi

from .. import _chunk, _units, _validate

__all__ = ["layer_table", "layer_thickness"]

_LAYER_COLUMNS = {"layer": "int64", "thickness_mean": "float64", "thickness_std": "float64",
                  "porosity": "float64", "intensity_mean": "float64", "n_voxels": "int64",
                  "volume": "float64"}
_BINS = 256           # histogram bins over the intensity range, for the per-layer levels
_TAIL = 4.0           # noise standard deviations below a material level that are not material
_MIN_PORES = 1e-3     # fewer darker voxels than this fraction: no pore level, no pores


def _check_heights(heights: Any, shape: tuple[int, ...]) -> np.ndarray:
    h = _validate.array(heights, "heights", ndim=len(shape), allow_dask=False)
    if not np.issubdtype(h.dtype, np.integer):
        raise TypeError(f"heights must be an integer array (voxel indices along z), got {h.dtype}")
    if h.shape[1:] != tuple(shape[1:]):
        raise ValueError(f"heights must have shape (n_surfaces,) + {tuple(shape[1:])} to match "
                         f"the volume {tuple(shape)}; got {h.shape}")
    if h.shape[0] < 2:
        raise ValueError(f"heights must hold at least 2 surfaces to bound a layer; got {h.shape[0]}")
    if h.min() < 0 or h.max() > shape[0]:
        raise ValueError(f"heights must lie in [0, {shape[0]}] (the volume's z range)")
    if np.any(np.diff(h, axis=0) < 0):
        raise ValueError("heights must be ascending along axis 0: heights[i + 1] >= heights[i] "
                         "everywhere (surfaces as returned by detect_surfaces)")
    return h.astype(np.int64)


def layer_thickness(heights: Any, voxel_size: Any = 1.0, *, sigma: float = 1.0) -> np.ndarray:
    """Thickness map of each layer between consecutive surfaces, along the surface normal.

    The z distance between surfaces ``i`` and ``i + 1`` is corrected by the slope of the
    layer's mid-surface ``m = (h[i] + h[i+1]) / 2``: ``t = dz / sqrt(1 + |grad m|^2)``, with the
    gradient in physical units, smoothed by a Gaussian of ``sigma`` columns (integer heights
    are stair-cased). This is exact for parallel planes and first-order accurate for
    gently curved layers.

    Parameters
    ----------
    heights : (n_surfaces, Y, X) or (n_surfaces, X) int ndarray
        Ascending surfaces, as returned by :func:`qimcore.surfaces.detect_surfaces`.
    voxel_size : float or sequence of float
        Voxel size in micrometres, one number or one per axis ``(z, y, x)`` / ``(z, x)``.
    sigma : float, keyword-only
        Smoothing of the slope, in columns; 0 for none.

    Returns
    -------
    (n_surfaces - 1, Y, X) or (n_surfaces - 1, X) float32 ndarray
        Thickness of layer ``i`` at each column, in micrometres.

    Examples
    --------
    >>> h = np.array([[2, 2, 2], [5, 5, 5]])     # flat layer, 3 voxels thick
    >>> layer_thickness(h, voxel_size=2.0).tolist()
    [[6.0, 6.0, 6.0]]
    """
    h = _validate.array(heights, "heights", ndim=(2, 3), allow_dask=False)
    _validate.positive(sigma, "sigma", allow_zero=True)
    sizes = _units.voxel_size(voxel_size, ndim=h.ndim)
    if h.shape[0] < 2:
        raise ValueError(f"heights must hold at least 2 surfaces; got {h.shape[0]}")
    if np.any(np.diff(h, axis=0) < 0):
        raise ValueError("heights must be ascending along axis 0: heights[i + 1] >= heights[i]")
    h = h.astype(np.float64) * sizes[0]
    dz = np.diff(h, axis=0)
    mid = 0.5 * (h[1:] + h[:-1])
    slope2 = np.zeros_like(dz)
    lateral = (0,) + (sigma,) * (h.ndim - 1)
    for axis, step in enumerate(sizes[1:], start=1):
        if mid.shape[axis] < 2:
            continue
        grad = np.gradient(mid, step, axis=axis)
        slope2 += (ndi.gaussian_filter(grad, lateral, mode="nearest") if sigma else grad) ** 2
    return (dz / np.sqrt(1.0 + slope2)).astype(np.float32)


# --------------------------------------------------------------------------- block kernels
def _layer_index(shape: tuple[int, ...], heights: np.ndarray,
                 location: tuple[slice, ...]) -> np.ndarray:
    """Layer of each voxel of a block: -1 below the first surface, n_layers from the last one."""
    h = heights[(slice(None),) + location[1:]]
    z = np.arange(location[0].start, location[0].start + shape[0])
    z = z.reshape((-1,) + (1,) * (len(shape) - 1))
    index = np.full(shape, -1, dtype=np.int32)
    for surface in h:
        index += z >= surface
    return index


def _region_histograms(values: np.ndarray, rows: np.ndarray, n_rows: int, lo: float,
                       hi: float) -> np.ndarray:
    """Intensity histograms ``(n_rows, _BINS)`` over ``[lo, hi]`` of ``values`` by their row
    ``rows`` (int64, same shape, ``0 .. n_rows - 1``)."""
    bins = np.clip(((values - lo) * (_BINS / (hi - lo))).astype(np.int64), 0, _BINS - 1)
    return np.bincount((rows * _BINS + bins).ravel(),
                       minlength=n_rows * _BINS).reshape(n_rows, _BINS)


def _histograms(block: np.ndarray, *, location: tuple[slice, ...], heights: np.ndarray,
                lo: float, hi: float) -> np.ndarray:
    """Intensity histograms of one block: below the layers, each layer, above: (n + 2, _BINS)."""
    index = _layer_index(block.shape, heights, location).astype(np.int64) + 1
    return _region_histograms(block, index, len(heights) + 1, lo, hi)


def _counts(block: np.ndarray, *solid: np.ndarray, location: tuple[slice, ...],
            heights: np.ndarray, thresholds: np.ndarray | None) -> np.ndarray:
    """Per layer ``[n_voxels, n_pore, intensity_sum_in_solid]`` for one block."""
    n_layers = len(heights) - 1
    index = _layer_index(block.shape, heights, location)
    inside = (index >= 0) & (index < n_layers)
    layer = index[inside]
    if solid:
        is_solid = np.asarray(solid[0], dtype=bool)[inside]
    else:
        is_solid = block[inside] > thresholds[layer]
    n_vox = np.bincount(layer, minlength=n_layers)
    n_solid = np.bincount(layer[is_solid], minlength=n_layers)
    isum = np.bincount(layer[is_solid], weights=block[inside][is_solid].astype(np.float64),
                       minlength=n_layers)
    return np.stack([n_vox, n_vox - n_solid, isum], axis=1)


def _sum_blocks(func: Any, arrays: list[Any], **kwargs: Any) -> np.ndarray:
    return sum(result for _, result in _chunk.reduce_blocks(func, *arrays, **kwargs))


# --------------------------------------------------------------------------- pore levels
def _material_level(counts: np.ndarray, centres: np.ndarray) -> tuple[float, float]:
    """Grey value of a layer's material and its noise, from the layer's histogram.

    The material is the bright class of Otsu's split of the layer (the whole peak when the
    layer holds no pores); its level is that class's mode, its noise the half width of the
    peak on the bright side (untouched by pores, which are darker).
    """
    from skimage.filters import threshold_otsu

    smooth = ndi.gaussian_filter1d(counts.astype(np.float64), 1.0)
    nonzero = np.flatnonzero(counts)
    split = (threshold_otsu(hist=(counts, centres)) if len(nonzero) > 1
             else centres[nonzero[0]] - 1.0)
    mode = int(np.argmax(np.where(centres >= split, smooth, -1.0)))
    below = np.flatnonzero(smooth[mode:] < smooth[mode] * math.exp(-0.5))
    width = max(int(below[0]) if len(below) else len(centres) - mode, 1)
    return float(centres[mode]), float(width * (centres[1] - centres[0]))


def _pore_level(hists: np.ndarray, centres: np.ndarray, cuts: np.ndarray) -> float | None:
    """Mode of the voxels darker than the cuts, pooled; None if too few.

    ``hists`` holds the histograms below the layers, of each layer and above the layers;
    ``cuts`` one cut per layer, the voxels outside the layers are cut at the lowest.
    """
    rows = np.r_[cuts.min(), cuts, cuts.min()]
    pooled = (hists * (centres[None] < rows[:, None])).sum(axis=0)
    if pooled.sum() < _MIN_PORES * hists[1:-1].sum():
        return None
    return float(centres[np.argmax(ndi.gaussian_filter1d(pooled.astype(np.float64), 1.0))])


def _layer_thresholds(hists: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Per layer, the 50 % iso-level between the pore grey value and the layer's material.

    ``hists`` are the histograms (:func:`_region_histograms` over ``[lo, hi]``) below the
    layers, of each layer and above them. The pore
    grey value is shared by all layers and the voids around them (air): the mode of the
    voxels more than ``_TAIL`` noise deviations darker than their layer's material (than the
    darkest material outside the layers), refined once with the voxels below the resulting
    iso-levels. Without such voxels there are no pores and the cut sits ``_TAIL`` deviations
    below each material level.
    """
    n_layers = len(hists) - 2
    centres = lo + (np.arange(_BINS) + 0.5) * ((hi - lo) / _BINS)
    levels = np.full(n_layers, np.nan)
    cuts = np.full(n_layers, np.inf)
    for i, counts in enumerate(hists[1:-1]):
        if counts.sum():
            levels[i], noise = _material_level(counts, centres)
            cuts[i] = levels[i] - _TAIL * noise
    pore = _pore_level(hists, centres, cuts)
    if pore is None:
        return cuts
    pore = _pore_level(hists, centres, 0.5 * (pore + levels))
    return 0.5 * (pore + levels)


def _thresholds(volume: Any, heights: np.ndarray) -> np.ndarray:
    lo, hi = (float(v) for v in dask.compute(volume.min(), volume.max()))
    if lo == hi:
        raise ValueError("volume_or_mask is constant: cannot tell pores from material; "
                         "pass material= or threshold=")
    hists = _sum_blocks(_histograms, [volume], heights=heights, lo=lo, hi=hi)
    return _layer_thresholds(hists, lo, hi)


def _porosity(volume: Any, heights: np.ndarray, material: Any,
              threshold: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Voxels, pore voxels, mean solid intensity and thresholds of each layer."""
    n_layers = len(heights) - 1
    if material is not None:
        material = _validate.array(material, "material", ndim=volume.ndim)
        if material.shape != volume.shape:
            raise ValueError(f"material must have the volume's shape {volume.shape}, "
                             f"got {material.shape}")
        if material.dtype != bool:
            material = _validate.probabilities(material, "material", axis=None) >= 0.5
    intensity = volume.dtype != bool
    if not intensity:
        material = volume if material is None else material
        threshold = None
    elif material is None:
        if threshold is None:
            threshold = _thresholds(volume, heights)
        threshold = np.asarray(threshold, dtype=np.float64)
        if threshold.shape not in ((), (n_layers,)):
            raise ValueError(f"threshold must be one number or one per layer ({n_layers}); "
                             f"got shape {threshold.shape}")
        threshold = np.broadcast_to(threshold, (n_layers,))
    else:
        threshold = None
    arrays = [volume] if material is None else [volume, material]
    n_vox, n_pore, isum = _sum_blocks(_counts, arrays, heights=heights, thresholds=threshold).T
    with np.errstate(invalid="ignore", divide="ignore"):
        porosity = np.where(n_vox > 0, n_pore / np.maximum(n_vox, 1), np.nan)
        imean = isum / (n_vox - n_pore) if intensity else np.full(n_layers, np.nan)
    return n_vox, porosity, imean, threshold


def _table(thickness: np.ndarray, n_vox: np.ndarray, porosity: np.ndarray, imean: np.ndarray,
           volume: np.ndarray, threshold: np.ndarray | None) -> pd.DataFrame:
    """The layer table from its per-layer parts (thickness maps flattened per layer)."""
    flat = thickness.reshape(len(thickness), -1)
    table = pd.DataFrame({
        "layer": np.arange(len(flat)), "thickness_mean": flat.mean(axis=1),
        "thickness_std": flat.std(axis=1), "porosity": porosity, "intensity_mean": imean,
        "n_voxels": n_vox, "volume": volume}).astype(_LAYER_COLUMNS)
    table.attrs["threshold"] = None if threshold is None else np.array(threshold)
    return table


def layer_table(volume_or_mask: Any, heights: Any, voxel_size: Any = 1.0, material: Any = None,
                *, threshold: Any = None, sigma: float = 1.0) -> pd.DataFrame:
    """Thickness, porosity and mean intensity of each layer between consecutive surfaces.

    Parameters
    ----------
    volume_or_mask : (Z, Y, X) or (Z, X) ndarray or dask array
        Intensity volume (pores dark), or a boolean mask (True = solid material, False = pore).
    heights : (n_surfaces, Y, X) or (n_surfaces, X) int ndarray
        Ascending surfaces along z; voxel ``(z, p)`` is in layer ``i`` when
        ``heights[i, p] <= z < heights[i + 1, p]``.
    voxel_size : float or sequence of float
        Voxel size in micrometres, one number or one per axis.
    material : ndarray or dask array, optional
        Solid material of the volume's shape: a boolean mask, or a probability of solid
        (e.g. a :mod:`qimcore.segment` class probability), solid where >= 0.5. By default a
        boolean ``volume_or_mask`` is the mask itself, and in an intensity volume each
        layer's pores are told from that layer's own material: pore where darker than the
        50 % iso-level between the pore grey value (the mode of the voxels clearly darker
        than their layer's material, shared by all layers) and the layer's material grey
        value (the mode of the bright class of Otsu's split of the layer). Layers may thus
        differ in grey value.
    threshold : float or sequence of float, keyword-only, optional
        Fixed intensity threshold (solid where ``volume > threshold``), one for all layers or
        one per layer, instead of the estimated iso-levels.
    sigma : float, keyword-only
        Smoothing of the surface slope for the thickness, see :func:`layer_thickness`.

    Returns
    -------
    pandas.DataFrame
        One row per layer: ``layer`` (index ``i`` of its lower surface), ``thickness_mean``
        and ``thickness_std`` (µm, along the surface normal, over the layer's columns),
        ``porosity`` (pore voxels / layer voxels, 0-1), ``intensity_mean`` (mean intensity of
        the solid voxels; NaN for a mask), ``n_voxels`` and ``volume`` (µm³).
        ``attrs["threshold"]`` holds the threshold of each layer, ``(n_layers,)`` (None when
        the solid was given as a mask).

    Raises
    ------
    ValueError
        When ``heights`` are not ascending, do not match the volume's shape or lie outside it,
        or an intensity volume is constant.
    TypeError
        When ``heights`` is not an integer array.

    See Also
    --------
    layer_thickness : the per-column thickness maps.

    Notes
    -----
    Measured accuracy (``docs/accuracy.md``): porosity within 1.5 percentage points for
    layers whose material grey values differ by up to 30 % of the pore-to-material range,
    pore fractions 0-30 %, noise up to 15 % of that range.

    Examples
    --------
    >>> vol = np.ones((10, 4, 4), bool)
    >>> vol[6, :2] = False                            # 8 pore voxels in the upper layer
    >>> h = np.stack([np.full((4, 4), z) for z in (1, 4, 9)])
    >>> t = layer_table(vol, h)
    >>> t[["layer", "thickness_mean", "porosity"]].to_numpy().tolist()
    [[0.0, 3.0, 0.0], [1.0, 5.0, 0.1]]
    """
    volume = _validate.array(volume_or_mask, "volume_or_mask", ndim=(2, 3))
    h = _check_heights(heights, volume.shape)
    sizes = _units.voxel_size(voxel_size, ndim=volume.ndim)
    n_vox, porosity, imean, threshold = _porosity(volume, h, material, threshold)
    thickness = layer_thickness(h, sizes, sigma=sigma)
    return _table(thickness, n_vox, porosity, imean, n_vox * math.prod(sizes), threshold)
