"""Nerve tracking: two wrapped graph-cut surfaces per slice, propagated along ``z``."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
from matplotlib.path import Path
from scipy import ndimage as ndi
from scipy.spatial import cKDTree
from skimage.filters import threshold_otsu
from tqdm.auto import tqdm

from .. import _validate
from ..surfaces import (
    curve_normals,
    detect_surfaces,
    edge_cost,
    polar_radii,
    polar_to_points,
    polygon_area,
    ray_directions,
    unfold_polar,
)
from ._obstacles import _blocked, _join, _Taken

__all__ = ["NerveTrack", "find_seeds", "myelin_map", "track_nerves"]

_EXCLUDE = 4.0   # region cost per sample for claiming a pixel owned by another nerve
_FAR = 1e3       # claim of a point far from every other nerve (thickness units)
_GAP = 0.25      # smallest myelin thickness (pixels) after sub-pixel refinement
_CUT = 0.25      # largest fraction of an outer curve on the image edge (else border-cut)
_CORE = 2.0      # depth (pixels) inside myelin beyond the reach of a boundary's blur


@dataclass
class NerveTrack:
    """One myelinated nerve: its axon and myelin boundaries in consecutive slices.

    Attributes
    ----------
    z : (n_slices,) ndarray of int
        Slice indices, ascending and consecutive.
    inner : (n_slices, n_points, 2) ndarray of float
        Axon boundary (axon/myelin) per slice: closed curve of ``(y, x)`` points in voxels.
    outer : (n_slices, n_points, 2) ndarray of float
        Outer myelin boundary (myelin/background) per slice, same layout.
    contrast : (n_slices,) ndarray of float
        Mean myelin map in the ring minus the mean inside and outside it (1 = perfect myelin,
        0 = none); low values mark slices without myelin, e.g. nodes of Ranvier.
    lost : (n_slices,) ndarray of bool
        Slices whose contrast fell below ``min_contrast``; their curves are carried over
        from the neighbouring slice (they bridge gaps such as nodes of Ranvier).
    cut : (n_slices,) ndarray of bool
        Slices where the outer curve reaches the image's edge: the myelin is cut by the
        border there (the axon is still inside), so only the axon is measured.
    gap : (n_slices,) ndarray of float
        Fraction of the rays from the centre whose ring holds no myelin (its mean myelin map
        nearer to the surroundings' level than to the ring's): the sheath is incomplete
        there, e.g. where a slice cuts a node of Ranvier obliquely (0 = a closed ring).

    Examples
    --------
    >>> theta = 2 * np.pi * np.arange(8) / 8
    >>> circle = np.stack([np.sin(theta), np.cos(theta)], -1)
    >>> track = NerveTrack(z=[3, 4], inner=[2 * circle] * 2, outer=[3 * circle] * 2)
    >>> len(track), track.inner.shape, track.lost.tolist(), track.cut.tolist(), track.gap.tolist()
    (2, (2, 8, 2), [False, False], [False, False], [0.0, 0.0])
    """

    z: np.ndarray
    inner: np.ndarray
    outer: np.ndarray
    contrast: np.ndarray = field(default=None)  # type: ignore[assignment]
    lost: np.ndarray = field(default=None)  # type: ignore[assignment]
    cut: np.ndarray = field(default=None)  # type: ignore[assignment]
    gap: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.z = np.asarray(self.z, np.int64)
        self.inner = np.asarray(self.inner, np.float64)
        self.outer = np.asarray(self.outer, np.float64)
        n = len(self.z)
        if self.inner.shape != self.outer.shape or self.inner.ndim != 3 \
                or self.inner.shape[0] != n or self.inner.shape[2] != 2:
            raise ValueError(f"inner and outer must both be (n_slices={n}, n_points, 2); "
                             f"got {self.inner.shape} and {self.outer.shape}")
        self.contrast = (np.ones(n) if self.contrast is None
                         else np.asarray(self.contrast, np.float64))
        self.lost = np.zeros(n, bool) if self.lost is None else np.asarray(self.lost, bool)
        self.cut = np.zeros(n, bool) if self.cut is None else np.asarray(self.cut, bool)
        self.gap = np.zeros(n) if self.gap is None else np.asarray(self.gap, np.float64)

    def __len__(self) -> int:
        return len(self.z)


# -- the myelin map ---------------------------------------------------------------------------

def _levels(volume: Any, z: np.ndarray, sigma: float) -> tuple[float, float]:
    """Dark (myelin) and light class means of a few smoothed slices (Otsu split)."""
    values = np.concatenate([ndi.gaussian_filter(np.asarray(volume[k], np.float32), sigma).ravel()
                             for k in z])
    t = threshold_otsu(values)
    return float(values[values <= t].mean()), float(values[values > t].mean())


def myelin_map(image: Any, *, levels: tuple[float, float] | None = None,
               sigma: float = 1.0, clip: bool = True) -> np.ndarray:
    """Myelin likelihood of a slice from intensities: dark myelin = 1, light tissue = 0.

    ``m = clip((light - I_sigma) / (light - dark), 0, 1)`` with ``I_sigma`` the image
    smoothed by a Gaussian of ``sigma`` pixels; ``m = 0.5`` is half way between the two
    levels, where the graph cut puts the boundaries.

    Parameters
    ----------
    image : (Y, X) or (Z, Y, X) array_like
        CT slice(s); myelin is dark.
    levels : (dark, light) floats, keyword-only, optional
        Myelin and tissue intensities; default: the two Otsu class means of ``image``.
    sigma : float, keyword-only
        Gaussian smoothing in pixels (within slices); 0 = none.
    clip : bool, keyword-only
        Clip to [0, 1]; unclipped values keep the noise and partial-volume levels unbiased.

    Returns
    -------
    myelin : ndarray of float32, ``image.shape``, values in [0, 1] when clipped

    Examples
    --------
    >>> image = np.full((5, 5), 200.0); image[:, 2] = 50
    >>> myelin_map(image, sigma=0)[0].tolist()
    [0.0, 0.0, 1.0, 0.0, 0.0]
    """
    img = np.asarray(_validate.array(image, "image", ndim=(2, 3), allow_dask=False), np.float32)
    sigma = _validate.positive(sigma, "sigma", allow_zero=True)
    if levels is None:
        stack = img.reshape((-1,) + img.shape[-2:])
        levels = _levels(stack, np.arange(len(stack)), sigma)
    dark, light = (float(v) for v in levels)
    if not light > dark:
        raise ValueError(f"levels must be (dark, light) with light > dark; got {levels!r}")
    smooth = ndi.gaussian_filter(img, (0,) * (img.ndim - 2) + (sigma, sigma)) if sigma else img
    m = (light - smooth) / (light - dark)
    return (np.clip(m, 0, 1) if clip else m).astype(np.float32)


def _plateau(maps: list[np.ndarray]) -> float:
    """Myelin level of the unsmoothed map inside thick myelin: median over the pixels more
    than ``_CORE`` pixels inside the half-level boundary of the smoothed map (0 where there
    are none). A thin sheath's blurred profile never reaches it, so its edges are placed half
    way to this level (a material constant), not half way to its lowered peak."""
    core = [raw[ndi.distance_transform_edt(smooth > 0.5) > _CORE] for smooth, raw in maps]
    values = np.concatenate(core)
    return float(np.median(values)) if values.size else 0.0


class _Myelin:
    """Myelin map of one slice at a time, from probabilities or from intensities, and the
    level of thick myelin in it (see `_plateau`)."""

    def __init__(self, volume: Any, probabilities: Any, myelin_label: int, sigma: float,
                 start: int) -> None:
        self.volume, self.sigma = volume, sigma
        self.prob = None if probabilities is None else probabilities[myelin_label - 1]
        nz = volume.shape[0]
        picks = np.unique(np.r_[start, np.linspace(0, nz - 1, 6).round().astype(int)])
        if self.prob is None:
            self.levels = _levels(volume, picks, sigma)
        self.cache: dict[int, np.ndarray] = {}
        self.plateau = _plateau([self(z) for z in picks])
        self.cache.clear()

    def __call__(self, z: int) -> np.ndarray:
        """``(2, Y, X)``: the map smoothed by ``sigma`` (for the cut) and unsmoothed."""
        if z not in self.cache:
            if self.prob is not None:
                m = np.asarray(self.prob[z], np.float32)
            else:
                m = myelin_map(np.asarray(self.volume[z]), levels=self.levels, sigma=0,
                               clip=False)
            smooth = np.clip(ndi.gaussian_filter(m, self.sigma) if self.sigma else m, 0, 1)
            self.cache[z] = np.stack([smooth, m])
            self.cache.pop(z - 2, None)
            self.cache.pop(z + 2, None)
        return self.cache[z]


# -- seeds ------------------------------------------------------------------------------------

def find_seeds(myelin: Any, *, min_area: float = 20.0, threshold: float = 0.5) -> np.ndarray:
    """Axon centres in one slice: non-myelin holes enclosed by myelin.

    The myelin map is thresholded, its holes filled; each hole (a component not connected
    to the image border, so border-cut axons are rejected) of at least ``min_area`` pixels
    gives one seed, at its point farthest from the myelin (inside even for bent axons).

    Parameters
    ----------
    myelin : (Y, X) array_like of float
        Myelin likelihood in [0, 1], e.g. from :func:`myelin_map` or a class probability.
    min_area : float, keyword-only
        Smallest axon area in pixels.
    threshold : float, keyword-only
        Myelin where ``myelin > threshold``.

    Returns
    -------
    seeds : (k, 2) ndarray of float
        ``(y, x)`` centres, sorted by ``y`` then ``x``.

    Examples
    --------
    >>> yy, xx = np.mgrid[:32, :32]
    >>> ring = (np.abs(np.hypot(yy - 12, xx - 16) - 7) < 2).astype(float)
    >>> find_seeds(ring).tolist()
    [[12.0, 16.0]]
    """
    m = _validate.array(myelin, "myelin", ndim=2, allow_dask=False)
    min_area = _validate.positive(min_area, "min_area", allow_zero=True)
    _validate.in_range(threshold, "threshold", 0, 1)
    mask = m > threshold
    holes = ndi.binary_fill_holes(mask) & ~mask
    labels, n = ndi.label(holes)
    if n == 0:
        return np.zeros((0, 2))
    dist = ndi.distance_transform_edt(holes)
    index = np.arange(1, n + 1)
    areas = ndi.sum_labels(holes, labels, index)
    peaks = ndi.maximum_position(dist, labels, index)
    seeds = np.array([p for p, a in zip(peaks, areas) if a >= min_area], float).reshape(-1, 2)
    return seeds[np.lexsort((seeds[:, 1], seeds[:, 0]))]


# -- one nerve in one slice -------------------------------------------------------------------

@dataclass
class _State:
    inner: np.ndarray
    outer: np.ndarray
    contrast: float
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    expected: float | None = None   # smoothed myelin thickness that guides the next slice
    gap: float = 0.0                # fraction of rays without myelin in the ring

    @property
    def reference(self) -> float:
        return self.thickness if self.expected is None else self.expected

    @property
    def area(self) -> float:
        return float(polygon_area(self.outer))

    @property
    def mid(self) -> np.ndarray:
        return (self.inner + self.outer) / 2

    @property
    def thickness(self) -> float:
        return float(np.linalg.norm(self.outer - self.inner, axis=-1).mean())


@dataclass
class _Params:
    n_points: int
    delta: int
    min_thickness: int
    max_thickness: int
    search: float
    max_radius: float
    edge_weight: float
    min_contrast: float
    shape_prior: float
    min_g_ratio: float
    plateau: float = 0.0   # myelin level of thick myelin (see `_plateau`)


def _cut(profile: np.ndarray, raw: np.ndarray, claim: np.ndarray, border: np.ndarray,
         p: _Params, ring_prior: np.ndarray | float = 0.0, window: np.ndarray | float = 0.0
         ) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Inner and outer boundaries on ``(K, n)`` depth-first myelin profiles.

    Regions: axon (below the inner surface) and outside (above the outer one) pay the
    smoothed myelin likelihood ``profile``, the ring pays its complement, samples claimed by
    other nerves (``claim > 0``) pay ``_EXCLUDE`` unless outside, and the ring pays
    ``ring_prior`` (a cost for straying from the predicted ring); the surfaces pay the
    :func:`qimcore.surfaces.edge_cost` of the profile (rising into the ring, falling out of
    it) plus ``window`` (a cost for leaving the searched band). Returns
    fractional heights where the unsmoothed ``raw`` profile crosses
    half way between the levels (median, upper quartile in the ring) of the adjacent
    regions, the outer one kept below the first zero crossing of ``claim`` (no overlap) and
    above the inner one, the ring's contrast and the fraction of rays whose ring (mean of
    ``raw``) is nearer to the adjacent regions' level than to the ring's (no myelin there).
    Where a boundary has no edge of its own (see `_fill` and `_outliers`) its height is
    interpolated from the rays that have one; ``border`` (> 0 outside the image) marks the
    rays whose outer boundary is the image's edge, which are kept.
    """
    excluded = (claim > 0).astype(np.float64)
    k = len(profile)
    penalty = _EXCLUDE * excluded
    region = np.stack([profile + penalty, 1 - profile + penalty + ring_prior, profile])
    # the myelin map rises into the ring (inner boundary) and falls out of it (outer)
    cost = [p.edge_weight * edge_cost(profile, 0, polarity) + window
            for polarity in ("dark-to-bright", "bright-to-dark")]
    h0, h1 = detect_surfaces(cost, delta=p.delta, min_distance=p.min_thickness,
                             max_distance=min(p.max_thickness, k - 1), region_cost=region,
                             wrap=0)
    depth = np.arange(k)[:, None]
    free = excluded == 0
    inside, ring, outside = (raw[(depth < h0) & free], raw[(depth >= h0) & (depth < h1)],
                             raw[(depth >= h1) & free])
    level_in = np.median(inside) if inside.size else 0.0
    level_out = np.median(outside) if outside.size else 0.0
    # partial-volume edge samples pull the median; a thin ring's blurred peak stays below
    # the level of thick myelin, half way to which its edges lie
    level_ring = max(np.percentile(ring, 75), p.plateau)
    side = np.concatenate([inside, outside])
    contrast = float(ring.mean() - (side.mean() if side.size else 0.0))
    band = (depth >= h0) & (depth < h1)
    per_ray = (raw * band).sum(axis=0) / np.maximum(band.sum(axis=0), 1)
    sheath = per_ray >= ((level_in + level_out) / 2 + level_ring) / 2
    gap = float(np.mean(~sheath))
    inner, edge_in = _subpixel(raw, h0, (level_in + level_ring) / 2)
    outer, edge_out = _subpixel(raw, h1, (level_out + level_ring) / 2)
    front = _frontier(claim, h0)
    edge_out &= outer <= front
    outer = np.minimum(outer, front)
    # rays whose outer boundary is the image's edge keep it (the nerve is cut there)
    kept = _frontier(border, h0) <= outer + 1
    edge_in &= sheath
    edge_out &= sheath & ~kept
    # a thin outlier's inner edge may be the node's, a thick one's outer edge a neighbour's
    odd = _outliers(outer - inner, edge_in & edge_out, p.min_thickness / 2)
    edge_in &= odd >= 0
    edge_out &= odd == 0
    filled_in, filled_out = _fill(inner, outer, edge_in, edge_out)
    inner, outer = filled_in, np.minimum(np.where(kept, outer, filled_out), front)
    inner = np.minimum(inner, outer - _GAP)
    return np.maximum(inner, 0), np.maximum(outer, inner + _GAP), contrast, gap


