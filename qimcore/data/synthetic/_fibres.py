"""Synthetic fibres with known truth: plies of straight and curved cylinders with breaks.

:func:`fibre_phantom` renders one composite from explicit parameters; :func:`fibre_family` draws
those parameters from realistic ranges, so that tests and the accuracy report sweep many variants.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage as ndi

from ._ranges import draw

__all__ = ["fibre_family", "fibre_phantom"]

_MATRIX = 0.25  # grey value of the matrix


class _EmptyPly(ValueError):
    """A ply too thin to hold a fibre of the diameter asked for."""


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


def _lattice(lo: Sequence[float], hi: Sequence[float], diameter: float, fraction: float,
             cos_tilt: float, rng: np.random.Generator) -> np.ndarray:
    """Fibre positions (y, c) on a randomly turned and shifted hexagonal lattice whose cell
    holds ``fraction`` of fibre, each jittered within the free space so no two overlap."""
    a = diameter * math.sqrt(math.pi / (2 * math.sqrt(3) * fraction))  # lattice spacing
    jitter = max(0.0, (a - diameter - 0.5) / 2)
    turn = rng.uniform(0, math.pi / 3)
    rot = np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])
    lo_p = np.array([lo[0], lo[1] * cos_tilt])  # perpendicular coordinates (y, c cos tilt)
    hi_p = np.array([hi[0], hi[1] * cos_tilt])
    reach = int(np.ceil(np.linalg.norm(hi_p - lo_p) / a)) + 2
    i, j = np.meshgrid(np.arange(-reach, reach + 1), np.arange(-reach, reach + 1))
    pts = np.column_stack([(i + 0.5 * j).ravel(), (j * math.sqrt(3) / 2).ravel()]) * a
    pts = pts @ rot.T + (lo_p + hi_p) / 2 + rng.uniform(0, a, 2)
    ang = rng.uniform(0, 2 * math.pi, len(pts))
    pts += (jitter * np.sqrt(rng.random(len(pts))))[:, None] * np.column_stack(
        [np.cos(ang), np.sin(ang)])
    pts = pts[((pts >= lo_p) & (pts <= hi_p)).all(1)]
    return np.column_stack([pts[:, 0], pts[:, 1] / cos_tilt])


def _centre_line(fibre: tuple, s: np.ndarray, centre: np.ndarray) -> tuple[np.ndarray, ...]:
    """Points and unit tangents of a fibre's centre line at parameters ``s``."""
    _, w, p0, amp, lam, psi = fibre[:6]
    pts = centre + p0 + s[:, None] * w
    pts[:, 1] += amp * np.sin(2 * np.pi * s / lam + psi)
    tan = np.broadcast_to(w, pts.shape).copy()
    tan[:, 1] += amp * 2 * np.pi / lam * np.cos(2 * np.pi * s / lam + psi)
    return pts, tan / np.linalg.norm(tan, axis=1, keepdims=True)


def _render(shape: tuple[int, int, int], fibre: tuple, radius: float, cut: tuple | None,
            centre: np.ndarray, out: np.ndarray) -> None:
    """Partial-volume rendering of one fibre into ``out`` (maximum), slice by slice along its
    main axis; ``cut = (s_break, gap)`` removes the fibre over ``gap`` around ``s_break``."""
    m, w, p0 = fibre[6], fibre[1], fibre[2]
    ks = np.arange(shape[m], dtype=float)
    s = (ks - centre[m] - p0[m]) / w[m]  # the bend is along y, never along the main axis
    pts, tan = _centre_line(fibre, s, centre)
    cos_min = float(np.abs(tan[:, m]).min())
    h = int(math.ceil((radius + 1.5) / cos_min)) + 1
    others = [a for a in range(3) if a != m]
    off = np.stack(np.meshgrid(np.arange(-h, h + 1), np.arange(-h, h + 1), indexing="ij"), -1)
    vox = np.zeros((len(ks), 2 * h + 1, 2 * h + 1, 3), np.int64)
    vox[..., m] = ks.astype(np.int64)[:, None, None]
    for k, a in enumerate(others):
        vox[..., a] = np.round(pts[:, a]).astype(np.int64)[:, None, None] + off[..., k]
    rel = vox - pts[:, None, None]
    along = np.einsum("kijc,kc->kij", rel, tan)
    dist = np.linalg.norm(rel - along[..., None] * tan[:, None, None], axis=-1)
    val = np.clip(radius + 0.5 - dist, 0, 1)
    if cut is not None:
        val *= np.clip(np.abs(s[:, None, None] + along - cut[0]) - cut[1] / 2 + 0.5, 0, 1)
    ok = (val > 0) & (vox >= 0).all(-1) & (vox < np.asarray(shape)).all(-1)
    idx = tuple(vox[ok].T)
    np.maximum.at(out, idx, val[ok])


