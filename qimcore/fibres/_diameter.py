"""Fibre diameter from the mean radial cross-section profile, fitted with a blurred disc, and
checked against a model of the whole volume (:mod:`._cylinders`)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from scipy import ndimage as ndi
from scipy.optimize import OptimizeWarning, curve_fit
from scipy.stats import ncx2

from .. import _validate
from ._cylinders import _model_diameter, _trials_around
from ._geometry import _frame
from ._orientation import _orientation_np
from ._ridges import _centres, _directions_at

_N_ANGLES = 16
_MODEL_SIZE = 64  # voxels per axis of the central crop the cylinder model fits
_TRIALS = tuple(float(c) for c in 2.0 ** np.arange(1.25, 4.51, 0.25))  # trial diameters


def _disc_model(rho: np.ndarray, level: float, contrast: float, radius: float, blur: float,
                curve: float) -> np.ndarray:
    """Radial profile of a disc of ``radius`` blurred by a Gaussian ``blur`` (the chance that a
    2D normal point around ``rho`` falls in the disc), on a background ``level`` that rises by
    ``curve (rho - radius)^2`` beyond the disc's edge: the neighbouring fibres, which cannot
    overlap the fibre, so they add nothing inside it (a background rising from the axis would
    let the fit trade the disc's edge for the neighbours: a larger, more blurred disc on a
    background far below the matrix)."""
    return (level + curve * np.maximum(rho - radius, 0.0) ** 2
            + contrast * ncx2.cdf((radius / blur) ** 2, 2, (rho / blur) ** 2))


def _fit_radius(radii: np.ndarray, profile: np.ndarray, scale: float
                ) -> tuple[float, float, int]:
    """Fibre radius and blur (same unit as ``radii``) from a mean radial profile, and the
    index of the profile's first minimum; NaNs if none fits.

    The profile is fitted from the centre to its first minimum (beyond it, neighbours
    dominate) with :func:`_disc_model`. ``scale`` is a first guess of the diameter: the blur is
    bounded by ``0.4 * scale`` and the contrast by three times the profile's drop, which keeps
    the fit from trading the disc's edge for the background curve.
    """
    end = int(np.argmin(profile))
    drop = float(profile[0] - profile[end])
    if end < 4 or not drop > 0:
        return math.nan, math.nan, end
    g = np.gradient(profile[:end + 1], radii[:end + 1])
    r0 = float(radii[int(np.argmin(g))])  # steepest descent: the first guess of the edge
    lo = [-np.inf, 0.0, 0.1 * scale, 0.05 * scale, -np.inf]
    hi = [np.inf, 3 * drop, 3 * scale, 0.4 * scale, np.inf]
    p0 = np.clip([float(profile[end]), drop, r0, 0.2 * scale, 0.0], np.add(lo, 1e-6),
                 np.subtract(hi, 1e-6))
    try:
        with warnings.catch_warnings():  # the covariance is not used
            warnings.simplefilter("ignore", OptimizeWarning)
            popt, _ = curve_fit(_disc_model, radii[:end + 1], profile[:end + 1], p0=p0,
                                bounds=(lo, hi))
    except (RuntimeError, ValueError):
        return math.nan, math.nan, end
    return float(popt[2]), float(popt[3]), end


def _fit_radii(radii: np.ndarray, profiles: np.ndarray, radius: float, blur: float,
               end: int) -> np.ndarray:
    """Radius of each of many profiles ``(n, R)`` with the blur of their pooled fit.

    Each profile (up to index ``end``) is fitted with the blurred disc of :func:`_disc_model`
    on a background ``level + curve rho^2`` for 101 radii from half to 1.5 times ``radius``;
    the model is linear in its other parameters, so each fit is a small least-squares solve,
    all profiles at once. The best radius is refined by a parabola; NaN where the contrast
    comes out <= 0. (With the blur fixed, the background from the axis cannot take the disc's
    edge; on the fibre family it gives the tracks' diameters closer than a background rising
    from the edge: 1.5 % against 2.5 % mean absolute error.)
    """
    rho = radii[:end + 1]
    cand = radius * np.linspace(0.5, 1.5, 101)
    data = profiles[:, :end + 1]
    resid = np.empty((len(cand), len(profiles)))
    contrast = np.empty_like(resid)
    for k, r in enumerate(cand):
        basis = np.column_stack([np.ones_like(rho), rho**2,
                                 _disc_model(rho, 0.0, 1.0, r, blur, 0.0)])
        coef = data @ np.linalg.pinv(basis).T  # (n, 3)
        resid[k] = ((data - coef @ basis.T) ** 2).sum(1)
        contrast[k] = coef[:, 2]
    resid[contrast <= 0] = np.inf
    k = np.argmin(resid, 0)
    out = cand[k]
    inner = (k > 0) & (k < len(cand) - 1)
    kk = k[inner]
    cols = np.flatnonzero(inner)
    y0, y1, y2 = resid[kk - 1, cols], resid[kk, cols], resid[kk + 1, cols]
    den = y0 - 2 * y1 + y2
    with np.errstate(invalid="ignore", divide="ignore"):
        shift = np.where(np.isfinite(den) & (den > 0), 0.5 * (y0 - y2) / den, 0.0)
    out[cols] += shift * (cand[1] - cand[0])
    out[~np.isfinite(resid.min(0))] = np.nan
    return out


def _radial_profile(volume: np.ndarray, centres: np.ndarray, directions: np.ndarray,
                    radii: np.ndarray) -> np.ndarray:
    """Mean intensity (trilinear) at distances ``radii`` from the ``centres`` (n, 3), in the
    planes perpendicular to the ``directions`` (n, 3), over all centres and 16 angles."""
    ang = np.linspace(0, 2 * np.pi, _N_ANGLES, endpoint=False)
    total = np.zeros(len(radii))
    for part in np.array_split(np.arange(len(centres)), max(1, len(centres) // 256)):
        frames = _frame(directions[part])  # (n, 3, 3)
        ring = (np.cos(ang)[None, :, None] * frames[:, None, 1]
                + np.sin(ang)[None, :, None] * frames[:, None, 2])  # (n, A, 3)
        pts = centres[part][:, None, None] + radii[None, :, None, None] * ring[:, None]
        val = ndi.map_coordinates(volume, pts.reshape(-1, 3).T, order=1, mode="nearest")
        total += val.reshape(pts.shape[:3]).mean(2).sum(0)
    return total / max(len(centres), 1)


def _log_diameter(crop: np.ndarray) -> float:
    """First guess: the finest scale at which the scale-normalised Laplacian of Gaussian
    (its 99.9th percentile over the crop: the fibre axes, even where fibres fill only a few
    percent of the volume and noise the rest) peaks.

    For an isolated cylinder of radius ``r`` the response at its axis peaks at
    ``sigma = r / sqrt(2)``. Fibres are the finest structure of a composite, so the first peak
    from fine to coarse scales is taken (coarser peaks come from plies and resin layers);
    neighbours in the kernel's negative lobe bias it low in packed composites (10-20 %), which
    the profile fit then corrects.
    """
    scales = 2.0 ** np.arange(-0.5, 3.01, 0.25)
    resp = []
    for s in scales:
        log = -(s * s) * ndi.gaussian_laplace(crop, s, mode="nearest")
        resp.append(np.quantile(log, 0.999))
    resp = np.asarray(resp)
    peaks = np.flatnonzero((resp[1:-1] >= resp[:-2]) & (resp[1:-1] >= resp[2:])) + 1
    k = int(peaks[0]) if len(peaks) else int(np.argmax(resp))
    log_s = np.log(scales)
    best = float(scales[k])
    if 0 < k < len(scales) - 1:
        y0, y1, y2 = resp[k - 1:k + 2]
        den = y0 - 2 * y1 + y2
        if den < 0:
            best = math.exp(log_s[k] + 0.5 * (y0 - y2) / den * (log_s[k + 1] - log_s[k]))
    return float(2 * math.sqrt(2) * best)


def estimate_diameter(volume: Any, *, bright: bool = True, max_size: int = 96) -> float:
    """Estimate the typical fibre diameter (voxels): mean cross-section, then a volume model.

    For a trial diameter ``c``:

    1. the fibre direction is the structure-tensor direction (:func:`orientation`,
       ``sigma = c/4``, ``rho = c``); fibre-axis points are the ridge points of the
       scale-normalised Laplacian of Gaussian (LoG) at the scale of ``c``: maxima across the
       fibre, in the axis plane most perpendicular to it (weak ridges dropped);
    2. the intensity is averaged over all points and 16 angles in the planes perpendicular to
       the fibres, out to ``1.5 c``: the mean radial profile;
    3. the profile, from the axis to its first minimum, is fitted with a disc blurred by a
       Gaussian on a background that is flat inside the disc and rises beyond its edge (the
       neighbours, which cannot overlap the fibre); its radius gives ``fit(c)``.

    ``fit(c)`` exceeds ``c`` below the fibre diameter and falls short of it above: the
    estimate starts from the finest trial diameter (2.4 voxels and up, steps of ``2**0.25``)
    where ``fit(c) / c`` falls through 1 with at least one of the two fits within a trial
    step of the two trial diameters (a jump of both fits, from coarser to finer structure,
    is no fall; where one fit jumped, the other is the estimate), and is
    refitted once there (the refit kept where it lies between the two trial diameters). Noise
    and coarser structure (plies, resin layers) show no such fall below the fibre scale, so
    they do not hide thin fibres. Where there is none, the estimate is the finest scale at
    which the scale-normalised LoG peaks, corrected by the profile fit only where the fit and
    its refit stay within a trial step of it (without a stable scale the fit may follow a
    finer or coarser structure).

    The profile fit models the blur of the scanner and the neighbours on average, so the result
    does not grow or shrink with the blur or the packing as long as the blur stays below about
    a third of the radius. Beyond, a disc 20 % smaller, more blurred and of higher contrast gives
    the same profile within 0.1 % of the contrast, so whatever the profile leaves out moves the
    radius: packed neighbours, whose blurred edges overlap the fibre's own, make thin blurred
    fibres read low (noise-free, at the true axes: -11 % to -14 % at 1.05-1.15 diameters apart
    and blur 0.9 voxel). Hence a last step:

    4. a model of the whole central 64-voxel crop: partial-volume cylinders of one radius
       around every detected fibre axis (every ridge of the LoG, at trial diameters
       ``d * 2**(k/4)``, ``k = -2..3`` around the profile's ``d``, averaged along each fibre
       over 3 voxels), blurred by a Gaussian, on a flat matrix; radius and blur are fitted by
       least squares and the trial with the least residual is kept. Its axes are then
       re-centred on the model three times (one Gauss-Newton step each, solved over 8 voxels
       of fibre) and radius and blur refitted: ridges of the LoG stray by tenths of a voxel,
       pulled by the neighbours' edges, and strayed axes read as thinner fibres (0.15 voxel of
       stray: about -9 %). The model places every neighbour where it is. Its diameter
       replaces the profile's where it lies within 0.8-2 times it, or 0.7-2 times a thin
       fibre's peak (a trial diameter, up to 28 % high): where the model held on the phantom
       families it lay within 0.93-1.62 times the profile's diameter (down to 0.74 times a
       thin fibre's peak), where it failed 0.77 times or less or 2.3 times or more. Where
       the profile found no stable scale (the LoG's peak stands in for it), the model
       chooses among all trial diameters from 2.4 voxels up, and its diameter is taken
       wherever its fit holds (one dense ply of d = 3.2, 63 %, whose LoG response falls from
       the finest scale on: the LoG's plateau +284 %, the model -5 %). It gives no diameter
       where its final fit describes no resolved bright fibres: a contrast that is not
       positive, less than 5 % of the variance explained (cylinders that cover every voxel
       compared: a flat model), or a blur of 0.8 of the radius or more (a thin line of blur,
       whose width and contrast trade off).

    On 214 members of the fibre family (``fibre_family``: diameter 3-12 voxels, volume
    fraction 30-65 %, tilt 0-30 degrees, noise up to that of the real sample) the mean
    absolute error is 0.7 % and all are within 10 %, the worst -8.3 % (the profile alone:
    2.7 %, 199 within 10 %, worst -39.5 %). On 20 members drawn thin (3-5 voxels), packed
    (45-65 % per ply) and blurred (0.7-1 voxel) all are within 10 %, mean 0.9 %, worst -5.3 %
    at contrast / noise 4.9 (the profile alone: 7, mean 16 %); on 20 more, never used to
    choose anything, mean 0.7 %, all within 10 %. Of 160 fresh default members (seeds
    8000-8039, 8100-8139 and 8200-8279, on which the model's checks were found) 157 are within
    10 % (155 before the checks; 158 with the model over all trials where there is no stable
    scale). Outside: thin (3.2-3.3 voxels), blurred (0.9-1 voxel) and packed (53-64 % per
    ply) members, +52 % (a quarter of the fibres are not found as ridges, and the model
    widens the others to fill their place) and +21 % (the model finds no
    resolved fibre and the profile's peak, a trial step high, stays). One dense ply of thin
    fibres (3-3.6 voxels, 55-65 %, noise 0.05-0.1) is the family's hardest corner: about a tenth
    of the fibre axes are not found as ridges there, and the model reads low (see
    ``docs/accuracy_fibres.md``, also for members never used to choose anything).

    Parameters
    ----------
    volume : (Z, Y, X) array_like
        Grey-value volume, fibres brighter than the matrix unless ``bright=False``.
    bright : bool, optional
        Fibres are bright (True) or dark.
    max_size : int, optional
        The estimate uses a central crop of at most ``max_size`` voxels per axis.

    Returns
    -------
    float
        Diameter in voxels.

    Raises
    ------
    ValueError
        If ``volume`` is not 3D or not finite.

    Examples
    --------
    >>> from qimcore.data.synthetic import fibre_phantom
    >>> volume, truth = fibre_phantom((40, 40, 40), diameter=6.0, random_state=0)
    >>> bool(abs(estimate_diameter(volume) - 6.0) < 0.6)
    True
    """
    volume = _validate.array(volume, "volume", ndim=3, allow_dask=True)
    max_size = int(_validate.positive(max_size, "max_size", integer=True))
    crop = np.asarray(volume[_central(volume.shape, max_size)], dtype=np.float32)
    crop = (crop - crop.mean()) / max(float(crop.std()), 1e-12) * (1 if bright else -1)
    d, path = _profile_estimate(crop)
    sub = crop[_central(crop.shape, _MODEL_SIZE)]
    if path == "log":  # no stable scale: the model chooses among all trial diameters
        model = _model_diameter(sub, _TRIALS)
        return model if math.isfinite(model) else d
    # where it holds, the cylinder model lies within 0.93-1.62 times the profile's diameter
    # (down to 0.74 below a thin fibre's peak); where it fails it is 0.77 times or less, 2.3
    # or more
    model = _model_diameter(sub, _trials_around(d))
    return model if (0.7 if path == "thin" else 0.8) * d <= model <= 2 * d else d


def _central(shape: tuple[int, ...], size: int) -> tuple[slice, ...]:
    """Slices of the central crop of at most ``size`` voxels per axis."""
    return tuple(slice(max(0, (n - size) // 2), max(0, (n - size) // 2) + size) for n in shape)


def _profile_estimate(crop: np.ndarray) -> tuple[float, str]:
    """The diameter of the mean-profile fit at the finest stable scale of ``crop`` (a
    standardised volume, fibres bright), as :func:`estimate_diameter` describes it, and how
    it was found: ``"fixed"`` (a stable scale, refitted: within a few percent on the phantom
    families), ``"thin"`` (a thin fibre's peak, a trial diameter: -31 % to +28 %) or
    ``"log"`` (no stable scale: the finest peak of the LoG, as good as its peak)."""
    d, bracket = _fixed_point(crop)
    if math.isfinite(d) and bracket is None:
        return d, "thin"
    if math.isfinite(d):  # refitted with the axes detected at the scale of the estimate
        final = _profile_diameter(crop, d)
        return (final if bracket[0] <= final <= bracket[1] else d), "fixed"
    # no stable scale: the finest LoG peak, corrected by the profile fit only where the fit
    # and its refit at its own result stay within a trial step (2**0.25) of it
    log_d = _log_diameter(crop)
    first = _profile_diameter(crop, log_d)
    if not _within_a_step(first, log_d):  # no fit (nan), or no fibre profile there
        return log_d, "log"
    final = _profile_diameter(crop, first)
    return (final if _within_a_step(final, log_d) else log_d), "log"


def _within_a_step(d: float, reference: float) -> bool:
    """Whether ``d`` lies within one trial step (``2**0.25``) of ``reference`` (False for
    NaN)."""
    return 2**-0.25 < d / reference < 2**0.25


def _fixed_point(crop: np.ndarray) -> tuple[float, tuple[float, float] | None]:
    """The finest stable scale of the profile fit (NaN if none), and the trial diameters
    that bracket it where the fit reaches it (None where not).

    The fit at a trial diameter ``c`` (:func:`_profile_diameter`) gives more than ``c`` when
    ``c`` is below the fibre diameter and less above it: the fibre diameter is where
    ``fit(c) / c`` falls through 1. Trial diameters go up from 2.4 voxels in steps of
    ``2**0.25``; the first fall is interpolated (in log scale). Noise and coarser structure
    (plies) give no such fall below the fibre scale, so thin fibres are not lost to them.

    Thin fibres blurred by more than about a third of their radius make the fit trade the
    radius for the blur: ``fit(c) / c`` stays below 1, peaks near the fibre diameter and falls
    beyond. Where it falls twice in a row below 1 within the first six trial diameters (up to
    5.7 voxels) from a peak above 0.55 (noise gives about 0.4 at all fine scales), the trial
    diameter of the peak is returned (no bracket: no refit), instead of a crossing at
    coarser structure.
    """
    cs, rs = [], []
    for c in _TRIALS:
        if c > min(crop.shape) / 3:
            break
        r = _profile_diameter(crop, c) / c
        if rs and rs[-1] >= 1 > r:
            d = _fall(cs[-1], rs[-1], float(c), r)
            if math.isfinite(d):
                return d, (cs[-1], float(c))
        cs.append(float(c))
        rs.append(r)
        if len(rs) in (3, 4, 5, 6) and 1 > rs[-3] > rs[-2] > rs[-1] and np.nanmax(rs) > 0.55:
            k = int(np.nanargmax(rs))  # the fit passed a thin fibre's scale without reaching it
            return cs[k], None
    return math.nan, None


def _fall(c0: float, r0: float, c1: float, r1: float) -> float:
    """The fibre diameter at a fall of ``fit(c)/c`` through 1 between trial diameters
    ``c0 < c1`` (ratios ``r0 >= 1 > r1``); NaN where the fall is no fixed point.

    A fit within one trial step of the bracket ``[c0, c1]`` stays at the fibre's scale; one
    farther off has jumped to other structure (at ``c0`` a coarser one, at ``c1`` a finer
    one; a thin, blurred fibre's fit also falls short above its scale, radius and blur
    trading off). Both fits in: the fall is interpolated in log scale; one in: that fit,
    clipped to the bracket; none: no fixed point.
    """
    step = c1 / c0
    in0, in1 = r0 * c0 <= c1 * step, r1 * c1 >= c0 / step
    if in0 and in1:
        t = (r0 - 1) / (r0 - r1)
        return float(math.exp(math.log(c0) + t * math.log(step)))
    if in0 or in1:
        return float(np.clip(r0 * c0 if in0 else r1 * c1, c0, c1))
    return math.nan


def _profile_diameter(crop: np.ndarray, d0: float) -> float:
    """Diameter from the blurred-disc fit of the mean profile around the fibre axes detected
    at the scale of ``d0`` (NaN where there are none or the fit fails)."""
    vec = _orientation_np(crop, max(0.5, d0 / 4), d0, 4.0)
    pos = _centres(crop, d0, vec)
    if len(pos) == 0:
        return math.nan
    dirs = _directions_at(vec, pos)
    radii = np.arange(0, 1.5 * d0, 0.25)
    return 2 * _fit_radius(radii, _radial_profile(crop, pos, dirs, radii), d0)[0]
