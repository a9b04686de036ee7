"""Fibre breaks: gaps of matrix along a fibre's own centre line."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import _units, _validate
from ._core import (
    _MIN_SNR,
    _STEP,
    _core_levels,
    _core_profile,
    _matrix_level,
    _profile_noise,
    _resample,
)
from ._diameter import estimate_diameter
from ._geometry import _check_tracks, _facing_ends, _frame, _unit_direction

_COLUMNS = {"track_a": np.int64, "track_b": np.int64, "z": float, "y": float, "x": float,
            "gap": float}


def _runs_below(profile: np.ndarray, level: float) -> list[tuple[float, float]]:
    """Sub-sample ``(start, end)`` sample positions of the runs where ``profile < level``,
    the crossings interpolated linearly."""
    below = np.concatenate([[False], profile < level, [False]])
    edges = np.flatnonzero(np.diff(below.astype(np.int8)))
    runs = []
    for a, b in zip(edges[::2], edges[1::2], strict=True):  # samples a..b-1 below
        lo = a - 1 + (profile[a - 1] - level) / (profile[a - 1] - profile[a]) if a > 0 else a
        hi = b - 1 + (profile[b - 1] - level) / (profile[b - 1] - profile[b]) \
            if b < len(profile) else b - 1
        runs.append((float(lo), float(hi)))
    return runs


def _exit_distance(point: np.ndarray, direction: np.ndarray, upper: np.ndarray) -> float:
    """Distance from ``point`` along ``direction`` to the faces of the box ``[0, upper]``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(direction > 0, (upper - point) / direction,
                     np.where(direction < 0, -point / direction, np.inf))
    return float(max(t.min(), 0.0))


def _open_end_gaps(vol: np.ndarray, lines: list[np.ndarray], profiles: list[np.ndarray],
                   fibres: list[int], levels: np.ndarray, matrix: float, paired: set,
                   ends: np.ndarray, diameter: float, min_gap: float, max_gap: float
                   ) -> list[tuple]:
    """Breaks beyond track ends that face no other end.

    The fibre core is sampled along the line extrapolated from the end (the direction of the
    track's last two diameters; a tail of the track without fibre material, its ``profiles``
    below half-way to the matrix, is cut first), from a diameter back inside the track up to
    ``max_gap`` plus two diameters or the volume's face. A stretch without material that
    starts within a diameter of the end, after at least half a diameter of fibre along the
    line, and after which material resumes for half a diameter (or up to the face, at least
    two voxels) is a break. The core is the brightest of the line and six lines at a quarter
    diameter around it, so a bent fibre or a slightly wrong direction does not read as a gap.

    ``ends`` are the end points of all tracks ``(2 * n, 3)``; the break's second track is the
    one with an end nearest to where the material resumes (within a diameter), else -1.
    """
    r = diameter / 2
    upper = np.asarray(vol.shape, float) - 1
    n_dir = max(3, int(2 * diameter / _STEP))
    back = int(round(diameter / _STEP))  # samples taken back inside the track
    ang = np.linspace(0, 2 * np.pi, 6, endpoint=False)
    rows = []
    for i in fibres:
        level = (levels[i] + matrix) / 2
        for e in (0, 1):
            fwd = lines[i] if e else lines[i][::-1]  # ends with end e
            on = np.flatnonzero((profiles[i] if e else profiles[i][::-1]) >= level)
            if 2 * i + e in paired or len(on) == 0:
                continue
            seg = fwd[:on[-1] + 1][-n_dir:]  # a tail that strays off the fibre is cut
            if len(seg) < 3:
                continue
            v = _unit_direction(seg)
            v = v if v @ (seg[-1] - seg[0]) >= 0 else -v
            reach = min(_exit_distance(seg[-1], v, upper), max_gap + 2 * diameter)
            if reach < min_gap + 2:
                continue  # the track ends at the face
            t = np.arange(-back, int(reach / _STEP) + 1) * _STEP
            ray = seg[-1] + t[:, None] * v
            frame = _frame(v)
            offs = [np.zeros(3)] + [r / 2 * (np.cos(a) * frame[1] + np.sin(a) * frame[2])
                                    for a in ang]
            prof = np.max([_core_profile(vol, ray + o, r) for o in offs], 0)
            for lo, hi in _runs_below(prof, level):
                if hi <= back / 2:
                    continue  # a dip inside the track
                if not back / 2 <= lo <= 2 * back:
                    break  # no fibre along the line before the end, or no gap after it
                after = prof[int(np.ceil(hi)):]
                lost = np.flatnonzero(after < level)  # the material after the gap ends
                run = lost[0] if len(lost) else len(after)
                if hi >= len(prof) - 1 or run * _STEP < (
                        2.0 if len(lost) == 0 else max(2.0, r)):
                    break  # no material after the gap: a fibre end, or the track's own loss
                gap = (hi - lo) * _STEP
                if min_gap <= gap <= max_gap:
                    mid = t[0] + (lo + hi) / 2 * _STEP
                    point = seg[-1] + mid * v
                    resume = seg[-1] + (t[0] + hi * _STEP) * v
                    de = np.linalg.norm(ends - resume, axis=1)
                    de[2 * i:2 * i + 2] = np.inf
                    j = int(np.argmin(de)) // 2 if len(de) and de.min() < diameter else -1
                    rows.append((i, j, *point, gap))
                break
    return rows