def _frontier(claim: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Per column, the first fractional height at or above ``start`` where ``claim``
    crosses from <= 0 to > 0 (linear interpolation); ``K - 1`` where it does not."""
    k = len(claim)
    depth = np.arange(k)[:, None]
    hit = (claim > 0) & (depth >= start)
    first = np.where(hit.any(axis=0), hit.argmax(axis=0), k)
    cols = np.arange(claim.shape[1])
    j = np.clip(first - 1, 0, k - 1)
    a, b = claim[j, cols], claim[np.minimum(first, k - 1), cols]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where((a <= 0) & (b > a), -a / (b - a), 0.0)
    return np.where(first >= k, k - 1.0, np.where(first == 0, 0.0, j + frac))


def _outliers(thickness: np.ndarray, good: np.ndarray, excess: float) -> np.ndarray:
    """Per ray, +1 where the myelin ``thickness`` is an outlier above the ring's, -1 below
    it, else 0. The ring's is a least-squares fit of Fourier modes 0-2 around the ring (a
    sheath of even thickness seen in a tilted slice) to the ``good`` rays kept by the
    previous fit; an outlier lies farther from it than three robust standard deviations of
    the kept rays' residuals and at most ``excess``. A ray that runs on into the sheath of a
    touching nerve (one not tracked, so nothing stops it) is thicker by that sheath, at least
    ``min_thickness``, or, where blur fills the narrow gap beside the contact, by part of it;
    a ray through a node of Ranvier cut obliquely holds less myelin, or none."""
    angle = 2 * np.pi * np.arange(len(thickness)) / len(thickness)
    basis = np.stack([np.ones_like(angle), np.cos(angle), np.sin(angle),
                      np.cos(2 * angle), np.sin(2 * angle)], -1)
    keep, side = good, np.zeros(len(thickness))
    for _ in range(5):
        if keep.sum() < 2 * basis.shape[1]:
            return np.zeros(len(thickness))
        residual = thickness - basis @ np.linalg.lstsq(basis[keep], thickness[keep],
                                                       rcond=None)[0]
        spread = 1.4826 * np.median(np.abs(residual[keep] - np.median(residual[keep])))
        side = np.where(np.abs(residual) <= min(3 * spread, excess), 0.0, np.sign(residual))
        if (good & (side == 0) == keep).all():
            break
        keep = good & (side == 0)
    return side


def _fill(inner: np.ndarray, outer: np.ndarray, edge_in: np.ndarray, edge_out: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """Inner and outer heights per ray with those of the rays without an edge of their own
    (``edge_in``, ``edge_out`` False: the myelin is open there, as in a node of Ranvier cut
    obliquely, or runs on into a touching nerve's sheath) interpolated around the ring: the
    inner height from the rays with an inner edge, the outer one as the inner plus the
    myelin thickness of the rays with both edges. Unchanged when fewer than half of the rays
    have their edges (nothing to interpolate from: the slice is left to `gap`)."""
    both = edge_in & edge_out
    if both.all() or 2 * both.sum() < len(both):
        return inner, outer
    rays = np.arange(len(inner))

    def around(values: np.ndarray, good: np.ndarray) -> np.ndarray:
        return np.where(good, values, np.interp(rays, rays[good], values[good],
                                                period=len(rays)))

    filled = around(inner, edge_in)
    return filled, np.where(edge_out, outer, filled + around(outer - inner, both))


def _subpixel(profile: np.ndarray, h: np.ndarray, level: float
              ) -> tuple[np.ndarray, np.ndarray]:
    """Fractional height where ``profile`` crosses ``level``, per column, and whether it
    crosses there.

    The boundary of the cut lies between samples ``h - 1`` and ``h``; the crossing nearest
    to ``h - 1/2`` among the sample pairs ``(j, j + 1)``, ``j = h - 2 .. h``, is taken
    (``h - 1/2`` and False where the profile does not cross there).
    """
    k, n = profile.shape
    cols = np.arange(n)
    best = h - 0.5
    gap = np.full(n, np.inf)
    for shift in (-2, -1, 0):
        j = h + shift
        ok = (j >= 0) & (j + 1 < k)
        j = np.clip(j, 0, k - 2)
        a, b = profile[j, cols] - level, profile[j + 1, cols] - level
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(a != b, a / (a - b), 0.5)
        pos = j + frac
        hit = ok & (a * b <= 0) & (np.abs(pos - (h - 0.5)) < gap)
        best = np.where(hit, pos, best)
        gap = np.where(hit, np.abs(pos - (h - 0.5)), gap)
    return np.clip(best, 0, k - 1), np.isfinite(gap)


def _densify(curve: np.ndarray, factor: int = 3) -> np.ndarray:
    """Closed polygon with ``factor - 1`` evenly spaced points inserted on every edge."""
    t = np.arange(factor)[:, None, None] / factor
    dense = (1 - t) * curve[None] + t * np.roll(curve, -1, axis=0)[None]   # (factor, n, 2)
    return np.swapaxes(dense, 0, 1).reshape(-1, 2)


@dataclass
class _Claim:
    """A nerve's predicted axon curve and thickness: it claims the pixels nearer to its
    axon, in units of its myelin thickness, than to any other nerve's."""

    inner: np.ndarray
    thickness: float

    @cached_property
    def _index(self) -> tuple[cKDTree, np.ndarray, np.ndarray]:
        dense = _densify(self.inner)
        return cKDTree(dense), dense, curve_normals(dense)

    def distance(self, points: np.ndarray) -> np.ndarray:
        """Distance of ``(m, 2)`` points to the axon in thickness units (< 0 inside; the
        side is the one of the nearest curve point's outward normal)."""
        tree, dense, normals = self._index
        d, i = tree.query(points)
        outside = ((points - dense[i]) * normals[i]).sum(-1) >= 0
        return np.where(outside, d, -d) / max(self.thickness, 1.0)

    def box(self, margin: float) -> tuple[np.ndarray, np.ndarray]:
        """Bounding box of the pixels this nerve can claim."""
        pad = 2 * self.thickness + margin
        return self.inner.min(0) - pad, self.inner.max(0) + pad

    @property
    def reach(self) -> float:
        """Radius of the disc around the axon's centre holding all it can claim."""
        return float(np.linalg.norm(self.inner - self.inner.mean(0), axis=1).max()
                     + 2 * self.thickness)

    def near(self, other: _Claim, margin: float) -> bool:
        gap = np.linalg.norm(self.inner.mean(0) - other.inner.mean(0))
        return bool(gap < self.reach + other.reach + margin)


def _claimed(points: np.ndarray, k: int, claims: dict[int, _Claim], margin: float,
             where: np.ndarray | None = None) -> np.ndarray:
    """How much more the nearest other nerve claims each ``(..., 2)`` point than nerve ``k``
    does (difference of thickness-scaled distances, see `_Claim`): > 0 = owned by another.
    Only the points ``where`` is True (default all) are evaluated."""
    flat = points.reshape(-1, 2)
    wanted = np.ones(len(flat), bool) if where is None else where.ravel()
    out = np.full(len(flat), -_FAR)
    other = np.full(len(flat), np.inf)   # thickness-scaled distance to the nearest other
    own = claims[k]
    for j, c in claims.items():
        if j == k or not own.near(c, margin):
            continue
        lo, hi = c.box(margin)
        sel = np.flatnonzero(wanted & ((flat >= lo) & (flat <= hi)).all(axis=1))
        if sel.size:
            other[sel] = np.minimum(other[sel], c.distance(flat[sel]))
    hit = np.flatnonzero(np.isfinite(other))
    if hit.size:
        out[hit] = own.distance(flat[hit]) - other[hit]
    return out.reshape(points.shape[:-1])


def _step(myelin: np.ndarray, predicted: _State, thickness: float, k: int,
          claims: dict[int, _Claim], p: _Params, taken: np.ndarray | None = None) -> _State:
    """Both boundaries of nerve ``k`` on rays from the centre of the ``predicted`` curves,
    near their mid-myelin curve, avoiding the pixels the other ``claims`` own, the finished
    nerves' pixels (``taken``, see `_blocked`) and the outside of the image."""
    centre = _centroid(predicted.inner)
    mid = polar_radii(predicted.mid, centre, p.n_points)
    reach = thickness / 2 + p.search
    radii = np.arange(max(np.floor(mid.min() - reach), 0), np.ceil(mid.max() + reach) + 1)
    profile, raw = np.moveaxis(unfold_polar(myelin, np.stack([centre, centre]), radii,
                                            p.n_points), 1, 0)
    pts = centre + radii[:, None, None] * ray_directions(p.n_points)[None]
    offset = np.abs(radii[:, None] - mid[None])
    prior = p.shape_prior * np.maximum(offset - thickness / 2, 0)
    window = _EXCLUDE * (offset > reach)
    claim = np.maximum(_claimed(pts, k, claims, p.search, where=offset <= reach + 1),
                       _blocked(pts, myelin.shape[1:], taken))
    border = _blocked(pts, myelin.shape[1:], None)
    h_in, h_out, contrast, gap = _cut(profile, raw, claim, border, p, prior, window)
    return _State(_points(h_in, centre, radii, p.n_points, myelin.shape[1:]),
                  _points(h_out, centre, radii, p.n_points, myelin.shape[1:]), contrast,
                  gap=gap)


def _points(h: np.ndarray, centre: np.ndarray, radii: np.ndarray, n: int,
            shape: tuple[int, int]) -> np.ndarray:
    """Curve of fractional ray heights ``h``, kept within the image's outer voxel edges."""
    return np.clip(polar_to_points(h, centre, radii, n), -0.5, np.array(shape) - 0.5)


def _init(myelin: np.ndarray, seed: np.ndarray, seeds: np.ndarray, p: _Params,
          taken: np.ndarray | None = None) -> _State:
    """Boundaries around a seed from the polar unfolding (no previous curve yet); pixels
    nearer to another seed, owned by a finished nerve or outside the image are excluded."""
    radii = np.arange(0, p.max_radius + 1, dtype=np.float64)
    profile, raw = np.moveaxis(unfold_polar(myelin, np.stack([seed, seed]), radii, p.n_points),
                               1, 0)
    pts = seed + radii[:, None, None] * ray_directions(p.n_points)[None]
    dist = np.linalg.norm(pts[..., None, :] - seeds, axis=-1)
    claim = np.maximum(np.linalg.norm(pts - seed, axis=-1) - dist.min(axis=-1),
                       _blocked(pts, myelin.shape[1:], taken))
    border = _blocked(pts, myelin.shape[1:], None)
    h_in, h_out, contrast, gap = _cut(profile, raw, claim, border, p)
    inner = _points(h_in, seed, radii, p.n_points, myelin.shape[1:])
    outer = _points(h_out, seed, radii, p.n_points, myelin.shape[1:])
    return _State(inner, outer, contrast, gap=gap)


def _valid(state: _State, shape: tuple[int, int]) -> bool:
    """The axon is enclosed inside the image (at least one pixel of myelin between it and
    the outer pixel centres) and its curve has not collapsed."""
    step = np.linalg.norm(state.inner - np.roll(state.inner, -1, axis=0), axis=-1)
    axon = (state.inner >= 1).all() and (state.inner <= np.array(shape) - 2).all()
    return bool(axon and step.min() > 1e-6)


def _centroid(curve: np.ndarray) -> np.ndarray:
    return curve.mean(axis=0)


def _on_edge(curve: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Fraction of a ``(..., n, 2)`` curve on the image's edge (beyond the pixel centres,
    where `_blocked` pins the outer curve of a nerve cut by the border)."""
    return ((curve < 0) | (curve > np.array(shape) - 1)).any(axis=-1).mean(axis=-1)


# -- the public tracker -----------------------------------------------------------------------

def track_nerves(volume: Any, seeds: Any = None, probabilities: Any = None,
                 n_points: int = 90, *, start_slice: int = 0, myelin_label: int = 2,
                 sigma: float = 1.0, delta: int = 1, min_thickness: int = 2,
                 max_thickness: int = 12, search: float = 4.0, max_radius: float = 30.0,
                 edge_weight: float = 1.0, shape_prior: float = 1.0, min_area: float = 20.0,
                 min_contrast: float = 0.5, min_g_ratio: float = 0.4,
                 max_change: float = 0.25, max_lost: int = 3,
                 seed_every: int = 1, seed_slices: Any = None,
                 progress: bool = False) -> list[NerveTrack]:
    """Track myelinated nerves along ``z``: axon and myelin boundaries in every slice.

    Each nerve is two closed curves per slice, the axon boundary (inner) and the outer
    myelin boundary, found together as two wrapped surfaces by one exact graph cut
    (:func:`qimcore.surfaces.detect_surfaces`) on the polar unfolding of the slice around
    the centre predicted from the previous slice (moved by the nerve's last displacement),
    in a band around the previous mid-myelin curve, with smoothness ``delta`` between
    neighbouring rays and a myelin thickness between ``min_thickness`` and
    ``max_thickness``. Region costs make the axon and the outside non-myelin and the ring
    myelin; pixels nearer (in units of myelin thickness) to another nerve's axon cost extra
    and bound the outer curve, so neighbours touch but do not overlap. Boundaries are refined
    to sub-pixel precision where the myelin map crosses half way between the adjacent
    regions; on the rays where a boundary has no edge of its own (the sheath open at a node
    of Ranvier cut obliquely, or running on into the sheath of a touching nerve that is not
    tracked: no crossing there, or a myelin thickness off the ring's) it is interpolated
    around the ring from the other rays. Tracking runs from ``start_slice`` in both directions and stops when the nerve
    leaves the image (no pixel of myelin left between its axon and the edge, or more than a
    quarter of its outer curve on the edge) or a slice is lost (myelin contrast below
    ``min_contrast``, or a jump of the fibre area by more than ``max_change``) more than
    ``max_lost`` times in a row; shorter gaps, e.g. nodes of Ranvier, are bridged and flagged
    in ``lost``; slices whose outer curve reaches the edge are flagged in ``cut``. Then the
    ``seed_slices`` (by default every slice) are scanned for axons that no track covers yet
    (nerves cut by the border or missing in the start slice); each is tracked both ways
    around the nerves already tracked (it may not enter their outer curves) and joined to a
    track it continues. A new nerve needs ``min_contrast``, at most a quarter of its outer
    curve on the edge and a g-ratio of at least ``min_g_ratio``; a track whose myelin fades
    out at both ends inside the image and the volume is dropped (a myelinated nerve runs
    through; a faint ring that passes ``min_contrast`` for a few slices does not).

    Parameters
    ----------
    volume : (Z, Y, X) array_like or dask array
        CT volume, nerves roughly along ``z``, dark myelin (read one slice at a time).
    seeds : (k, 2) array_like of float, optional
        ``(y, x)`` axon centres in slice ``start_slice`` (voxels); default: found by
        :func:`find_seeds` on the myelin map of that slice.
    probabilities : (C, Z, Y, X) array_like, optional
        Class probabilities (e.g. from :class:`qimcore.segment.DictionarySegmenter`);
        class ``myelin_label`` is used as the myelin map. Default: :func:`myelin_map` of the
        intensities.
    n_points : int
        Points per closed curve.
    start_slice : int, keyword-only
        Slice of the seeds.
    myelin_label : int, keyword-only
        Label (1-based) of the myelin class in ``probabilities``.
    sigma : float, keyword-only
        Gaussian smoothing of the myelin map within slices (pixels).
    delta : int, keyword-only
        Largest change of a boundary's offset between neighbouring rays (pixels).
    min_thickness, max_thickness : int, keyword-only
        Myelin thickness bounds along each ray (pixels).
    search : float, keyword-only
        How far (pixels) the boundaries may move between slices beyond the myelin's half
        thickness.
    max_radius : float, keyword-only
        Largest outer radius searched around a seed in the start slice (pixels).
    edge_weight : float, keyword-only
        Weight of the boundary (gradient) costs against the region costs.
    shape_prior : float, keyword-only
        Cost per pixel and per pixel of distance for myelin placed farther than half the
        previous thickness from the predicted mid-myelin curve: keeps the ring where the
        image cannot tell (e.g. where the myelin of two nerves touches); 1 makes a pixel of
        ring one pixel too far cost as much as a pixel of the wrong class.
    min_area : float, keyword-only
        Smallest axon area for automatic seeds (pixels).
    min_contrast : float, keyword-only
        Myelin contrast (ring minus surroundings, in myelin-map units) below which a slice is
        lost; seeds below it in the start slice are dropped.
    min_g_ratio : float, keyword-only
        Smallest g-ratio (axon / fibre diameter in the slice) of a new nerve; myelinated
        axons lie at about 0.45-0.85, a ring thicker than that around a small hole is a gap
        between the myelin of other nerves (e.g. nerves cut by the image border).
    max_change : float, keyword-only
        Largest relative change of the fibre area between slices (and half the largest of the
        myelin thickness) before a slice counts as lost (a jump to a wrong boundary).
    max_lost : int, keyword-only
        Longest run of lost slices bridged before a track stops.
    seed_every : int, keyword-only
        Spacing of the default ``seed_slices`` (slices ``0, seed_every, 2 * seed_every, ...``;
        default every slice).
    seed_slices : sequence of int, keyword-only, optional
        Slices scanned with :func:`find_seeds` for nerves not tracked yet, after
        ``start_slice``; default: every ``seed_every``-th slice when ``seeds`` is None,
        none when ``seeds`` are given (only those are tracked). ``[]`` scans none.
    progress : bool, keyword-only
        Show a progress bar over slices.

    Returns
    -------
    tracks : list of NerveTrack
        First the nerves of the start slice's seeds, in seed order, then the ones found in
        the ``seed_slices``, in scanning order. Every nerve is tracked over consecutive
        slices; no two tracks share a nerve in a slice.

    Raises
    ------
    ValueError
        If ``volume`` is not 3D, ``seeds`` is not ``(k, 2)`` or lies outside the slice,
        ``probabilities`` does not have shape ``(C,) + volume.shape`` with
        ``C >= myelin_label``, or ``start_slice`` or a ``seed_slices`` entry is outside the
        volume, or ``seed_every < 1``.

    Notes
    -----
    Rays from the centre are used rather than the normals of the previous curve: normals of
    a curve with a kink cross each other and let the curve fold over, while a polar curve is
    star-shaped and keeps the inner curve inside the outer one. Nerve cross-sections are
    star-shaped around their centre. Samples outside the image count as not myelin, so the
    outer curve of a nerve touching the border follows the image's edge. A seed whose axon
    curve comes within half of ``min_thickness`` of an already tracked nerve (half way
    between a gap, which touches it, and an axon behind the thinnest myelin) is a gap
    between nerves, not an axon enclosed by its own myelin, and is dropped.

    See Also
    --------
    nerve_table, nerve_slices, nerve_nodes : measure the tracks.

    Examples
    --------
    >>> from qimcore.data.synthetic import nerve_phantom
    >>> volume, truth = nerve_phantom((6, 64, 64))
    >>> tracks = track_nerves(volume, n_points=48)
    >>> len(tracks), [len(t) for t in tracks]
    (3, [6, 6, 6])
    >>> tracks[0].inner.shape
    (6, 48, 2)
    """
    vol = _validate.array(volume, "volume", ndim=3)
    _validate.min_shape(vol, "volume", (8, 8))
    _validate.varying(vol, "volume")
    shape = vol.shape[1:]
    n_points = _validate.positive(n_points, "n_points", integer=True)
    if n_points < 8:
        raise ValueError(f"n_points must be >= 8; got {n_points}")
    start = _validate.positive(start_slice, "start_slice", integer=True, allow_zero=True)
    if start >= vol.shape[0]:
        raise ValueError(f"start_slice must be < {vol.shape[0]} (the volume's slices); "
                         f"got {start}")
    if probabilities is not None:
        probabilities = _validate.probabilities(
            _validate.array(probabilities, "probabilities", ndim=4, finite=False), "probabilities")
        if probabilities.shape[1:] != vol.shape or probabilities.shape[0] < myelin_label:
            raise ValueError(f"probabilities must have shape (C,) + {vol.shape} with "
                             f"C >= myelin_label={myelin_label}; got {probabilities.shape}")
    _validate.positive(delta, "delta", integer=True, allow_zero=True)
    _validate.positive(min_thickness, "min_thickness", integer=True)
    _validate.positive(max_thickness, "max_thickness", integer=True)
    _validate.positive(max_lost, "max_lost", integer=True, allow_zero=True)
    for name, value in (("search", search), ("max_radius", max_radius),
                        ("max_change", max_change),
                        ("edge_weight", edge_weight), ("sigma", sigma),
                        ("shape_prior", shape_prior), ("min_g_ratio", min_g_ratio)):
        _validate.positive(value, name, allow_zero=name != "max_radius")
    p = _Params(n_points, delta, min_thickness, max_thickness, float(search),
                float(max_radius), float(edge_weight), float(min_contrast),
                float(shape_prior), float(min_g_ratio))
    if max_thickness < min_thickness:
        raise ValueError(f"max_thickness must be >= min_thickness={min_thickness}; "
                         f"got {max_thickness}")
    nz = vol.shape[0]
    if seed_slices is None:
        every = _validate.positive(seed_every, "seed_every", integer=True)
        seed_slices = range(0, nz, every) if seeds is None else ()
    extra = [int(z) for z in np.atleast_1d(np.asarray(seed_slices, np.int64))]
    if any(not 0 <= z < nz for z in extra):
        raise ValueError(f"seed_slices must lie in [0, {nz - 1}]; got {extra}")
    myelin = _Myelin(vol, probabilities, myelin_label, sigma, start)
    p = replace(p, plateau=myelin.plateau)
    if seeds is None:
        seeds = find_seeds(myelin(start)[0], min_area=min_area)
    seeds = _check_seeds(seeds, shape)

    done: list[dict[int, tuple[_State, bool]]] = []
    order = [start] + [z for z in dict.fromkeys(extra) if z != start]
    bar = tqdm(total=len(order) * nz, disable=not progress, desc="track_nerves")
    for z0 in order:
        if z0 != start:
            seeds = find_seeds(myelin(z0)[0], min_area=min_area)
            covered = [r[z0][0].outer for r in done if z0 in r]
            seeds = np.array([q for q in seeds
                              if not any(Path(c).contains_point(q) for c in covered)]
                             ).reshape(-1, 2)
        taken = _Taken(done, shape)
        states = _start(myelin(z0), seeds, p, taken(z0)) if len(seeds) else {}
        fresh = [s for s in states.values() if s is not None]
        if not fresh:
            bar.update(nz)
            continue
        for record in _propagate(myelin, z0, fresh, taken, p, max_change, max_lost, bar):
            _join(record, done)
    bar.close()
    return [_assemble(record, shape) for record in done]


def _propagate(myelin: _Myelin, start: int, states: list[_State], taken: _Taken, p: _Params,
               max_change: float, max_lost: int, bar: Any) -> list[dict[int, tuple[_State, bool]]]:
    """Track the nerves found in slice ``start`` in both directions (see `track_nerves`),
    around the finished nerves in ``taken``; one ``{z: (state, lost)}`` record per nerve.
    A nerve whose myelin fades out at both ends (inside the image and the volume) is no
    myelinated nerve, which runs through: it is dropped."""
    nz = myelin.volume.shape[0]
    shape = myelin.volume.shape[1:]
    keep = range(len(states))
    records = [{start: (s, False)} for s in states]
    faded = dict.fromkeys(keep, 0)
    for zs, direction in [(range(start + 1, nz), 1), (range(start - 1, -1, -1), -1)]:
        active = dict(enumerate(states))
        lost_run = dict.fromkeys(keep, 0)
        for z in zs:
            bar.update()
            if not active:
                continue
            m = myelin(z)
            claims = {k: _Claim(s.inner + s.velocity, s.reference) for k, s in active.items()}
            for k in list(active):
                prev = active[k]
                predicted = _State(prev.inner + prev.velocity, prev.outer + prev.velocity, 0.0)
                if taken.covers(z, _centroid(predicted.inner)):   # met a finished nerve
                    del active[k]
                    continue
                new = _step(m, predicted, prev.reference, k, claims, p, taken(z))
                jump = (abs(new.area / prev.area - 1) > max_change
                        or abs(new.thickness / prev.reference - 1) > 2 * max_change)
                lost = new.contrast < p.min_contrast or jump
                lost_run[k] = lost_run[k] + 1 if lost else 0
                inside = _valid(new, shape) and _on_edge(new.outer, shape) <= _CUT
                if not inside or lost_run[k] > max_lost:
                    faded[k] += inside
                    del active[k]
                    continue
                if lost:
                    new = _State(prev.inner + prev.velocity, prev.outer + prev.velocity,
                                 new.contrast, prev.velocity, prev.reference)
                else:
                    new.velocity = _centroid(new.inner) - _centroid(prev.inner)
                    new.expected = 0.7 * prev.reference + 0.3 * new.thickness
                records[k][z] = (new, lost)
                active[k] = new
        for record in records:   # drop trailing lost slices at this end
            for z in sorted(record, reverse=direction > 0):
                if not record[z][1] or z == start:
                    break
                del record[z]
    bar.update()
    return [record for k, record in enumerate(records) if faded[k] < 2]


def _check_seeds(seeds: Any, shape: tuple[int, int]) -> np.ndarray:
    s = np.asarray(_validate.array(seeds, "seeds", ndim=2, allow_dask=False)
                   if np.size(seeds) else np.zeros((0, 2)), np.float64)
    if s.shape[1:] != (2,):
        raise ValueError(f"seeds must be (k, 2) (y, x) points; got shape {s.shape}")
    bad = ~((s >= 0) & (s <= np.array(shape) - 1)).all(axis=1)
    if bad.any():
        raise ValueError(f"seeds must lie inside the slice (0 <= y <= {shape[0] - 1}, "
                         f"0 <= x <= {shape[1] - 1}); got {s[bad].tolist()}")
    return s


def _start(m: np.ndarray, seeds: np.ndarray, p: _Params,
           taken: np.ndarray | None = None) -> dict[int, _State | None]:
    """Boundaries in the start slice: polar init around the seeds, then two sweeps around
    the curves' centres with the pixels claimed by other nerves excluded (None where a seed
    has too little myelin contrast or is cut by the border)."""
    shape = m.shape[1:]
    states: dict[int, _State | None] = {}
    for k, seed in enumerate(seeds):
        s = _init(m, seed, seeds, p, taken)
        states[k] = s if _seedable(s, shape, p) else None
        if taken is not None and s is not None and _blocked(s.inner, shape, taken).max() \
                > -p.min_thickness / 2:
            states[k] = None   # not enclosed by its own myelin: a gap between nerves
    for _ in range(2):
        claims = {k: _Claim(s.inner, s.thickness) for k, s in states.items() if s is not None}
        for k, s in states.items():
            if s is None:
                continue
            new = _step(m, _even(s, p.n_points), s.thickness, k, claims, p, taken)
            if _seedable(new, shape, p):
                states[k] = new
    return states


def _even(state: _State, n: int) -> _State:
    """The state with its outer curve at the median ray thickness outside the inner one: the
    first cut around a seed has no previous ring to keep it from following the myelin of an
    untracked neighbour that touches the nerve; the sweeps search around an even ring."""
    centre = _centroid(state.inner)
    r_in = polar_radii(state.inner, centre, n)
    ring = np.median(polar_radii(state.outer, centre, n) - r_in)
    return _State(state.inner, centre + (r_in + ring)[:, None] * ray_directions(n),
                  state.contrast)


def _seedable(state: _State, shape: tuple[int, int], p: _Params) -> bool:
    """A new nerve: myelin contrast, axon enclosed in the image, at most ``_CUT`` of the
    outer curve on the edge and a g-ratio (equivalent diameters) of at least ``min_g_ratio``
    (a smaller one is a gap between other nerves' myelin, not an axon in its own)."""
    g = np.sqrt(polygon_area(state.inner) / max(state.area, 1e-12))
    return bool(state.contrast >= p.min_contrast and _valid(state, shape)
                and _on_edge(state.outer, shape) <= _CUT and g >= p.min_g_ratio)


def _assemble(record: dict[int, tuple[_State, bool]], shape: tuple[int, int]) -> NerveTrack:
    zs = sorted(record)
    outer = np.stack([record[z][0].outer for z in zs])
    return NerveTrack(z=np.array(zs), inner=np.stack([record[z][0].inner for z in zs]),
                      outer=outer, contrast=np.array([record[z][0].contrast for z in zs]),
                      lost=np.array([record[z][1] for z in zs]), cut=_on_edge(outer, shape) > 0,
                      gap=np.array([record[z][0].gap for z in zs]))
