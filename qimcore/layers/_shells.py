"""Growth layers rolled around a centre line (shells): unfold, find all surfaces in 3D, tabulate."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu

from .. import _units, _validate
from ._flat import _layer_thresholds, _region_histograms, _table

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
    radius : (n_surfaces, Z, n_angles) float64 ndarray
        Radius of each surface on each ray (pixels), to a fraction of a pixel: where the
        profile crosses the grey value half-way between the median grey values of the
        (pore-filled) regions on either side, next to ``heights`` (half-way between samples
        ``heights - 1`` and ``heights`` where it does not cross there); the faces of porous
        walls then refitted across the pores cut open at them and the faces of the walls
        aligned onto the pixels' boundary in each slice (see :func:`shell_layers`).
    thickness : (n_layers, Z, n_angles) float32 ndarray
        Thickness of each layer along its normal (µm), from ``radius``: the thickness maps
        over slice × angle.
    table : pandas.DataFrame
        The columns of :func:`qimcore.layers.layer_table`: ``thickness_mean``/``thickness_std``
        from ``thickness``, ``volume`` (µm³) of the true polar wedges; ``porosity`` and
        ``n_voxels`` count the pixels of the analysed slices in each layer (a pixel lies
        beyond a surface where its distance from the centre reaches the surface's radius at
        its angle).
    unfolded : (R, Z, n_angles) float32 ndarray
        The polar unfolding (radius, slice, angle) of the volume (the surfaces were searched
        on the unfolding of its pore-filled slices when ``fill`` > 0).
    slices, centres, radii : ndarray
        Analysed slice indices ``(Z,)``, their ``(y, x)`` centres ``(Z, 2)`` and the radii
        ``(R,)`` of the unfolding (pixels).
    fill : int
        Radius (pixels) of the largest disk that filled the pores before the surfaces were
        searched (0: none).
    """

    heights: np.ndarray
    points: np.ndarray
    radius: np.ndarray
    thickness: np.ndarray
    table: pd.DataFrame
    unfolded: np.ndarray
    slices: np.ndarray
    centres: np.ndarray
    radii: np.ndarray
    fill: int


_POLARITY = {"rising": "dark-to-bright", "falling": "bright-to-dark"}


def _region_means(unfolded: np.ndarray, regions: Sequence[str | None]) -> list[float | None]:
    """Expected intensity of each region: the mean of the solid or void class of Otsu's split."""
    level = threshold_otsu(unfolded.ravel())
    means = {"solid": float(unfolded[unfolded > level].mean()),
             "void": float(unfolded[unfolded <= level].mean())}
    return [None if kind is None else means[_validate.choice(kind, "regions", tuple(means))]
            for kind in regions]


def _bright(stack: np.ndarray, labels: np.ndarray, n_regions: int, level: float) -> np.ndarray:
    """Whether each region is material: its median grey above ``level`` (Otsu's threshold of
    the slices).

    A layer darker than its neighbour (a falling edge between two layers) is material all the
    same; an empty region counts as dark.
    """
    return np.array([bool(np.any(labels == k)) and float(np.median(stack[labels == k])) > level
                     for k in range(n_regions)])


def _touching_greys(filled: np.ndarray, labels: np.ndarray, bright: np.ndarray
                    ) -> list[float | None] | None:
    """Grey value (median, pores filled) of each material region next to another one.

    Two material layers that touch differ only in grey value, a step that can be as small
    as the noise: on its own the edge term may then prefer the noise of a dark region to
    it. Each such layer gets a region term towards its own grey value, which no dark region
    matches. ``None`` for the other regions; ``None`` in all when no two material regions
    touch.
    """
    touching = bright[1:] & bright[:-1]
    if not touching.any():
        return None
    near = np.zeros(len(bright), bool)
    near[1:] |= touching
    near[:-1] |= touching
    return [float(np.median(filled[labels == k])) if near[k] and np.any(labels == k) else None
            for k in range(len(bright))]


