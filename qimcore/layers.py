"""Layers, shells and bone: thickness and porosity per growth layer, bone morphometry.

Growth layers are the slabs between consecutive surfaces ``heights`` found by
:func:`qimcore.surfaces.detect_surfaces`: voxel ``(z, p)`` belongs to layer ``i`` when
``heights[i, p] <= z < heights[i + 1, p]``. Bone metrics follow BoneJ: BV/TV, and Tb.Th and
Tb.Sp as mean local thickness (diameter of the largest inscribed sphere) of bone and marrow.
Rolled layers (shells) are unfolded around their centre line and searched in one 3D call by
:func:`shell_layers`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dask
import dask.array as da
import numpy as np
import pandas as pd
from scipy import ndimage as ndi
from tqdm.auto import tqdm

from . import _chunk, _units, _validate

__all__ = ["ShellLayers", "bone_table", "layer_table", "layer_thickness", "local_thickness",
           "shell_layers"]

_STRICT = 1.0 - 1e-9  # "closer than r": d2 < r**2 despite rounding

_LAYER_COLUMNS = {"layer": "int64", "thickness_mean": "float64", "thickness_std": "float64",
                  "porosity": "float64", "intensity_mean": "float64", "n_voxels": "int64",
                  "volume": "float64"}


# --------------------------------------------------------------------------- layers
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


def _column_sums(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sum ``values`` over ``lo <= z < hi`` per column, for each layer: (n_layers,) + S."""
    csum = np.zeros((values.shape[0] + 1,) + values.shape[1:], dtype=np.float64)
    np.cumsum(values, axis=0, out=csum[1:])
    return (np.take_along_axis(csum[None], hi[:, None], axis=1)[:, 0]
            - np.take_along_axis(csum[None], lo[:, None], axis=1)[:, 0])


def _block_stats(block: np.ndarray, solid: np.ndarray | None, heights: np.ndarray, z0: int,
                 threshold: float | None) -> np.ndarray:
    """Per layer ``[n_voxels, n_pore, intensity_sum_in_solid]`` for one z-range of the volume."""
    z_len = block.shape[0]
    h = np.clip(heights - z0, 0, z_len)
    lo, hi = h[:-1], h[1:]
    if solid is None:
        solid = block > threshold
    solid = np.asarray(solid, dtype=bool)
    counts = hi - lo
    n_vox = counts.reshape(counts.shape[0], -1).sum(axis=1)
    n_solid = _column_sums(solid, lo, hi).reshape(counts.shape[0], -1).sum(axis=1)
    values = np.where(solid, block, 0).astype(np.float64)
    isum = _column_sums(values, lo, hi).reshape(counts.shape[0], -1).sum(axis=1)
    return np.stack([n_vox, n_vox - n_solid, isum], axis=1)


def _region_values(block: np.ndarray, heights: np.ndarray, z0: int) -> np.ndarray:
    """Values of ``block`` between the first and last surface."""
    z = np.arange(z0, z0 + block.shape[0]).reshape((-1,) + (1,) * (block.ndim - 1))
    return block[(z >= heights[0]) & (z < heights[-1])]


