"""Geometry of fibre tracks: frames, directions, facing ends, joining."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree


def _check_tracks(tracks: Any) -> list[np.ndarray]:
    if isinstance(tracks, np.ndarray) or not hasattr(tracks, "__len__"):
        raise TypeError("tracks must be a list of (n, 3) arrays")
    out = []
    for i, tr in enumerate(tracks):
        arr = np.asarray(tr, dtype=float)
        if arr.ndim != 2 or arr.shape[1] != 3 or len(arr) < 2:
            raise ValueError(f"tracks[{i}] must be an (n, 3) array with n >= 2, got {arr.shape}")
        if not np.isfinite(arr).all():
            raise ValueError(f"tracks[{i}] contains NaN or inf")
        if not np.any(arr != arr[0]):
            raise ValueError(f"tracks[{i}] has zero length: all its points are {arr[0]}")
        out.append(arr)
    return out


def _frame(w: np.ndarray) -> np.ndarray:
    """Orthonormal rows (w, u, v) with w the given unit direction; ``(..., 3)`` directions
    give ``(..., 3, 3)`` frames."""
    helper = np.eye(3)[np.argmin(np.abs(w), axis=-1)]
    u = np.cross(w, helper)
    u /= np.linalg.norm(u, axis=-1, keepdims=True)
    return np.stack([w, u, np.cross(w, u)], axis=-2)


def _unit_direction(pts: np.ndarray) -> np.ndarray:
    """Principal direction of a point set, canonical sign (z >= 0, ...)."""
    c = pts - pts.mean(0)
    _, _, vt = np.linalg.svd(c, full_matrices=False)
    v = vt[0]
    nz = np.flatnonzero(np.abs(v) > 1e-12)
    return v if v[nz[0]] > 0 else -v


def _chord(pts: np.ndarray, direction: np.ndarray, bounds: np.ndarray) -> float:
    """Length of the line through the centroid along ``direction`` inside the box."""
    c = pts.mean(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (0 - c) / direction
        t2 = (bounds - c) / direction
    lo = np.where(direction != 0, np.minimum(t1, t2), -np.inf).max()
    hi = np.where(direction != 0, np.maximum(t1, t2), np.inf).min()
    return float(max(hi - lo, 0.0))


def _facing_ends(tracks: list[np.ndarray], max_gap: float, max_offset: float,
                 max_angle: float) -> list[tuple[tuple[int, int, float], tuple]]:
    """Pairs of track ends facing each other, one-to-one by optimal assignment on the gap.

    Each end's direction is the principal direction of the track's half ending there. Ends
    are numbered ``2 * track`` (first point) and ``2 * track + 1`` (last point). Returns
    ``((end_i, end_j, gap), (point_i, point_j))`` per pair.
    """
    ends, dirs, ids = [], [], []
    for i, pts in enumerate(tracks):
        k = min(len(pts), max(2, len(pts) // 2))
        for e, seg in enumerate((pts[:k][::-1], pts[-k:])):
            d = seg[-1] - seg[0]
            if np.linalg.norm(d) > 0:  # principal direction of the end half, pointing out
                v = _unit_direction(seg)
                ends.append(seg[-1])
                dirs.append(v if v @ d >= 0 else -v)
                ids.append(2 * i + e)
    if len(ends) < 2:
        return []
    ends, dirs, ids = np.asarray(ends), np.asarray(dirs), np.asarray(ids)
    pairs = cKDTree(ends).query_pairs(max_gap, output_type="ndarray")
    cos_max = math.cos(math.radians(max_angle))
    cand = []
    for i, j in pairs:
        if ids[i] // 2 == ids[j] // 2:
            continue
        g = ends[j] - ends[i]
        if -(dirs[i] @ dirs[j]) < cos_max or g @ dirs[i] < 0 or -g @ dirs[j] < 0:
            continue
        off_i = np.linalg.norm(g - (g @ dirs[i]) * dirs[i])
        off_j = np.linalg.norm(g - (g @ dirs[j]) * dirs[j])
        if max(off_i, off_j) <= max_offset:
            cand.append((i, j, float(np.linalg.norm(g))))
    if not cand:
        return []
    idx = np.unique(np.array([(c[0], c[1]) for c in cand]).ravel())
    pos = {e: k for k, e in enumerate(idx)}
    cost = np.full((len(idx), len(idx)), 1e9)
    for i, j, gap in cand:
        cost[pos[i], pos[j]] = cost[pos[j], pos[i]] = gap
    out = []
    for r, c in zip(*linear_sum_assignment(cost), strict=True):
        if r < c and cost[r, c] < 1e9:
            i, j = idx[r], idx[c]
            out.append(((int(ids[i]), int(ids[j]), float(cost[r, c])), (ends[i], ends[j])))
    return out


def _join(tracks: list[np.ndarray], links: list[tuple[int, int]]) -> list[np.ndarray]:
    """Concatenate tracks along chains of linked ends (end ids as in :func:`_facing_ends`)."""
    partner = {}
    for i, j in links:
        partner[i], partner[j] = j, i
    seen = np.zeros(len(tracks), bool)
    out = []
    for start in range(len(tracks)):
        if seen[start]:
            continue
        # walk back to a free end of the chain (or around a cycle once)
        t, e = start, 0
        while 2 * t + e in partner:
            nxt = partner[2 * t + e]
            t, e = nxt // 2, 1 - nxt % 2
            if t == start:
                break
        entry = e  # enter the chain through its free end
        pieces = []
        while not seen[t]:
            seen[t] = True
            pts = tracks[t] if entry == 0 else tracks[t][::-1]
            pieces.append(pts)
            leave = 2 * t + (1 - entry)
            if leave not in partner:
                break
            nxt = partner[leave]
            t, entry = nxt // 2, nxt % 2
        out.append(np.concatenate(pieces))
    return out