def _voxel_polar(shape: tuple[int, int], centres: np.ndarray, n_angles: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each slice's centre and fractional ray index of every pixel, (Z, Y, X)."""
    y, x = np.mgrid[:shape[0], :shape[1]].astype(np.float32)
    dy = y[None] - centres[:, 0, None, None].astype(np.float32)
    dx = x[None] - centres[:, 1, None, None].astype(np.float32)
    ray = np.mod(np.arctan2(dy, dx), np.float32(2 * np.pi)) * np.float32(n_angles / (2 * np.pi))
    return np.hypot(dy, dx), ray


def _voxel_layers(rho: np.ndarray, ray: np.ndarray, boundary: np.ndarray) -> np.ndarray:
    """Region of every pixel of the analysed slices, ``(Z, Y, X)`` int8 (0 inside surface 0).

    ``boundary`` holds the surfaces' radii ``(n_surfaces, Z, n_angles)`` (pixels); a pixel
    at distance ``rho`` from its slice's centre and fractional ray index ``ray`` is beyond a
    surface where ``rho`` reaches the surface's radius, interpolated linearly and
    periodically between the rays.
    """
    n_angles = boundary.shape[-1]
    j = np.floor(ray).astype(np.int64) % n_angles
    w = ray - np.floor(ray)
    k = np.arange(len(rho))[:, None, None]
    out = np.zeros(rho.shape, np.int8)
    for surface in boundary:
        out += rho >= (1 - w) * surface[k, j] + w * surface[k, (j + 1) % n_angles]
    return out


def _thresholds(stack: np.ndarray, regions: np.ndarray, n_layers: int) -> np.ndarray:
    """Per-layer pore iso-levels of :func:`qimcore.layers.layer_table` on region-labelled pixels."""
    lo, hi = float(stack.min()), float(stack.max())
    if lo == hi:
        raise ValueError("volume is constant: cannot tell pores from material; "
                         "pass material= or threshold=")
    rows = np.clip(regions.astype(np.int64), 0, n_layers + 1)      # below, layers, above
    return _layer_thresholds(_region_histograms(stack, rows, n_layers + 2, lo, hi), lo, hi)


def _dark(stack: np.ndarray, regions: np.ndarray, n_layers: int) -> np.ndarray:
    """Pixels darker than their layer's iso-level (:func:`_thresholds`; the highest outside)."""
    if stack.min() == stack.max():
        return np.zeros(stack.shape, bool)
    level = _thresholds(stack, regions, n_layers)
    inside = (regions >= 1) & (regions <= n_layers)
    cut = np.where(inside, level[np.clip(regions.astype(np.int64) - 1, 0, n_layers - 1)],
                   level.max())
    return stack <= cut


def _pore_radius(dark: np.ndarray, regions: np.ndarray, bright: np.ndarray,
                 radius: np.ndarray, rho: np.ndarray, ray: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Radius (pixels) of a disk that bridges the pores of the bright layers, per region.

    Pores are the ``dark`` pixels of the bright layers; ``p``, the largest distance from a
    pore pixel to the nearest material (the largest inscribed radius of the pores), rounded
    up, gives the radius ``2 p``: the disk cannot enter a pore, and a pore cut open at a
    face (a mouth up to ``2 p`` wide) is bridged to within ``(2 - sqrt(3)) p`` (about a
    quarter of its radius) of the face. Pores no wider than a pixel (``p <= 1``: noise)
    give 0. Pores that run together through the wall make the first surfaces go round
    them, into the wall: so the dark pixels of the open inside (outside) that lie more than
    a pixel beyond the face's hull, its grey opening (closing) along the angle over the
    wall's thickness of arc, count as pores of the wall too. In a dark region the disk stays
    below the gap that must not be bridged: half its radial thickness for a dark layer
    between two surfaces, its radius for a dark inside (each at its 10th percentile over
    the rays), less a pixel. The dark region
    outside the last surface is open, so no gap limits its disk; there it is ``4 p``:
    pores run together at a face into mouths wider than one pore, and a mouth ``4 p``
    wide is bridged to within ``(4 - sqrt(12)) p`` (about half a pore radius) of the face,
    while faces curved less than the disk (convex ones, concave ones of radius above
    ``4 p``) stay. The bright layers take the smallest of these radii (their pores are
    bridged by the disk of the gap in front, :func:`_disk_map`). Returns one radius per
    region, ``(n_surfaces + 1,)`` int, and each region's ``p`` (0 for dark regions and
    layers without pores wider than a pixel), ``(n_surfaces + 1,)`` float.
    """
    n_layers = len(bright) - 2
    pores = dark & (regions >= 1) & (regions <= n_layers) & bright[regions]
    depth = np.stack([ndi.distance_transform_edt(d) for d in dark])
    layer_reach = np.array([float(depth[pores & (regions == k)].max(initial=0.0))
                            for k in range(len(bright))])
    n_angles = radius.shape[-1]
    nearest = np.rint(ray).astype(np.int64) % n_angles
    plane = np.arange(len(rho))[:, None, None]
    thick = np.median(np.diff(radius, axis=0), axis=(1, 2))            # per layer (pixels)
    for face, wall, gap in ((0, 1, 0), (n_layers, n_layers, n_layers + 1)):
        if bright[gap] or not bright[wall]:
            continue
        rays = thick[wall - 1] * n_angles / (2 * np.pi * max(float(np.median(radius[face])), 1))
        size = (1, 2 * max(int(round(rays)), 1) + 1)
        if face == 0:                # the hole: dents run outwards, into the wall
            hull = ndi.grey_opening(radius[face], size=size, mode="wrap")[plane, nearest]
            dents = rho > hull + 1
        else:
            hull = ndi.grey_closing(radius[face], size=size, mode="wrap")[plane, nearest]
            dents = rho < hull - 1
        dents &= dark & (regions == gap)
        layer_reach[wall] = max(layer_reach[wall], float(depth[dents].max(initial=0.0)))
    layer_reach[layer_reach <= 1] = 0.0  # one-pixel specks: noise, nothing to fill
    reach = float(layer_reach.max())
    if reach == 0:
        return np.zeros(len(bright), np.int64), layer_reach
    cap = 2 * np.ceil(reach)
    limits = np.full(len(bright), cap)
    width = np.diff(radius, axis=0)
    for k in np.flatnonzero(~bright[1:-1]) + 1:
        limits[k] = min(cap, np.floor(np.percentile(width[k - 1], 10) / 2) - 1)
    if not bright[0]:
        limits[0] = min(cap, np.floor(np.percentile(radius[0], 10)) - 1)
    if not bright[-1]:
        limits[-1] = 2 * cap             # open outside: mouths twice as wide, see above
    limits[bright] = limits.min()
    return np.maximum(limits, 0).astype(np.int64), layer_reach


def _crossings(samples: np.ndarray, radii: np.ndarray, heights: np.ndarray,
               levels: np.ndarray, rising: np.ndarray) -> np.ndarray:
    """Radius (pixels) where each surface's profile crosses its level, next to its height.

    Surface ``i`` found at sample ``h`` of a column lies between samples ``h - 1`` and ``h``;
    where the profile crosses ``levels[i]`` (dark to bright going outwards for a rising
    edge, bright to dark for a falling one) between ``h - 1`` and ``h`` (else between the
    neighbouring samples ``h - 2, h - 1`` or ``h, h + 1``), the crossing, interpolated
    linearly, is the surface; elsewhere, and for a NaN level, it stays half-way,
    ``radii[h] - step / 2``.
    """
    n = len(radii)
    step = float(np.mean(np.diff(radii))) if n > 1 else 1.0
    out = np.maximum(radii[heights] - 0.5 * step, 0.0)
    for i, (level, up) in enumerate(zip(levels, rising)):
        if not np.isfinite(level):
            continue
        w = (samples - level) if up else (level - samples)     # < 0 on the dark side
        found = np.zeros(heights[i].shape, bool)
        for j in (heights[i] - 1, heights[i] - 2, heights[i]):
            ok = ~found & (j >= 0) & (j + 1 < n)
            a = np.take_along_axis(w, np.clip(j, 0, n - 1)[None], axis=0)[0]
            b = np.take_along_axis(w, np.clip(j + 1, 0, n - 1)[None], axis=0)[0]
            ok &= (a < 0) & (b >= 0)
            t = np.where(ok, -a / np.where(ok, b - a, 1.0), 0.0)
            jj = np.clip(j, 0, n - 1)
            x = radii[jj] + t * (radii[np.clip(j + 1, 0, n - 1)] - radii[jj])
            out[i] = np.where(ok, x, out[i])
            found |= ok
    return out


def _disk_map(disks: np.ndarray, bright: np.ndarray, rho: np.ndarray, ray: np.ndarray,
              radius: np.ndarray) -> np.ndarray:
    """Closing disk of every pixel, ``(Z, Y, X)``: its region's, or its nearer neighbour's.

    A pixel of a dark region (between the surfaces ``radius``) takes that region's disk; a
    pixel of a bright layer takes the disk of the region next to it on its side of the
    layer's mid-line (the smaller one where that region is bright too), so a pore open at a
    face is bridged by the disk of the gap in front of that face.
    """
    n = len(radius)
    mids = 0.5 * (radius[1:] + radius[:-1])
    half = _voxel_layers(rho, ray, np.stack([radius[0]] + [b for pair in zip(mids, radius[1:])
                                                           for b in pair]))
    region = (half.astype(np.int64) + 1) // 2            # half 2k - 1, 2k: region k
    side = np.where(half % 2 == 1, region - 1, region + 1)    # the neighbour in front
    side = np.clip(side, 0, n)
    front = np.where(bright[side], disks.min(), disks[side])
    return np.where(bright[region], front, disks[region])


def _fill_pores(stack: np.ndarray, disks: np.ndarray, dark: np.ndarray) -> np.ndarray:
    """Each slice with its pores filled: dark pixels that a disk bridges.

    The dark pixels that the binary closing of the material (the pixels not ``dark``, less
    noise specks: islands of at most a pixel and its 4 neighbours) by a disk of radius
    ``disks`` (per pixel) turns into material (pores, dents in a face narrower than the
    disk, up to the disk's chord across the mouth; faces curved less than the disk stay)
    take the grey value of the material around them, its local mean (Gaussian of half the
    smallest disk); all other pixels keep theirs, so steps between layers of different grey
    value and the noise are untouched.
    """
    from skimage.morphology import disk, remove_small_objects

    big = int(disks.max())
    if big <= 0:
        return stack
    sizes = np.unique(disks[disks > 0])
    out = stack.copy()
    for image, pores, radius, filled in zip(stack, dark, disks, out):
        solid = remove_small_objects(np.pad(~pores, big, mode="edge"), max_size=5)
        bridged = np.zeros(pores.shape, bool)
        for size in sizes:
            closed = ndi.binary_closing(solid, structure=disk(int(size)))[big:-big, big:-big]
            bridged |= closed & pores & (radius == size)
        weight = ndi.gaussian_filter((~pores).astype(np.float32), sizes[0] / 2)
        total = ndi.gaussian_filter(np.where(pores, 0, image).astype(np.float32), sizes[0] / 2)
        filled[bridged] = total[bridged] / np.maximum(weight[bridged], 1e-6)
    return out


def _local_quadratic(values: np.ndarray, weights: np.ndarray, sigma: float, z: np.ndarray,
                     sigma_z: float) -> np.ndarray:
    """Weighted local surface fit over (slice, angle), ``values`` ``(Z, A)``.

    Each sample is replaced by the value at its own position of the surface, quadratic
    along the (cyclic) angle and linear along the slices, that fits the samples around it,
    weighted by ``weights`` times a Gaussian window of ``sigma`` rays around and ``sigma_z``
    along the slices (slice positions ``z``, in the same units; the window is cut at the
    first and last slice); a quadratic follows a curved face without the shrinkage of a
    plain average, and the slope along the slices follows a face tilted along the axis.
    """
    half = int(np.ceil(3 * sigma))
    t = np.arange(-half, half + 1, dtype=float) / sigma
    kernel = np.exp(-0.5 * t ** 2)
    s = (z[None, :] - z[:, None]) / max(sigma_z, 1e-12)                  # (Z, Z): s[k, k']
    window = np.exp(-0.5 * s ** 2)
    terms = ((0, 0), (1, 0), (2, 0), (0, 1))       # powers of (angle, slice)

    def window_sum(a: np.ndarray, power: int, power_z: int) -> np.ndarray:
        around = ndi.correlate1d(a, kernel * t ** power, axis=-1, mode="wrap")
        return (window * s ** power_z) @ around

    moments = {}
    for (a1, b1) in terms:
        for (a2, b2) in terms:
            key = (a1 + a2, b1 + b2)
            if key not in moments:
                moments[key] = window_sum(weights, *key)
    normal = np.stack([np.stack([moments[(a1 + a2, b1 + b2)] for (a2, b2) in terms], axis=-1)
                       for (a1, b1) in terms], axis=-2)
    normal += 1e-9 * np.eye(len(terms))
    rhs = np.stack([window_sum(weights * values, a, b) for (a, b) in terms], axis=-1)
    return np.linalg.solve(normal, rhs[..., None])[..., 0, 0]


def _smooth_faces(radius: np.ndarray, bright: np.ndarray, pore: np.ndarray,
                  z: np.ndarray) -> np.ndarray:
    """Faces of the walls smoothed across the pore mouths, ``radius`` ``(n_surfaces, Z, A)``.

    Pores cut open at a face (mouths) make the found face dip into the wall, and sub-pixel
    faces wobble from ray to ray. A face next to the open inside or outside (the first or
    last region dark) is smooth at the scale of the pores: it is refitted as a surface over
    slice and angle by a weighted local fit (:func:`_local_quadratic`, Gaussian window of
    ``4 p`` pixels of arc around and ``4 p`` pixels along the axis, the slices at positions
    ``z`` in pixels), where the rays that dip into the wall by more than 2.5 noise
    deviations (estimated from the rays outside the fit), and at least a quarter pixel,
    weigh nothing (five rounds); so a mouth is bridged at the height of the face around
    it, as a polar grid sees a round face. Pores are blobs: a mouth wide around the shell
    is mostly narrow along it, so the slices above and below bridge it too, without a
    wider window around (which would round off real corners). A face between two material
    layers is refitted the same way, dips on both sides left out. Faces of a dark layer
    between two surfaces (chambers, whose corners are real) are kept, and so is any
    stretch of a face that runs oblique to the rays (slope ``|dr / (r dθ)|`` above 0.3
    within the window), where the polar grid is a poor chart for it.
    """
    out = radius.copy()
    n_surfaces, _, n_angles = radius.shape
    dtheta = 2 * np.pi / n_angles
    for i in range(n_surfaces):
        inner, outer = bright[i], bright[i + 1]
        open_face = inner != outer and ((i == 0 and not inner)
                                        or (i == n_surfaces - 1 and not outer))
        if not (open_face or (inner and outer)):
            continue
        reach = 4 * max(pore[i], pore[i + 1])                # pixels
        sigma = reach / (max(float(radius[i].mean()), 1.0) * dtheta)
        if sigma < 0.5:
            continue
        side = 1.0 if inner else -1.0       # mouths dip towards the material: low side * r
        u = side * radius[i]
        weights = np.ones_like(u)
        for _ in range(5):
            fit = _local_quadratic(u, weights, sigma, z, reach)
            residual = u - fit
            if open_face:
                above = residual[residual > 0]
                scale = 1.4826 * float(np.median(above)) if above.size else 0.0
                weights = (residual > -max(2.5 * scale, 0.25)).astype(float)
            else:
                scale = 1.4826 * float(np.median(np.abs(residual[weights > 0])))
                weights = (np.abs(residual) < max(2.5 * scale, 0.25)).astype(float)
        fit = _local_quadratic(u, weights, sigma, z, reach)
        slope = np.abs(np.roll(fit, -1, -1) - np.roll(fit, 1, -1)) / (
            2 * dtheta * np.maximum(np.abs(fit), 1e-12))
        oblique = ndi.maximum_filter1d(slope, 2 * int(np.ceil(sigma)) + 1, axis=-1,
                                       mode="wrap") > 0.3
        out[i] = side * np.where(oblique, u, fit)
    return out


def _align_faces(radius: np.ndarray, found: np.ndarray, bright: np.ndarray, stack: np.ndarray,
                 rho: np.ndarray, ray: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Faces between material and a gap shifted, per slice, onto the pixels' own boundary.

    Along a ray the sub-pixel crossing of a pixelated step lies anywhere between the last
    pixel centre on one side and the first on the other, so its mean over the rays depends
    on the phase of the face against the pixel grid (up to 0.2 pixel). Each such face of
    ``radius`` ``(n_surfaces, Z, A)`` is moved, in each slice, by the offset (within
    ±0.75 pixel, steps of 0.05; the middle of the best ones) that puts the most pixels
    within 1.5 pixels of it on their own side: brighter than the face's level on the
    material side, the others on the gap side. Only pixels next to rays where the face
    was ``found`` within half a pixel of ``radius`` count (not those across a bridged mouth).
    """
    out = radius.copy()
    n_angles = radius.shape[-1]
    j = np.floor(ray).astype(np.int64) % n_angles
    w = ray - np.floor(ray)
    k = np.arange(len(rho))[:, None, None]
    offsets = np.linspace(-0.75, 0.75, 31)
    for i in range(len(radius)):
        if bright[i] == bright[i + 1] or not np.isfinite(levels[i]):
            continue
        distance = rho - ((1 - w) * radius[i][k, j] + w * radius[i][k, (j + 1) % n_angles])
        kept = np.abs(found[i] - radius[i]) < 0.5
        near = np.where(w < 0.5, kept[k, j], kept[k, (j + 1) % n_angles])
        band = (np.abs(distance) < 1.5) & near
        inner = (stack > levels[i]) == bright[i]           # on the inner side by grey value
        for z in range(len(rho)):
            d, side = distance[z][band[z]], inner[z][band[z]]
            if d.size:
                errors = ((d[None] < offsets[:, None]) != side[None]).sum(axis=1)
                out[i, z] += offsets[errors == errors.min()].mean()
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
                 region_weight: float = 1.0, delta: int | Sequence[int] | None = None,
                 min_distance: int = 2, max_distance: int | None = None,
                 voxel_size: Any = 1.0, material: Any = None, threshold: Any = None,
                 sigma: float = 1.0, fill: int | None = None) -> ShellLayers:
    """Growth layers rolled around a centre line: unfold, find all surfaces in 3D, tabulate.

    The slices are unfolded to polar coordinates around their centres
    (:class:`qimcore.surfaces.PolarGrid`, a ``(radius, slice, angle)`` stack), all surfaces are
    found in one call of :func:`qimcore.surfaces.detect_surfaces` with the angle axis cyclic
    and smoothness along the slices too, so the layers are smooth from slice to slice, and each
    layer is measured in these layer-following coordinates: thickness along the normal of the
    unfolded layers (the radial distance corrected by the slopes ``dr / (r dθ)`` around and
    ``dr / dz`` along the shell), porosity and mean intensity per layer from the pixels of
    the slices, with the per-layer pore levels of :func:`layer_table`.

    Pores at a wall's faces would pull edge-found surfaces into the wall, so the surfaces are
    found twice. The first search gives the regions; a region is material ("bright") when
    its median grey value lies above Otsu's threshold of the slices, a gap ("dark")
    otherwise, so a darker layer next to a brighter one is material too. The pores of the
    material layers (pixels darker than their layer's iso-level; with the dents of the faces
    next to the open inside or outside, where pores running through a wall made the first
    surfaces go round them) give the largest inscribed pore radius ``p`` of each layer and
    overall; in each slice the
    binary closing of the material by a disk of radius ``2 ceil(p)`` pixels marks the pores
    and the pores cut open at a face (faces curved less than the disk stay), which take the
    local grey value of the material, and the surfaces are searched again on that
    pore-filled image. The disk stays below half the thickness of
    every dark layer (and the radius of a dark inside), so gaps between walls are kept; in
    front of the last face, where the outside is open, it is twice as large, and pores of a
    wall take the disk of the gap in front of the nearer face. Two material layers that
    touch differ only by a step in grey value, which can be as small as the noise; the edge
    term alone may then trade it for the noise of a dark region (a surface in the hole, the
    next one on the hole's edge), so in the second search each of them pays a region term
    (Chan-Vese, ``region_weight``) towards its own grey value, the median of its region of
    the first search with the pores filled, which no dark region matches.
    Each surface is then placed to a fraction of a pixel where the profile crosses the grey
    value half-way between the regions on either side (the raw profile: disks centred on
    pixels fit a round hole loosely and would fill its rim). Pores cut open at a face run
    together into mouths wider than any disk bridges flat (a bridge follows a chord, which
    sags into a round face), so last the faces of porous walls next to the open inside or
    outside are refitted across the mouths as surfaces over slice and angle: a weighted
    local fit, quadratic along the angle and linear along the axis, over ``4 p`` pixels of
    arc and ``4 p`` pixels (``voxel_size`` scaled) along the axis (``p`` of the layers on
    either side), in which the rays that dip into the wall by more than 2.5 noise deviations
    weigh nothing; a mouth is bridged at the height of the face around it and above and
    below it (pores are blobs: a mouth wide around the shell is mostly narrow along it), and
    the sub-pixel wobble from ray to ray is averaged out. A boundary between two material
    layers is refitted the same way (dips on either side left out); faces of a dark layer
    between two surfaces (chambers, whose corners are real), stretches of a face oblique to
    the rays (slope ``|dr / (r dθ)| > 0.3``, where the polar grid is a poor chart) and faces
    of layers without pores are kept as found. Along a ray the crossing of a pixelated step
    lies anywhere between the pixel centres on either side, so finally each face between
    material and a gap is shifted, per slice, by the offset (within ±0.75 pixel) that puts
    the most pixels near it on their own side by grey value.

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
        Default: a term only for material layers that touch another one, towards their own
        grey value (see above).
    region_weight : float, keyword-only
        Weight of the region terms against the edge terms.
    delta : int or (int, int), keyword-only, optional
        Smoothness in radius samples between neighbouring (slice, angle) columns. Default:
        along the slices, the distance between neighbouring analysed slices in radius
        samples (the median over the stack, ``voxel_size`` scaled; at least 1), so a face may
        tilt by up to 45 degrees along the axis however sparsely the slices are analysed;
        along the angle, 2.
    min_distance, max_distance : int, keyword-only
        Bounds on the radial distance between consecutive surfaces, in radius samples. A
        step between two layers spreads over two samples of the (bilinear) unfolding, so
        with ``min_distance=1`` two surfaces of the same polarity could share one step; the
        default 2 keeps them apart.
    voxel_size : float or (float, float, float), keyword-only
        Voxel size ``(z, y, x)`` in µm; ``y`` and ``x`` must be equal (polar geometry).
    material : (Z, Y, X) array, keyword-only, optional
        Solid mask or probability (solid where >= 0.5) for the porosity; default:
        each layer's pores told from its own material in the intensities, as in
        :func:`qimcore.layers.layer_table`.
    threshold : float or sequence of float, keyword-only, optional
        Fixed intensity threshold for the solid, one or one per layer, instead.
    sigma : float, keyword-only
        Smoothing of the surface slopes for the thickness, in columns.
    fill : int, keyword-only, optional
        Radius (pixels) of the disk that fills pores before the second search, everywhere;
        default: estimated from the pores of the bright layers and the gaps as above (0 when
        they have no pores wider than one pixel); 0 = one search on the volume as it is and
        the faces kept as found. A given ``fill`` stands for ``p = fill / 2`` in the face refit.

    Returns
    -------
    ShellLayers
        ``heights``, ``points``, ``thickness`` maps and ``table`` (one row per layer).

    Raises
    ------
    ValueError
        For bad ``edges``/``regions``, unequal in-plane voxel sizes, slices outside the volume
        or a negative ``fill``.
    TypeError
        For a ``fill`` that is not an integer.

    See Also
    --------
    qimcore.surfaces.PolarGrid, qimcore.surfaces.edge_cost, qimcore.surfaces.region_cost,
    qimcore.surfaces.detect_surfaces, qimcore.layers.layer_table

    Notes
    -----
    Measured accuracy (``docs/accuracy.md``, 16 random ``shell_family`` walls per porosity):
    thickness within 0.35 voxel and porosity within 0.7 percentage points for wall porosity
    up to 30 %; two porous layers differing in grey value by 10-30 % of the range (noise up
    to 15 %): boundary within 0.3 voxel, porosity within 1.5 pp (1.9 pp over 24 further
    members, 1.4 pp over 24 fresh ones). Over 48 further walls (4 slices each) the
    tails reach 0.9 pp at 10 %, 1.7 pp at 20 % and 2.3 pp (0.9 voxel) at 30 %, where
    coarse pores run together along a quarter of a face, through all the slices, and read
    low; on 16 slices the 30 % tail is 1.5 pp (2.2 pp with the faces refitted per slice).
    Layers differing by a third of the noise (5 % of the range) can still be confused.

    Examples
    --------
    >>> z, y, x = np.mgrid[:6, :41, :41]
    >>> r = np.hypot(y - 20, x - 20)
    >>> tube = ((r > 8.5) & (r < 14.5)).astype(np.float32)    # a wall 6 voxels thick
    >>> res = shell_layers(tube, ["rising", "falling"], center=(20, 20), radii=np.arange(20.0),
    ...                    n_angles=32, voxel_size=2.0)
    >>> res.heights.shape, np.unique(res.heights, axis=1)[:, 0, :4].tolist()
    ((2, 6, 32), [[9, 9, 9, 9], [15, 15, 15, 15]])
    >>> round(float(res.table["thickness_mean"][0]) / 2.0, 1)   # voxels of 2 µm; the ring: 6
    6.0
    """
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
    if fill is not None:
        _validate.positive(fill, "fill", allow_zero=True, integer=True)
    if material is not None:
        material = _validate.array(material, "material", ndim=3, allow_dask=False)
        if material.shape != vol.shape:
            raise ValueError(f"material must have the volume's shape {vol.shape}, "
                             f"got {material.shape}")
    stack = np.asarray(vol[ks], np.float32)
    level = threshold_otsu(stack.ravel())
    if center is None:
        solid = stack > level
        center = np.array([ndi.center_of_mass(s) for s in solid])
    r = np.arange(min(vol.shape[1:]) // 2, dtype=float) if radii is None else radii
    centres = np.broadcast_to(np.asarray(center, float), (len(ks), 2))
    grid = PolarGrid(centres, r, n_angles)
    r = grid.radii
    step = float(np.mean(np.diff(r))) if len(r) > 1 else 1.0
    if delta is None:
        gap = float(np.median(np.diff(ks))) * dz / dx if len(ks) > 1 else 1.0
        delta = (max(1, math.ceil(gap / step - 1e-9)), 2)
    polarity = [_POLARITY[_validate.choice(e, "edges", tuple(_POLARITY))] for e in edges]

    def search(unfolded: np.ndarray, greys: list[float | None] | None = None) -> np.ndarray:
        lo, hi = float(unfolded.min()), float(unfolded.max())
        u = (unfolded - lo) / (hi - lo) if hi > lo else np.zeros_like(unfolded)
        region = None
        if regions is not None and hi > lo:
            region = region_cost(u, _region_means(u, regions), region_weight)
        elif greys is not None and hi > lo:
            means = [None if g is None else (g - lo) / (hi - lo) for g in greys]
            region = region_cost(u, means, region_weight)
        costs = [edge_cost(u, sigma=0, clip=True, polarity=p) for p in polarity]
        return detect_surfaces(costs, delta=delta, min_distance=min_distance,
                               max_distance=max_distance, region_cost=region, wrap=grid.wrap)

    rho, ray = _voxel_polar(stack.shape[1:], centres, n_angles)
    unfolded = grid.sample(stack)                                        # (R, Z, A)
    heights = search(unfolded)
    n_layers = len(edges) - 1
    first = np.maximum(r[heights] - 0.5 * step, 0.0)
    labels = _voxel_layers(rho, ray, first)
    bright = _bright(stack, labels, len(edges) + 1, level)
    dark = _dark(stack, labels, n_layers)
    if fill is None:
        disks, pore = _pore_radius(dark, labels, bright, first, rho, ray)
    else:
        disks, pore = np.full(len(bright), int(fill)), np.where(bright, fill / 2, 0.0)
    fill = int(disks.max())
    filled = _fill_pores(stack, _disk_map(disks, bright, rho, ray, first), dark)
    greys = _touching_greys(filled, labels, bright) if regions is None else None
    if fill or greys is not None:
        heights = search(grid.sample(filled) if fill else unfolded, greys)
    radius = np.maximum(r[heights] - 0.5 * step, 0.0)          # sample h spans r[h] ± step/2
    labels = _voxel_layers(rho, ray, radius)
    grey = np.array([np.median(filled[labels == k]) if np.any(labels == k) else np.nan
                     for k in range(len(edges) + 1)])                 # each region's grey
    rising = np.array([p == "dark-to-bright" for p in polarity])
    levels = np.where((grey[1:] > grey[:-1]) == rising, 0.5 * (grey[1:] + grey[:-1]), np.nan)
    found = _crossings(unfolded, r, heights, levels, rising)
    radius = _smooth_faces(found, bright, pore, ks * (dz / dx)) if fill else found
    radius = _align_faces(radius, found, bright, stack, rho, ray, levels)
    labels = _voxel_layers(rho, ray, radius)
    layer = labels.astype(np.int64) - 1
    inside = (layer >= 0) & (layer < n_layers)
    if material is not None:
        solid = np.asarray(material[ks], np.float32) >= 0.5
        threshold = None
    else:
        if threshold is None:
            threshold = _thresholds(stack, labels, n_layers)
        threshold = np.asarray(threshold, dtype=np.float64)
        if threshold.shape not in ((), (n_layers,)):
            raise ValueError(f"threshold must be one number or one per layer ({n_layers}); "
                             f"got shape {threshold.shape}")
        threshold = np.broadcast_to(threshold, (n_layers,))
        level = threshold[np.clip(layer, 0, n_layers - 1)]
        solid = stack > level
    layer, solid, values = layer[inside], solid[inside], stack[inside].astype(np.float64)
    n_vox = np.bincount(layer, minlength=n_layers)
    n_solid = np.bincount(layer[solid], minlength=n_layers)
    with np.errstate(invalid="ignore", divide="ignore"):
        porosity = np.where(n_vox > 0, 1.0 - n_solid / np.maximum(n_vox, 1), np.nan)
        imean = np.bincount(layer[solid], weights=values[solid], minlength=n_layers) / n_solid
    radius_um = radius * dx
    z_um = ks * dz
    thickness = _polar_thickness(radius_um, z_um, n_angles, sigma)
    dzs = np.gradient(z_um.astype(float)) if len(ks) > 1 else np.array([dz])
    wedge = 0.5 * np.diff(radius_um ** 2, axis=0) * (2 * np.pi / n_angles) * dzs[:, None]
    table = _table(thickness, n_vox, porosity, imean, wedge.reshape(len(wedge), -1).sum(axis=1),
                   threshold)
    return ShellLayers(heights=heights, points=grid.points(heights), radius=radius,
                       thickness=thickness, table=table, unfolded=unfolded, slices=ks,
                       centres=np.array(centres), radii=r, fill=fill)