def _per_block(func: Any, volume: Any, material: Any, heights: np.ndarray,
               out_shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``func(block, material_block, heights_block, z0)`` over the volume's blocks."""
    if not isinstance(volume, da.Array):
        return func(volume, material, heights, 0)

    def run(block, *mat, block_info=None):
        loc = block_info[0]["array-location"]
        lateral = tuple(slice(lo, hi) for lo, hi in loc[1:])
        res = func(block, mat[0] if mat else None, heights[(slice(None),) + lateral], loc[0][0])
        return res.reshape((1,) * block.ndim + out_shape)

    args = [volume] if material is None else [volume, da.asarray(material).rechunk(volume.chunks)]
    chunks = tuple((1,) * n for n in volume.numblocks) + tuple((n,) for n in out_shape)
    out = da.map_blocks(run, *args, chunks=chunks, dtype=np.float64,
                        new_axis=list(range(volume.ndim, volume.ndim + len(out_shape))))
    return out.sum(axis=tuple(range(volume.ndim))).compute()


def _otsu(volume: Any, heights: np.ndarray) -> float:
    """Otsu threshold of the voxels between the first and last surface (256-bin histogram)."""
    from skimage.filters import threshold_otsu

    lo, hi = (float(v) for v in dask.compute(volume.min(), volume.max()))
    if lo == hi:
        raise ValueError("volume_or_mask is constant: cannot find an Otsu threshold; "
                         "pass material= or threshold=")
    edges = np.linspace(lo, hi, 257)

    def hist(block, _, h, z0):
        return np.histogram(_region_values(block, h, z0), edges)[0].astype(np.float64)

    counts = _per_block(hist, volume, None, heights, (256,))
    return float(threshold_otsu(hist=(counts, 0.5 * (edges[1:] + edges[:-1]))))


def layer_table(volume_or_mask: Any, heights: Any, voxel_size: Any = 1.0, material: Any = None,
                *, threshold: float | None = None, sigma: float = 1.0) -> pd.DataFrame:
    """Thickness, porosity and mean intensity of each layer between consecutive surfaces.

    Parameters
    ----------
    volume_or_mask : (Z, Y, X) or (Z, X) ndarray or dask array
        Intensity volume, or a boolean mask (True = solid material, False = pore).
    heights : (n_surfaces, Y, X) or (n_surfaces, X) int ndarray
        Ascending surfaces along z; voxel ``(z, p)`` is in layer ``i`` when
        ``heights[i, p] <= z < heights[i + 1, p]``.
    voxel_size : float or sequence of float
        Voxel size in micrometres, one number or one per axis.
    material : ndarray or dask array, optional
        Solid material of the volume's shape: a boolean mask, or a probability of solid
        (e.g. a :mod:`qimcore.segment` class probability), solid where >= 0.5. By default a
        boolean ``volume_or_mask`` is the mask itself, and an intensity volume is split into
        solid and pores by Otsu's threshold over the voxels between the first and last surface.
    threshold : float, keyword-only, optional
        Fixed intensity threshold (solid where ``volume > threshold``) instead of Otsu.
    sigma : float, keyword-only
        Smoothing of the surface slope for the thickness, see :func:`layer_thickness`.

    Returns
    -------
    pandas.DataFrame
        One row per layer: ``layer`` (index ``i`` of its lower surface), ``thickness_mean``
        and ``thickness_std`` (µm, along the surface normal, over the layer's columns),
        ``porosity`` (pore voxels / layer voxels, 0-1), ``intensity_mean`` (mean intensity of
        the solid voxels; NaN for a mask), ``n_voxels`` and ``volume`` (µm³).
        ``attrs["threshold"]`` holds the threshold used (None when a mask was given).

    Raises
    ------
    ValueError
        When ``heights`` are not ascending, do not match the volume's shape or lie outside it.
    TypeError
        When ``heights`` is not an integer array.

    See Also
    --------
    layer_thickness : the per-column thickness maps.

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
    if material is not None:
        material = _validate.array(material, "material", ndim=volume.ndim)
        if material.shape != volume.shape:
            raise ValueError(f"material must have the volume's shape {volume.shape}, "
                             f"got {material.shape}")
        if material.dtype != bool:
            material = _validate.probabilities(material, "material", axis=None) >= 0.5
        if isinstance(material, da.Array) and not isinstance(volume, da.Array):
            volume = da.from_array(volume, chunks=material.chunks)
    if volume.dtype == bool:
        if material is None:
            material = volume
        intensity = False
        threshold = None
    else:
        intensity = True
        if material is None and threshold is None:
            threshold = _otsu(volume, h)
    stats = _per_block(lambda b, m, hb, z0: _block_stats(b, m, hb, z0, threshold),
                       volume, material, h, (h.shape[0] - 1, 3))
    thick = layer_thickness(h, sizes, sigma=sigma).reshape(h.shape[0] - 1, -1)
    n_vox, n_pore, isum = stats.T
    with np.errstate(invalid="ignore", divide="ignore"):
        porosity = np.where(n_vox > 0, n_pore / np.maximum(n_vox, 1), np.nan)
        imean = isum / (n_vox - n_pore) if intensity else np.full(len(n_vox), np.nan)
    table = pd.DataFrame({
        "layer": np.arange(h.shape[0] - 1), "thickness_mean": thick.mean(axis=1),
        "thickness_std": thick.std(axis=1), "porosity": porosity, "intensity_mean": imean,
        "n_voxels": n_vox, "volume": n_vox * math.prod(sizes)}).astype(_LAYER_COLUMNS)
    table.attrs["threshold"] = threshold
    return table


# --------------------------------------------------------------------------- shells
@dataclass
class ShellLayers:
    """Result of :func:`shell_layers`: surfaces on the polar unfolding and per-layer tables.

    Attributes
    ----------
    heights : (n_surfaces, Z, n_angles) int64 ndarray
        Surfaces as indices into ``radii``, ascending, for each analysed slice and ray.
    points : (n_surfaces, Z, n_angles, 2) float64 ndarray
        The same surfaces as closed ``(y, x)`` curves in each slice (pixels).
    thickness : (n_layers, Z, n_angles) float32 ndarray
        Thickness of each layer along its normal (µm): the thickness maps over slice × angle.
    table : pandas.DataFrame
        :func:`layer_table` of the unfolded stack, with ``thickness_mean``/``thickness_std``
        from ``thickness`` and ``volume`` (µm³) of the true polar wedges; ``porosity`` and
        ``n_voxels`` count polar samples (equal weights, fine for layers thin against their
        radius).
    unfolded : (R, Z, n_angles) float32 ndarray
        The polar unfolding (radius, slice, angle) that was searched.
    slices, centres, radii : ndarray
        Analysed slice indices ``(Z,)``, their ``(y, x)`` centres ``(Z, 2)`` and the radii
        ``(R,)`` of the unfolding (pixels).
    """

    heights: np.ndarray
    points: np.ndarray
    thickness: np.ndarray
    table: pd.DataFrame
    unfolded: np.ndarray
    slices: np.ndarray
    centres: np.ndarray
    radii: np.ndarray


def _edge_costs(unfolded: np.ndarray, edges: Sequence[str]) -> list[np.ndarray]:
    """Minus the outward rise (or fall) ``u[r] - u[r - 1]``: a surface at ``r`` starts a layer."""
    grad = np.zeros_like(unfolded)
    grad[1:] = np.diff(unfolded, axis=0)
    rise, fall = -np.clip(grad, 0, None), -np.clip(-grad, 0, None)
    return [rise if _validate.choice(e, "edges", ("rising", "falling")) == "rising" else fall
            for e in edges]


def _region_costs(unfolded: np.ndarray, regions: Sequence[str | None],
                  weight: float) -> np.ndarray:
    """Chan-Vese terms ``weight * (u - c)**2``, ``c`` the mean of the solid or void Otsu class."""
    from skimage.filters import threshold_otsu

    level = threshold_otsu(unfolded.ravel())
    means = {"solid": unfolded[unfolded > level].mean(), "void": unfolded[unfolded <= level].mean()}
    out = np.zeros((len(regions),) + unfolded.shape, np.float32)
    for k, kind in enumerate(regions):
        if kind is not None:
            out[k] = weight * (unfolded - means[_validate.choice(kind, "regions", tuple(means))]) ** 2
    return out


def _polar_thickness(r: np.ndarray, z: np.ndarray, n_angles: int, sigma: float) -> np.ndarray:
    """Normal thickness of layers between polar surfaces ``r`` (µm), (n_surfaces, Z, A)."""
    dr = np.diff(r, axis=0)
    mid = 0.5 * (r[1:] + r[:-1])
    dtheta = 2 * np.pi / n_angles
    slope_a = (np.roll(mid, -1, axis=2) - np.roll(mid, 1, axis=2)) / (
        2 * dtheta * np.maximum(mid, 1e-12))
    slope_z = np.gradient(mid, z, axis=1) if len(z) > 1 else np.zeros_like(mid)
    if sigma:
        slope_a = ndi.gaussian_filter1d(slope_a, sigma, axis=2, mode="wrap")
        slope_a = ndi.gaussian_filter1d(slope_a, sigma, axis=1, mode="nearest")
        slope_z = ndi.gaussian_filter1d(slope_z, sigma, axis=2, mode="wrap")
        slope_z = ndi.gaussian_filter1d(slope_z, sigma, axis=1, mode="nearest")
    return (dr / np.sqrt(1.0 + slope_a ** 2 + slope_z ** 2)).astype(np.float32)


def shell_layers(volume: Any, edges: Sequence[str], *, slices: Any = None, center: Any = None,
                 radii: Any = None, n_angles: int = 90, regions: Sequence[str | None] | None = None,
                 region_weight: float = 1.0, delta: int | Sequence[int] = (1, 2),
                 min_distance: int = 1, max_distance: int | None = None,
                 voxel_size: Any = 1.0, material: Any = None, threshold: float | None = None,
                 sigma: float = 1.0) -> ShellLayers:
    """Growth layers rolled around a centre line: unfold, find all surfaces in 3D, tabulate.

    The slices are unfolded to polar coordinates around their centres
    (:func:`qimcore.surfaces.unfold_polar`, a ``(radius, slice, angle)`` stack), all surfaces are
    found in one call of :func:`qimcore.surfaces.detect_surfaces` with the angle axis cyclic
    and smoothness along the slices too, so the layers are smooth from slice to slice, and each
    layer is measured in these layer-following coordinates: thickness along the normal of the
    unfolded layers (the radial distance corrected by the slopes ``dr / (r dθ)`` around and
    ``dr / dz`` along the shell), porosity and mean intensity by :func:`layer_table`.

    Parameters
    ----------
    volume : (Z, Y, X) ndarray
        Intensity volume, the layers rolled around the z axis (bright = solid).
    edges : sequence of {"rising", "falling"}
        One per surface, from the centre outwards: ``"rising"`` for a dark-to-bright step
        going outwards (inner edge of a wall), ``"falling"`` for bright-to-dark.
    slices : sequence of int, keyword-only, optional
        Slices to analyse (ascending); all by default.
    center : (2,) or (len(slices), 2) array_like, keyword-only, optional
        ``(y, x)`` centre of each slice in pixels; default: each slice's centre of mass of the
        voxels above Otsu's threshold.
    radii : (R,) array_like of float, keyword-only, optional
        Radii of the unfolding in pixels, ascending; default ``0, 1, ..., min(Y, X) // 2 - 1``.
    n_angles : int, keyword-only
        Rays per slice.
    regions : sequence of {"solid", "void", None}, keyword-only, optional
        ``n_surfaces + 1`` expected contents of the regions from the centre outwards (region
        ``k`` lies between surfaces ``k - 1`` and ``k``; None = no term). Each sample of a solid
        (void) region pays ``region_weight * (u - c)**2`` (Chan-Vese), ``u`` the intensity scaled
        to [0, 1] and ``c`` the mean of the bright (dark) class of Otsu's split of ``u``.
    region_weight : float, keyword-only
        Weight of the region terms against the edge terms.
    delta : int or (int, int), keyword-only
        Smoothness in radius samples between neighbouring (slice, angle) columns.
    min_distance, max_distance : int, keyword-only
        Bounds on the radial distance between consecutive surfaces, in radius samples.
    voxel_size : float or (float, float, float), keyword-only
        Voxel size ``(z, y, x)`` in µm; ``y`` and ``x`` must be equal (polar geometry).
    material : (Z, Y, X) array, keyword-only, optional
        Solid mask or probability (solid where >= 0.5), unfolded like the volume; default:
        Otsu's (or ``threshold``) split of the unfolded intensities between the surfaces.
    threshold : float, keyword-only, optional
        Fixed intensity threshold for the solid instead of Otsu's.
    sigma : float, keyword-only
        Smoothing of the surface slopes for the thickness, in columns.

    Returns
    -------
    ShellLayers
        ``heights``, ``points``, ``thickness`` maps and ``table`` (one row per layer).

    Raises
    ------
    ValueError
        For bad ``edges``/``regions``, unequal in-plane voxel sizes or slices outside the volume.

    See Also
    --------
    qimcore.surfaces.unfold_polar, qimcore.surfaces.detect_surfaces, layer_table

    Examples
    --------
    >>> z, y, x = np.mgrid[:6, :41, :41]
    >>> r = np.hypot(y - 20, x - 20)
    >>> tube = ((r > 8.5) & (r < 14.5)).astype(np.float32)    # a wall 6 voxels thick
    >>> res = shell_layers(tube, ["rising", "falling"], center=(20, 20), radii=np.arange(20.0),
    ...                    n_angles=32, voxel_size=2.0)
    >>> res.heights.shape, np.unique(res.heights, axis=1)[:, 0, :4].tolist()
    ((2, 6, 32), [[9, 9, 9, 9], [15, 15, 15, 15]])
    >>> res.table["thickness_mean"].tolist()                  # 6 voxels of 2 µm
    [12.0]
    """
    from skimage.filters import threshold_otsu

    from .surfaces import detect_surfaces, polar_to_points, unfold_polar

    vol = _validate.array(volume, "volume", ndim=3, allow_dask=False)
    edges = list(edges) if not isinstance(edges, str) else [edges]
    if len(edges) < 2:
        raise ValueError(f"edges must name at least 2 surfaces to bound a layer; got {edges!r}")
    if regions is not None and len(regions) != len(edges) + 1:
        raise ValueError(f"regions must have n_surfaces + 1 = {len(edges) + 1} entries "
                         f"(None for no region term); got {len(regions)}")
    dz, dy, dx = _units.voxel_size(voxel_size, ndim=3)
    if dy != dx:
        raise ValueError(f"voxel_size must be equal along y and x for a polar unfolding; "
                         f"got {(dz, dy, dx)}")
    ks = np.arange(vol.shape[0]) if slices is None else np.asarray(
        _validate.array(slices, "slices", ndim=1, allow_dask=False))
    if not np.issubdtype(ks.dtype, np.integer) or ks.min() < 0 or ks.max() >= vol.shape[0] \
            or np.any(np.diff(ks) <= 0):
        raise ValueError(f"slices must be ascending integer indices in [0, {vol.shape[0]})")
    _validate.positive(region_weight, "region_weight", allow_zero=True)
    if material is not None:
        material = _validate.array(material, "material", ndim=3, allow_dask=False)
        if material.shape != vol.shape:
            raise ValueError(f"material must have the volume's shape {vol.shape}, "
                             f"got {material.shape}")
    stack = np.asarray(vol[ks], np.float32)
    if center is None:
        solid = stack > threshold_otsu(stack.ravel())
        center = np.array([ndi.center_of_mass(s) for s in solid])
    r = np.arange(min(vol.shape[1:]) // 2, dtype=float) if radii is None else radii
    unfolded = unfold_polar(stack, center, r, n_angles)                  # (R, Z, A)
    centres = np.broadcast_to(np.asarray(center, float), (len(ks), 2))
    r = np.asarray(r, float)
    lo, hi = float(unfolded.min()), float(unfolded.max())
    u = (unfolded - lo) / (hi - lo) if hi > lo else np.zeros_like(unfolded)
    region = None
    if regions is not None and hi > lo:
        region = _region_costs(u, regions, region_weight)
    heights = detect_surfaces(_edge_costs(u, edges), delta=delta, min_distance=min_distance,
                              max_distance=max_distance, region_cost=region, wrap=1)
    mat = None if material is None else unfold_polar(
        np.asarray(material[ks], np.float32), centres, r, n_angles) >= 0.5
    step = float(np.mean(np.diff(r))) if len(r) > 1 else 1.0
    table = layer_table(unfolded, heights, (step * dx, dz, dx),
                        material=mat, threshold=threshold)
    radius_um = np.maximum(r[heights] - 0.5 * step, 0.0) * dx   # sample h spans r[h] ± step/2
    z_um = ks * dz
    thickness = _polar_thickness(radius_um, z_um, n_angles, sigma)
    dzs = np.gradient(z_um.astype(float)) if len(ks) > 1 else np.array([dz])
    wedge = 0.5 * np.diff(radius_um ** 2, axis=0) * (2 * np.pi / n_angles) * dzs[:, None]
    flat = thickness.reshape(len(thickness), -1)
    table["thickness_mean"] = flat.mean(axis=1).astype(np.float64)
    table["thickness_std"] = flat.std(axis=1).astype(np.float64)
    table["volume"] = wedge.reshape(len(wedge), -1).sum(axis=1)
    return ShellLayers(heights=heights, points=polar_to_points(heights, centres, r, n_angles),
                       thickness=thickness, table=table, unfolded=unfolded, slices=ks,
                       centres=np.array(centres), radii=r)


# --------------------------------------------------------------------------- local thickness
def _lattice(radius: float, sizes: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Integer offsets within ``radius`` (µm), sorted by their squared physical length ``d2``.

    The ball of any radius ``r <= radius`` is the prefix ``d2 <= r**2`` of this list.
    """
    reach = [int(math.floor(radius / s)) for s in sizes]
    grids = np.meshgrid(*[np.arange(-r, r + 1) for r in reach], indexing="ij")
    offs = np.stack([g.ravel() for g in grids], axis=1)
    d2 = ((offs * np.asarray(sizes)) ** 2).sum(axis=1)
    order = np.argsort(d2, kind="stable")
    keep = order[d2[order] <= radius ** 2 + 1e-9]
    return offs[keep], d2[keep]


def _ridge(radius: np.ndarray, sizes: tuple[float, ...], offs: np.ndarray,
           d2: np.ndarray) -> np.ndarray:
    """Centres whose ball (voxels closer than ``radius``) is not inside a 26-neighbour's ball.

    A ball's voxel set depends only on its radius, so for each neighbour offset ``o`` the radius
    ``need(r, o)`` a neighbour must have to cover ball ``r`` is a running maximum over the
    lattice points sorted by length. Dropping covered centres leaves the painted result exact.
    """
    keep = radius > 0
    coords = np.nonzero(keep)
    r_keep = radius[coords]
    idx = np.searchsorted(d2, r_keep ** 2 * _STRICT, side="left") - 1
    phys = offs * np.asarray(sizes)
    pad = np.pad(radius, 1, constant_values=-np.inf)
    covered = np.zeros(len(r_keep), dtype=bool)
    for off in itertools.product((-1, 0, 1), repeat=radius.ndim):
        if not any(off):
            continue
        vec = np.asarray(off) * np.asarray(sizes)
        need2 = np.maximum.accumulate(((phys - vec) ** 2).sum(axis=1))[idx]
        neighbour = pad[tuple(c + 1 + o for c, o in zip(coords, off))]
        covered |= need2 < neighbour ** 2 * _STRICT
    keep[coords] = ~covered
    return keep


def _local_thickness_np(mask: np.ndarray, *, sizes: tuple[float, ...], progress: bool = False,
                        batch: int = 1 << 22) -> np.ndarray:
    """Exact local thickness of one block (outside the block counts as background)."""
    mask = np.pad(np.asarray(mask, dtype=bool), 1)
    out = np.zeros(mask.size, dtype=np.float32)
    core = tuple(slice(1, -1) for _ in sizes)
    if not mask.any():
        return out.reshape(mask.shape)[core]
    radius = ndi.distance_transform_edt(mask, sampling=sizes)
    offs, d2 = _lattice(float(radius.max()), sizes)
    centres = np.flatnonzero(_ridge(radius, sizes, offs, d2))
    r_c = radius.ravel()[centres]
    order = np.argsort(r_c, kind="stable")
    centres, r_c = centres[order], r_c[order]
    flat = offs @ (np.array(mask.strides) // mask.itemsize)
    n_off = np.searchsorted(d2, r_c ** 2 * _STRICT, side="left")
    diameter = (2.0 * r_c - 0.5 * min(sizes)).astype(np.float32)
    starts = np.flatnonzero(np.r_[True, np.diff(r_c) > 0])
    # Ascending radii: a later (larger) sphere simply overwrites.
    for lo, hi in tqdm(list(zip(starts, np.r_[starts[1:], len(r_c)])),
                       desc="local thickness", disable=not progress):
        ball = flat[:n_off[lo]]
        step = max(1, batch // len(ball))
        for s in range(lo, hi, step):
            out[(centres[s:min(hi, s + step), None] + ball[None, :]).ravel()] = diameter[lo]
    return out.reshape(mask.shape)[core]


def local_thickness(mask: Any, voxel_size: Any = 1.0, *, max_thickness: float | None = None,
                    progress: bool = False) -> np.ndarray | da.Array:
    """Local thickness: diameter of the largest sphere inside the mask that contains each voxel.

    BoneJ's definition (Hildebrand & Rüegsegger 1997), computed exactly on the voxel grid as in
    Dougherty & Kunzelmann's algorithm: the sphere centred at voxel ``c`` holds the voxels closer
    than ``EDT(c)``, the Euclidean distance to the nearest background voxel; each voxel gets the
    largest sphere covering it. Only the distance ridge (spheres whose voxels are not all inside
    a neighbour's sphere) is painted, which leaves the result unchanged. Voxel-centred spheres
    measure a plate of ``n`` voxels as ``n + 1`` (``n`` odd) or ``n`` (``n`` even); the reported
    diameter is ``2 * EDT - s/2`` (``s`` the smallest voxel size), so plates read within half a
    voxel of ``n`` for either parity. Outside the volume counts as background. *Chunked*.

    Parameters
    ----------
    mask : (Z, Y, X) or (Y, X) bool ndarray or dask array
        The structure (True).
    voxel_size : float or sequence of float
        Voxel size in micrometres, one number or one per axis.
    max_thickness : float, keyword-only, optional
        Largest thickness expected (µm); required for dask input, where it sets the halo
        (``max_thickness / s + 3`` voxels). Structures thicker than that may be measured
        differently from the numpy result.
    progress : bool, keyword-only
        Show a progress bar over sphere sizes (numpy input).

    Returns
    -------
    float32 ndarray or dask array, mask's shape
        Local thickness in micrometres; 0 outside the mask.

    Raises
    ------
    ValueError
        When a dask mask comes without ``max_thickness``.

    References
    ----------
    Hildebrand T., Rüegsegger P. (1997) A new method for the model-independent assessment of
    thickness in three-dimensional images. J. Microsc. 185, 67-75.

    Examples
    --------
    >>> plate = np.zeros((9, 20, 20), bool)
    >>> plate[3:6, 2:-2, 2:-2] = True                 # 3 voxels thick
    >>> float(np.median(local_thickness(plate, voxel_size=0.5)[plate]))  # 3 voxels of 0.5 µm
    1.75
    """
    arr = _validate.array(mask, "mask", ndim=(2, 3))
    if max_thickness is not None:
        _validate.positive(max_thickness, "max_thickness")
    if arr.dtype != bool:
        if isinstance(arr, da.Array) or not np.isin(arr, (0, 1)).all():
            raise TypeError("mask must be a boolean array; threshold it first "
                            "(e.g. mask = volume > t) or use mask.astype(bool)")
        arr = arr.astype(bool)
    sizes = _units.voxel_size(voxel_size, ndim=arr.ndim)
    if isinstance(arr, da.Array):
        if max_thickness is None:
            raise ValueError("max_thickness (µm) is required for a dask mask: it sets the halo")
        _validate.positive(max_thickness, "max_thickness")
        depth = int(math.ceil(max_thickness / min(sizes))) + 3
        return _chunk.apply(_local_thickness_np, arr, depth=depth, dtype=np.float32, sizes=sizes)
    return _local_thickness_np(arr, sizes=sizes, progress=progress)


# --------------------------------------------------------------------------- bone
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
