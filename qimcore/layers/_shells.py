"""Growth layers rolled around a centre line (shells): unfold, find all surfaces in 3D, tabulate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage as ndi

from .. import _units, _validate
from ._flat import _porosity, _table

__all__ = ["ShellLayers", "shell_layers"]


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
        The columns of :func:`qimcore.layers.layer_table`: ``thickness_mean``/``thickness_std``
        from ``thickness``, ``volume`` (µm³) of the true polar wedges; ``porosity`` and
        ``n_voxels`` count polar samples of the unfolded stack (equal weights, fine for layers
        thin against their radius).
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


_POLARITY = {"rising": "dark-to-bright", "falling": "bright-to-dark"}


def _region_means(unfolded: np.ndarray, regions: Sequence[str | None]) -> list[float | None]:
    """Expected intensity of each region: the mean of the solid or void class of Otsu's split."""
    from skimage.filters import threshold_otsu

    level = threshold_otsu(unfolded.ravel())
    means = {"solid": float(unfolded[unfolded > level].mean()),
             "void": float(unfolded[unfolded <= level].mean())}
    return [None if kind is None else means[_validate.choice(kind, "regions", tuple(means))]
            for kind in regions]


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
                 voxel_size: Any = 1.0, material: Any = None, threshold: Any = None,
                 sigma: float = 1.0) -> ShellLayers:
    """Growth layers rolled around a centre line: unfold, find all surfaces in 3D, tabulate.

    The slices are unfolded to polar coordinates around their centres
    (:class:`qimcore.surfaces.PolarGrid`, a ``(radius, slice, angle)`` stack), all surfaces are
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
        each layer's pores told from its own material in the unfolded intensities, as in
        :func:`qimcore.layers.layer_table`.
    threshold : float or sequence of float, keyword-only, optional
        Fixed intensity threshold for the solid, one or one per layer, instead.
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
    qimcore.surfaces.PolarGrid, qimcore.surfaces.edge_cost, qimcore.surfaces.region_cost,
    qimcore.surfaces.detect_surfaces, qimcore.layers.layer_table

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

    from ..surfaces import PolarGrid, detect_surfaces, edge_cost, region_cost

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
    centres = np.broadcast_to(np.asarray(center, float), (len(ks), 2))
    grid = PolarGrid(centres, r, n_angles)
    unfolded = grid.sample(stack)                                        # (R, Z, A)
    r = grid.radii
    lo, hi = float(unfolded.min()), float(unfolded.max())
    u = (unfolded - lo) / (hi - lo) if hi > lo else np.zeros_like(unfolded)
    region = None
    if regions is not None and hi > lo:
        region = region_cost(u, _region_means(u, regions), region_weight)
    costs = [edge_cost(u, sigma=0, clip=True,
                       polarity=_POLARITY[_validate.choice(e, "edges", tuple(_POLARITY))])
             for e in edges]
    heights = detect_surfaces(costs, delta=delta, min_distance=min_distance,
                              max_distance=max_distance, region_cost=region, wrap=grid.wrap)
    mat = None if material is None else grid.sample(np.asarray(material[ks], np.float32)) >= 0.5
    step = float(np.mean(np.diff(r))) if len(r) > 1 else 1.0
    n_vox, porosity, imean, threshold = _porosity(unfolded, heights, mat, threshold)
    radius_um = np.maximum(r[heights] - 0.5 * step, 0.0) * dx   # sample h spans r[h] ± step/2
    z_um = ks * dz
    thickness = _polar_thickness(radius_um, z_um, n_angles, sigma)
    dzs = np.gradient(z_um.astype(float)) if len(ks) > 1 else np.array([dz])
    wedge = 0.5 * np.diff(radius_um ** 2, axis=0) * (2 * np.pi / n_angles) * dzs[:, None]
    table = _table(thickness, n_vox, porosity, imean, wedge.reshape(len(wedge), -1).sum(axis=1),
                   threshold)
    return ShellLayers(heights=heights, points=grid.points(heights),
                       thickness=thickness, table=table, unfolded=unfolded, slices=ks,
                       centres=np.array(centres), radii=r)