def _material_gaps(vol: np.ndarray, trs: list[np.ndarray], pairs: list, diameter: float,
                   min_gap: float, max_gap: float) -> list[tuple]:
    """Breaks found as runs of matrix along the tracks, across facing pairs of ends and
    beyond the other track ends."""
    r = diameter / 2
    lines = [_resample(t) for t in trs]
    matrix = _matrix_level(vol, lines, diameter)
    rows = []
    items = [(i, i, lines[i], None) for i in range(len(trs))]
    for (ea, eb, _), _ in pairs:  # the two tracks joined end to end across the gap
        ta, tb = trs[ea // 2], trs[eb // 2]
        a = ta if ea % 2 else ta[::-1]  # ends with end ea
        b = tb[::-1] if eb % 2 else tb  # starts with end eb
        line = _resample(np.concatenate([a, b]))
        j0 = _resample(a).shape[0] - 1  # the straight jump from a's end to b's start
        junction = (j0 - 1, j0 + 1 + np.linalg.norm(b[0] - a[-1]) / _STEP)
        items.append((ea // 2, eb // 2, line, junction))
    profiles, levels = _core_levels(vol, [line for _, _, line, _ in items], r)
    # a fibre's level stands out of the matrix: by _MIN_SNR noise sigmas (so the
    # half-way level is that far below it) and by half the contrast of such tracks
    above = levels - matrix
    with np.errstate(invalid="ignore"):
        signif = above > _MIN_SNR * _profile_noise(profiles[:len(trs)], diameter)
    strong = above[:len(trs)][signif[:len(trs)]]
    contrast = float(np.quantile(strong, 0.9)) if len(strong) else 0.0
    with np.errstate(invalid="ignore"):
        is_fibre = signif & (above > contrast / 2)
    for (ta, tb, line, junction), prof, fibre, ok in zip(items, profiles, levels, is_fibre,
                                                         strict=True):
        if not ok:
            continue  # a track that is no fibre (or mostly a gap)
        for lo, hi in _runs_below(prof, (fibre + matrix) / 2):
            if junction is None and (lo <= 0 or hi >= len(line) - 1):
                continue  # a track's own end, not a gap
            if junction is not None and (hi < junction[0] or lo > junction[1]):
                continue  # a gap of the pair must overlap the jump between the two ends
            gap = (hi - lo) * _STEP
            if gap < min_gap:
                continue
            mid = (lo + hi) / 2
            k = int(mid)
            f = mid - k
            point = line[k] * (1 - f) + line[min(k + 1, len(line) - 1)] * f
            rows.append((min(ta, tb), max(ta, tb), *point, gap))
    fibres = [i for i in range(len(trs)) if is_fibre[i]]
    paired = {e for (ea, eb, _), _ in pairs for e in (ea, eb)}
    ends = np.array([p for t in trs for p in (t[0], t[-1])]).reshape(-1, 3)
    found = np.array([row[2:5] for row in rows]).reshape(-1, 3)
    for row in _open_end_gaps(vol, lines, profiles[:len(trs)], fibres, levels, matrix, paired,
                              ends, diameter, min_gap, max_gap):
        if not (np.linalg.norm(found - row[2:5], axis=1) < diameter).any():  # seen from
            rows.append(row)  # the other side already
            found = np.vstack([found, row[2:5]])
    return rows


def find_breaks(tracks: Any, *, volume: Any = None, fibre_diameter: float | None = None,
                voxel_size: Any = 1.0, max_gap: float | None = None,
                max_offset: float | None = None, max_angle: float | None = None,
                min_gap: float = 1.0, bright: bool = True) -> pd.DataFrame:
    """Fibre breaks: gaps of matrix along a fibre, within a track or between two tracks.

    Without ``volume``, a break is a pair of track ends facing each other: an end ``b`` lies
    ahead of end ``a`` along ``a``'s direction at most ``max_gap`` away, off both tracks' lines
    by at most ``max_offset``, the two end directions anti-parallel within ``max_angle``; each
    end joins at most one break (optimal assignment on the gap).

    With ``volume``, a break is the absence of fibre material along the fibre's own axis,
    whatever the tracker did to link the pieces: the mean grey value of the fibre core (axis
    and half radius) is sampled every half voxel along every track and across every facing
    pair of ends, and each stretch of at least ``min_gap`` voxels below half-way between the
    fibre's own level (its median) and the matrix level (the median of the voxels farther than
    a diameter from every track) is a break, its length the gap. A track is a fibre only where
    its level stands out of the matrix by six noise sigmas of the core profile (so that a gap
    is a dip of at least three sigmas; the noise is 1.4826 times the median absolute deviation
    of the profiles from their running median over two diameters, pooled over all tracks) and
    by half the fibre contrast (90th percentile of such tracks); other tracks, e.g. a tracker
    following noise, are skipped. A track the tracker linked
    across a short gap so keeps the gap as a break (``track_a == track_b``), and two facing
    ends joined by fibre material (a tracking interruption) are not one. Beyond every other
    track end inside the volume, the core is sampled along the line extrapolated from the end:
    no material right after the end, then material again within ``max_gap``, is a break whose
    far piece may be untracked (too short to be kept as a track): ``track_b`` is then -1.

    Parameters
    ----------
    tracks : list of (n_i, 3) array_like
        Centre points ``(z, y, x)`` in voxels.
    volume : (Z, Y, X) array_like, optional
        The grey-value volume the tracks come from.
    fibre_diameter : float, optional
        Fibre diameter in voxels (with ``volume``); estimated from it when None
        (:func:`estimate_diameter`).
    voxel_size : float or (3,) tuple, optional
        Voxel size in micrometres; distances below are in micrometres.
    max_gap : float, optional
        Longest gap between two facing ends (default 25 µm, with ``volume`` 5 fibre
        diameters).
    max_offset : float, optional
        Largest distance of an end from the other track's line (default 3 µm, with ``volume``
        one diameter, at least 3 voxels: the fibre material check keeps out false pairs).
    max_angle : float, optional
        Largest angle (degrees) between the two tracks (default 20, with ``volume`` 30).
    min_gap : float, optional
        Shortest gap reported with ``volume``, in voxels.
    bright : bool, optional
        Fibres are brighter than the matrix in ``volume``.

    Returns
    -------
    pandas.DataFrame
        ``track_a``, ``track_b`` (indices into ``tracks``; equal for a gap inside one track,
        ``track_b`` -1 where the piece beyond the gap is not among the tracks),
        ``z``, ``y``, ``x`` (µm, middle of the gap) and ``gap`` (µm: between the two ends
        without ``volume``, the length without fibre material with it).

    Raises
    ------
    ValueError
        If a track is not an ``(n, 3)`` array, ``volume`` is not 3D or a length is not > 0.

    Examples
    --------
    >>> a = np.column_stack([np.arange(10.0), np.zeros(10), np.zeros(10)])
    >>> breaks = find_breaks([a, a + [16, 0.5, 0]])
    >>> breaks[["track_a", "track_b", "z", "gap"]].round(1).values.tolist()
    [[0.0, 1.0, 12.5, 7.0]]
    """
    trs = _check_tracks(tracks)
    vs = np.asarray(_units.voxel_size(voxel_size, 3))
    _validate.positive(min_gap, "min_gap")
    d = None
    if volume is not None:
        vol = np.asarray(_validate.array(volume, "volume", ndim=3), np.float32)
        vol = vol if bright else -vol
        d = float(_validate.positive(
            estimate_diameter(vol) if fibre_diameter is None else fibre_diameter,
            "fibre_diameter"))
    vmin = float(vs.min())
    max_gap = (25.0 if d is None else 5 * d * vmin) if max_gap is None else max_gap
    max_offset = (3.0 if d is None else max(3.0, d) * vmin) if max_offset is None \
        else max_offset
    max_angle = (20.0 if d is None else 30.0) if max_angle is None else max_angle
    _validate.positive(max_angle, "max_angle")
    _validate.positive(max_gap, "max_gap")
    _validate.positive(max_offset, "max_offset")
    pairs = _facing_ends([t * vs for t in trs], max_gap, max_offset, max_angle)
    if d is None:
        rows = [(*sorted((i // 2, j // 2)), *((pi + pj) / 2), gap)
                for (i, j, gap), (pi, pj) in pairs]
    else:
        rows = [(a, b, *(np.asarray(p) * vs), gap * vmin) for a, b, *p, gap in
                _material_gaps(vol, trs, pairs, d, min_gap, max_gap / vmin)]
    df = pd.DataFrame(rows, columns=list(_COLUMNS))
    return df.astype(_COLUMNS).sort_values(["track_a", "track_b"], ignore_index=True)