def fibre_phantom(shape: tuple[int, int, int] = (64, 64, 64), *, diameter: float = 6.0,
                  plies: Sequence[tuple[str, float]] = (("z", 6.0), ("x", 10.0)),
                  n_breaks: int = 4, break_gap: float | Sequence[float] | None = None,
                  curved_fraction: float = 0.5, amplitude: float = 1.0,
                  spacing: float = 1.35, volume_fraction: float | None = None,
                  contrast: float = 0.5, blur: float = 0.6, noise: float = 0.08,
                  random_state: int | np.random.Generator | None = None
                  ) -> tuple[np.ndarray, dict]:
    """Fibre composite phantom: plies of parallel cylinders with exact centre lines and breaks.

    The volume is split along y into one slab per ply. Ply ``(axis, tilt)`` holds fibres that run
    along ``axis`` (``"z"`` or ``"x"``) tilted by ``tilt`` degrees towards the other in-plane axis
    (x for ``"z"``, z for ``"x"``); every fibre enters and leaves through the two faces
    perpendicular to ``axis`` and keeps clear of the other faces (with ``volume_fraction``, the
    fibres fill the ply and tilted ones may leave through a side face). Fibres are bent out of plane
    (sinusoid of ``amplitude`` voxels along y, wavelength 30-60 voxels). ``n_breaks`` fibres are
    cut by a gap of matrix, leaving pieces of at least ``2 * diameter`` (fewer breaks when too
    few fibres are long enough). Fibres (``0.25 + contrast``) in a matrix (0.25) are rendered with
    partial-volume edges, blurred (Gaussian ``blur``) and given Gaussian noise.

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
    break_gap : float or sequence of float, optional
        Gap length along the fibre in voxels, one for all breaks or one per break (default
        ``2 * diameter``).
    curved_fraction : float, optional
        Fraction of bent fibres; with ``volume_fraction`` the fraction of bent plies (all
        fibres of a bent ply follow the same wave, so packed fibres never overlap).
    amplitude : float, optional
        Out-of-plane bend amplitude in voxels.
    spacing : float, optional
        Smallest centre distance in diameters (random placement, when ``volume_fraction`` is
        None).
    volume_fraction : float, optional
        Fibre volume fraction of each ply (up to 0.8): fibres sit on a jittered hexagonal
        lattice of that density instead of being placed at random with ``spacing``.
    contrast : float, optional
        Fibre minus matrix grey value.
    blur : float, optional
        Standard deviation of the Gaussian point spread in voxels (0 for none).
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
        broken fibre listed separately), ``fibres`` (list of (n, 3) centre lines of the whole
        fibres, breaks bridged), ``fibre`` (fibre index of each piece), ``ply`` (ply of each
        piece), ``direction`` ((n_pieces, 3) unit vector, z >= 0), ``theta`` (degrees to z),
        ``length`` (arc length of each piece), ``diameter``, ``breaks`` (DataFrame ``z``, ``y``,
        ``x``, ``gap``, ``fibre``), ``ply_directions`` and ``volume_fraction`` (of the rendered
        fibres in the whole volume).

    Raises
    ------
    ValueError
        If ``shape``, ``diameter``, ``volume_fraction``, ``plies`` or ``break_gap`` is out of
        range, or a ply is too thin to hold a fibre of ``diameter``.

    Examples
    --------
    >>> volume, truth = fibre_phantom((40, 40, 40), diameter=6.0, random_state=0)
    >>> volume.shape, volume.dtype.name, len(truth["tracks"]) > 4
    ((40, 40, 40), 'float32', True)
    """
    rng = np.random.default_rng(random_state)
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or min(shape) < 4:
        raise ValueError(f"shape must be 3 integers >= 4, got {shape!r}")
    if not diameter > 0:
        raise ValueError(f"diameter must be > 0, got {diameter!r}")
    if volume_fraction is not None and not 0 < volume_fraction <= 0.8:
        raise ValueError(f"volume_fraction must be in (0, 0.8], got {volume_fraction!r}")
    r = diameter / 2
    gaps = np.broadcast_to(np.asarray(2 * diameter if break_gap is None else break_gap, float),
                           (max(n_breaks, 0),)) if np.ndim(break_gap) == 0 \
        else np.asarray(break_gap, float)
    if len(gaps) != max(n_breaks, 0) or (gaps <= 0).any():
        raise ValueError("break_gap must be > 0, one value or one per break")
    centre = (np.asarray(shape, float) - 1) / 2
    bounds = np.linspace(0, shape[1], len(plies) + 1)
    fibres = []  # (ply, w, point at s=0, amp, wavelength, phase, main axis, s_min, s_max)
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
        if ylo > yhi:
            pos = np.zeros((0, 2))
        elif volume_fraction is None:
            pos = _place((ylo, clo), (yhi, chi), spacing * diameter, math.cos(tau), rng)
        else:  # packed plies fill the box: tilted fibres may leave through the side faces
            clo, chi = -half_run - r, shape[o] - 1 + half_run + r
            pos = _lattice((ylo, clo), (yhi, chi), diameter, volume_fraction, math.cos(tau),
                           rng)
            ply_wave = (amplitude if rng.random() < curved_fraction else 0.0,
                        rng.uniform(30, 60), rng.uniform(0, 2 * np.pi))
        s_max = (shape[m] - 1) / 2 / math.cos(tau)
        n_before = len(fibres)
        for yi, ci in pos:
            p0 = np.zeros(3)
            p0[1], p0[o] = yi - centre[1], ci - centre[o]
            if volume_fraction is None:
                curved = rng.random() < curved_fraction
                wave = (amplitude if curved else 0.0, rng.uniform(30, 60),
                        rng.uniform(0, 2 * np.pi))
            else:
                wave = ply_wave
            s_lo, s_hi = -s_max, s_max
            if w[o] > 0:  # the part of the centre line inside the box
                s_lo = max(s_lo, (-centre[o] - p0[o]) / w[o])
                s_hi = min(s_hi, (shape[o] - 1 - centre[o] - p0[o]) / w[o])
            if s_hi - s_lo >= diameter:
                fibres.append((k, w, p0, *wave, m, s_lo, s_hi))
        if len(fibres) == n_before:
            raise _EmptyPly(
                f"plies: ply {k} (y {bounds[k]:.1f} to {bounds[k + 1]:.1f}) holds no fibre of "
                f"diameter {diameter:g} with bend amplitude {amplitude:g}: use fewer plies, a "
                f"smaller diameter or a larger shape[1]")
    long_enough = [i for i, f in enumerate(fibres) if f[8] - f[7] >= 4 * diameter + gaps.max(
        initial=0)]
    broken = rng.choice(long_enough, size=min(len(gaps), len(long_enough)), replace=False)
    cuts = {}
    for i, g in zip(broken.tolist(), gaps, strict=False):
        s0, s1 = fibres[i][7:9]
        cuts[i] = (rng.uniform(s0 + 2 * diameter + g / 2, s1 - 2 * diameter - g / 2), float(g))
    fib = np.zeros(shape)
    pieces, whole, piece_fibre, piece_ply, break_rows = [], [], [], [], []
    for i, f in enumerate(fibres):
        _render(shape, f, r, cuts.get(i), centre, fib)
        s0, s1 = f[7:9]
        spans = [(s0, s1)]
        if i in cuts:
            sb, g = cuts[i]
            spans = [(s0, sb - g / 2), (sb + g / 2, s1)]
            break_rows.append((*_centre_line(f, np.array([sb]), centre)[0][0], g, i))
        whole.append(_centre_line(f, np.linspace(s0, s1, max(2, int(math.ceil(
            (s1 - s0) / 0.5)) + 1)), centre)[0])
        for a, b in spans:
            ss = np.linspace(a, b, max(2, int(math.ceil((b - a) / 0.5)) + 1))
            pieces.append(_centre_line(f, ss, centre)[0])
            piece_fibre.append(i)
            piece_ply.append(f[0])
    volume = _MATRIX + contrast * fib
    if blur > 0:
        volume = ndi.gaussian_filter(volume, blur, mode="nearest")
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
        "fibres": whole,
        "fibre": np.asarray(piece_fibre, int),
        "ply": np.asarray(piece_ply, int),
        "direction": dirs,
        "theta": np.degrees(np.arccos(np.abs(dirs[:, 0]))) if len(dirs) else np.zeros(0),
        "length": lengths,
        "diameter": float(diameter),
        "breaks": pd.DataFrame(break_rows, columns=["z", "y", "x", "gap", "fibre"]).astype(
            {"z": float, "y": float, "x": float, "gap": float, "fibre": np.int64}),
        "ply_directions": np.asarray(plies_dir),
        "volume_fraction": float(fib.mean()),
    }
    return volume.astype(np.float32), truth



