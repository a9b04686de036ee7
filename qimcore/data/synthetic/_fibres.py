"""Synthetic fibres with known truth: plies of straight and slightly curved cylinders with breaks."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import ndimage as ndi

__all__ = ["fibre_phantom"]


def _place(lo: Sequence[float], hi: Sequence[float], min_dist: float, cos_tilt: float,
           rng: np.random.Generator, n_tries: int = 4000) -> np.ndarray:
    """Random non-overlapping fibre positions (y, c) in a box (dart throwing).

    The perpendicular distance between two parallel fibres is ``hypot(dy, dc * cos_tilt)``.
    """
    cand = rng.uniform(lo, hi, size=(n_tries, 2))
    kept: list[np.ndarray] = []
    for p in cand:
        if kept:
            q = np.asarray(kept)
            if np.min(np.hypot(q[:, 0] - p[0], (q[:, 1] - p[1]) * cos_tilt)) < min_dist:
                continue
        kept.append(p)
    return np.asarray(kept).reshape(-1, 2)


def fibre_phantom(shape: tuple[int, int, int] = (64, 64, 64), *, diameter: float = 6.0,
                  plies: Sequence[tuple[str, float]] = (("z", 6.0), ("x", 10.0)),
                  n_breaks: int = 4, break_gap: float | None = None,
                  curved_fraction: float = 0.5, amplitude: float = 1.0,
                  spacing: float = 1.35, noise: float = 0.08,
                  random_state: int | None = None) -> tuple[np.ndarray, dict]:
    """Fibre composite phantom: plies of parallel cylinders with exact centre lines and breaks.

    The volume is split along y into one slab per ply. Ply ``(axis, tilt)`` holds fibres that run
    along ``axis`` (``"z"`` or ``"x"``) tilted by ``tilt`` degrees towards the other in-plane axis
    (x for ``"z"``, z for ``"x"``); every fibre enters and leaves through the two faces
    perpendicular to ``axis`` and keeps clear of the other faces. A fraction of the fibres is
    bent out of plane (sinusoid of ``amplitude`` voxels along y). ``n_breaks`` fibres are cut
    by a gap of ``break_gap`` voxels of matrix, leaving pieces of at least ``2 * diameter``
    (fewer when too few fibres are long enough). Fibres are bright (0.75) in a matrix (0.25),
    rendered with partial-volume edges, blurred (sigma 0.6) and given Gaussian noise.

    Parameters
    ----------
    shape : (3,) tuple of int, optional
        Volume shape ``(z, y, x)``.
    diameter : float, optional
        Fibre diameter in voxels.
    plies : sequence of (str, float), optional
        ``(axis, tilt_degrees)`` per ply, stacked along y.
    n_breaks : int, optional
        Number of broken fibres (one break each).
    break_gap : float, optional
        Gap length along the fibre in voxels (default ``2 * diameter``).
    curved_fraction : float, optional
        Fraction of bent fibres.
    amplitude : float, optional
        Out-of-plane bend amplitude in voxels.
    spacing : float, optional
        Smallest centre distance in diameters.
    noise : float, optional
        Standard deviation of the added Gaussian noise.
    random_state : int, optional
        Seed.

    Returns
    -------
    volume : (Z, Y, X) float32 ndarray
        The phantom.
    truth : dict
        ``tracks`` (list of (n, 3) centre lines ``(z, y, x)``, one per fibre piece, pieces of a
        broken fibre listed separately), ``fibre`` (fibre index of each piece), ``ply`` (ply of
        each piece), ``direction`` ((n_pieces, 3) unit vector, z >= 0), ``theta`` (degrees to z),
        ``length`` (arc length of each piece), ``diameter``, ``breaks`` (DataFrame ``z``, ``y``,
        ``x``, ``gap``, ``fibre``) and ``ply_directions``.

    Examples
    --------
    >>> volume, truth = fibre_phantom((40, 40, 40), diameter=6.0, random_state=0)
    >>> volume.shape, volume.dtype.name, len(truth["tracks"]) > 4
    ((40, 40, 40), 'float32', True)
    """
    rng = np.random.default_rng(random_state)
    shape = tuple(int(s) for s in shape)
    r = diameter / 2
    gap = 2 * diameter if break_gap is None else float(break_gap)
    centre = (np.asarray(shape, float) - 1) / 2
    zz, yy, xx = np.meshgrid(*(np.arange(n, dtype=float) for n in shape), indexing="ij")
    rel = np.stack([zz, yy, xx], -1) - centre
    fib = np.zeros(shape)
    bounds = np.linspace(0, shape[1], len(plies) + 1)
    fibres = []  # (ply, w, point at s=0, amp, wavelength, phase, s_min, s_max)
    for k, (axis, tilt) in enumerate(plies):
        if axis not in ("z", "x"):
            raise ValueError(f"plies axes must be 'z' or 'x', got {axis!r}")
        m, o = (0, 2) if axis == "z" else (2, 0)
        tau = math.radians(tilt)
        w = np.zeros(3)
        w[m], w[o] = math.cos(tau), math.sin(tau)
        half_run = (shape[m] - 1) / 2 * math.tan(tau)
        ylo, yhi = bounds[k] + r + 1 + amplitude, bounds[k + 1] - 1 - r - 1 - amplitude
        clo, chi = r + 1 + half_run, shape[o] - 2 - r - half_run
        pos = _place((ylo, clo), (yhi, chi), spacing * diameter, math.cos(tau), rng)
        s_max = (shape[m] - 1) / 2 / math.cos(tau)
        for yi, ci in pos:
            p0 = np.zeros(3)
            p0[1], p0[o] = yi - centre[1], ci - centre[o]
            curved = rng.random() < curved_fraction
            fibres.append((k, w, p0, amplitude if curved else 0.0, rng.uniform(30, 60),
                           rng.uniform(0, 2 * np.pi), -s_max, s_max))
    long_enough = [i for i, f in enumerate(fibres) if f[7] - f[6] >= 4 * diameter + gap]
    broken = set(rng.choice(long_enough, size=min(n_breaks, len(long_enough)),
                            replace=False).tolist())
    pieces, piece_fibre, piece_ply, break_rows = [], [], [], []
    for i, (k, w, p0, amp, lam, psi, s0, s1) in enumerate(fibres):
        d = rel - p0
        s = d @ w
        bend = amp * np.sin(2 * np.pi * s / lam + psi)
        dy = d[..., 1] - bend
        dperp = d - s[..., None] * w
        dperp[..., 1] = dy
        dist = np.linalg.norm(dperp, axis=-1)
        val = np.clip(r + 0.5 - dist, 0, 1)
        cuts = [(s0, s1)]
        if i in broken:
            sb = rng.uniform(s0 + 2 * diameter + gap / 2, s1 - 2 * diameter - gap / 2)
            val *= np.clip(np.abs(s - sb) - gap / 2 + 0.5, 0, 1)
            cuts = [(s0, sb - gap / 2), (sb + gap / 2, s1)]
            c = centre + p0 + sb * w
            c[1] += amp * math.sin(2 * np.pi * sb / lam + psi)
            break_rows.append((*c, gap, i))
        fib = np.maximum(fib, val)
        for a, b in cuts:
            ss = np.linspace(a, b, max(2, int(math.ceil((b - a) / 0.5)) + 1))
            pts = centre + p0 + ss[:, None] * w
            pts[:, 1] += amp * np.sin(2 * np.pi * ss / lam + psi)
            pieces.append(pts)
            piece_fibre.append(i)
            piece_ply.append(k)
    volume = 0.25 + 0.5 * fib
    volume = ndi.gaussian_filter(volume, 0.6, mode="nearest")
    volume = volume + rng.normal(0, noise, shape)
    dirs = np.array([fibres[i][1] for i in piece_fibre]).reshape(-1, 3)
    lengths = np.array([np.linalg.norm(np.diff(p, axis=0), axis=1).sum() for p in pieces])
    plies_dir = []
    for axis, tilt in plies:
        v = np.zeros(3)
        m, o = (0, 2) if axis == "z" else (2, 0)
        v[m], v[o] = math.cos(math.radians(tilt)), math.sin(math.radians(tilt))
        plies_dir.append(v)
    truth = {
        "tracks": pieces,
        "fibre": np.asarray(piece_fibre, int),
        "ply": np.asarray(piece_ply, int),
        "direction": dirs,
        "theta": np.degrees(np.arccos(np.abs(dirs[:, 0]))) if len(dirs) else np.zeros(0),
        "length": lengths,
        "diameter": float(diameter),
        "breaks": pd.DataFrame(break_rows, columns=["z", "y", "x", "gap", "fibre"]).astype(
            {"z": float, "y": float, "x": float, "gap": float, "fibre": np.int64}),
        "ply_directions": np.asarray(plies_dir),
    }
    return volume.astype(np.float32), truth