def fibre_family(random_state: int | None = None, shape: tuple[int, int, int] = (64, 64, 64), *,
                 diameter: Any = (3.0, 12.0), volume_fraction: Any = (0.3, 0.65),
                 tilt: Any = (0.0, 30.0), n_plies: Any = (1, 3), curved_fraction: float = 0.5,
                 amplitude: Any = (0.5, 2.0), contrast: Any = (0.3, 0.6),
                 noise: Any = (0.02, 0.1), blur: Any = (0.4, 1.0), n_breaks: Any = (2, 6),
                 gap: Any = (1.0, None)) -> tuple[np.ndarray, dict]:
    """A random member of the fibre phantom family: every property drawn from a range.

    Each range ``(low, high)`` is sampled uniformly (a single number fixes the property); the
    drawn values are passed to :func:`fibre_phantom`. Each ply runs along z or x (at random)
    with its own tilt; a ply is bent (out of plane) with probability ``curved_fraction``; every
    break gets its own gap length. The defaults span glass- and carbon-fibre composites imaged at
    2-5 voxels per fibre radius; the noisiest draws (contrast / noise about 3-5) are at or beyond
    the noise of the real fibre sample.

    Parameters
    ----------
    random_state : int, optional
        Seed: the same seed gives the same phantom.
    shape : (3,) tuple of int, optional
        Volume shape ``(z, y, x)``.
    diameter : float or (float, float), optional
        Fibre diameter in voxels.
    volume_fraction : float or (float, float), optional
        Fibre volume fraction of each ply.
    tilt : float or (float, float), optional
        Tilt of each ply's fibres from its axis, degrees.
    n_plies : int or (int, int), optional
        Number of plies (inclusive range). Where a ply would hold no fibre (thick fibres in
        a thin ply: d = 11 in plies of 21 voxels), the last ply is dropped and the others
        drawn again until every ply holds fibres (``params["plies"]`` gives those rendered).
    curved_fraction : float, optional
        Probability that a ply is bent.
    amplitude : float or (float, float), optional
        Bend amplitude in voxels.
    contrast, noise, blur : float or (float, float), optional
        Fibre minus matrix grey value, noise standard deviation, point-spread sigma (voxels).
    n_breaks : int or (int, int), optional
        Number of broken fibres (inclusive range).
    gap : float or (float, float or None), optional
        Gap length of each break in voxels; an upper bound None means 4 diameters.

    Returns
    -------
    volume : (Z, Y, X) float32 ndarray
        The phantom.
    truth : dict
        As :func:`fibre_phantom`, plus ``params``: the drawn parameters.

    Examples
    --------
    >>> volume, truth = fibre_family(random_state=3, shape=(32, 32, 32), diameter=(4, 6))
    >>> volume.shape, 4 <= truth["diameter"] <= 6
    ((32, 32, 32), True)
    """
    rng = np.random.default_rng(random_state)
    d = draw(rng, diameter, "diameter")
    n_p = int(rng.integers(n_plies[0], n_plies[1] + 1)) if np.ndim(n_plies) else int(n_plies)
    plies = tuple((str(rng.choice(["z", "x"])), draw(rng, tilt, "tilt")) for _ in range(n_p))
    n_b = int(rng.integers(n_breaks[0], n_breaks[1] + 1)) if np.ndim(n_breaks) else int(n_breaks)
    if np.ndim(gap):
        gap = (gap[0], 4 * d if gap[1] is None else gap[1])
    params = {
        "diameter": d, "plies": plies, "n_breaks": n_b,
        "break_gap": [draw(rng, gap, "gap") for _ in range(n_b)],
        "volume_fraction": draw(rng, volume_fraction, "volume_fraction"),
        "curved_fraction": float(curved_fraction), "amplitude": draw(rng, amplitude, "amplitude"),
        "contrast": draw(rng, contrast, "contrast"), "noise": draw(rng, noise, "noise"),
        "blur": draw(rng, blur, "blur"),
    }
    state = rng.bit_generator.state
    while True:  # plies too thin for the drawn diameter are dropped, the last first
        try:
            volume, truth = fibre_phantom(shape, **params, random_state=rng)
            break
        except _EmptyPly:
            if len(params["plies"]) == 1:
                raise
            params["plies"] = params["plies"][:-1]
            rng.bit_generator.state = state
    truth["params"] = params
    return volume, truth
