"""Synthetic nerves with known truth: myelinated axons along ``z`` for :mod:`qimcore.nerves`."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage as ndi

from ... import _validate
from ._ranges import draw

__all__ = ["nerve_family", "nerve_phantom"]

# Each nerve: centre (y, x) at z = 0, undulation amplitude (y, x) and period (slices), axon
# semi-axes (a, b) at z = 0 and their change per slice, myelin thickness, orientation of the
# a axis at z = 0 and its change per slice (degrees), and the slices of a node of Ranvier.
_NERVES = (
    dict(centre=(20.0, 20.0), amplitude=(1.5, 2.0), period=40.0, axes=(6.5, 6.5),
         growth=(0.04, 0.04), thickness=3.0, angle=0.0, twist=0.0, node=()),
    dict(centre=(20.0, 39.5), amplitude=(1.5, 2.0), period=40.0, axes=(5.0, 5.0),
         growth=(-0.02, -0.02), thickness=3.5, angle=0.0, twist=0.0, node=(19, 20)),
    dict(centre=(48.0, 34.0), amplitude=(2.0, -1.5), period=30.0, axes=(9.0, 5.0),
         growth=(0.0, 0.0), thickness=3.0, angle=20.0, twist=2.5, node=()),
)
_LEVELS = {"axon": 0.75, "myelin": 0.2, "background": 0.8}


def _ellipse_inside(yy: np.ndarray, xx: np.ndarray, centre: np.ndarray, a: float, b: float,
                    angle: float) -> np.ndarray:
    """Points inside the ellipse with semi-axis ``a`` along direction (sin, cos)(angle)."""
    dy, dx = yy - centre[0], xx - centre[1]
    s, c = np.sin(angle), np.cos(angle)
    u = dy * s + dx * c
    v = dy * c - dx * s
    return (u / a) ** 2 + (v / b) ** 2 <= 1.0


def nerve_phantom(shape: tuple[int, int, int] = (40, 64, 64), *, noise: float = 0.03,
                  supersample: int = 4, random_state: Any = 0) -> tuple[np.ndarray, dict]:
    """Volume of three myelinated nerves running along ``z``, with exact per-slice truth.

    Nerves 0 and 1 are circular and touch along their whole length (their outer boundaries
    are tangent in every slice) and undulate together; nerve 2 is elliptic (axes 9 and 5
    voxels) and twists by 2.5 degrees per slice. Nerve 1 has a node of Ranvier at slices 19-20
    where its myelin is missing. Intensities: axon 0.75, myelin 0.2, background 0.8, with
    exact partial-volume edges (``supersample`` ** 2 samples per voxel) and Gaussian noise.

    Parameters
    ----------
    shape : (Z, Y, X) tuple of int
        Volume shape in voxels; ``Y`` and ``X`` of at least 64 hold all three nerves.
    noise : float, keyword-only
        Standard deviation of the added Gaussian noise.
    supersample : int, keyword-only
        Sub-samples per voxel side for the partial-volume edges.
    random_state : int, keyword-only, optional
        Seed for ``numpy.random.default_rng``.

    Returns
    -------
    volume : (Z, Y, X) ndarray of float32
    truth : dict
        ``centre`` ``(n, Z, 2)`` (y, x) axon centres; ``axes`` ``(n, Z, 2)`` axon semi-axes
        (a, b); ``outer_axes`` ``(n, Z, 2)`` semi-axes of the myelin's outer ellipse;
        ``angle`` ``(n, Z)`` direction of the ``a`` axis in degrees, the vector
        ``(sin, cos)(angle)`` in ``(y, x)`` (all in the slice); ``axon_diameter``,
        ``fibre_diameter``, ``myelin_thickness`` ``(n, Z)`` equivalent-circle diameters
        (voxels) of the cross-sections perpendicular to the undulating centre line (the
        slice ellipse's area times the cosine of the centre line's tilt) and their half
        difference; ``twist`` ``(n,)`` degrees per slice; ``node`` ``(n, Z)`` bool, True
        where the myelin is missing; ``seeds`` ``(n, 2)`` axon centres in slice 0.

    Examples
    --------
    >>> volume, truth = nerve_phantom((4, 64, 64))
    >>> volume.shape, volume.dtype.name, truth["axon_diameter"].shape
    ((4, 64, 64), 'float32', (3, 4))
    >>> np.round(truth["axon_diameter"][:, 0], 2).tolist()
    [12.55, 9.62, 12.64]
    """
    if len(shape) != 3:
        raise ValueError(f"shape must be (Z, Y, X); got {shape!r}")
    nz, ny, nx = (_validate.positive(int(s), "shape", integer=True) for s in shape)
    if ny < 64 or nx < 64:
        raise ValueError(f"shape must have Y, X >= 64 to hold the nerves; got {shape!r}")
    supersample = _validate.positive(supersample, "supersample", integer=True)
    noise = _validate.positive(noise, "noise", allow_zero=True)
    rng = np.random.default_rng(random_state)
    z = np.arange(nz, dtype=np.float64)
    n = len(_NERVES)
    centre, axes, angle = np.zeros((n, nz, 2)), np.zeros((n, nz, 2)), np.zeros((n, nz))
    thickness, node = np.zeros((n, nz)), np.zeros((n, nz), bool)
    for i, spec in enumerate(_NERVES):
        wave = np.sin(2 * np.pi * z / spec["period"])
        centre[i] = np.asarray(spec["centre"]) + np.outer(wave, spec["amplitude"])
        axes[i] = np.asarray(spec["axes"]) + np.outer(z, spec["growth"])
        angle[i] = spec["angle"] + spec["twist"] * z
        thickness[i] = spec["thickness"]
        node[i, [s for s in spec["node"] if s < nz]] = True
    # nerve 1 touches nerve 0: outer circles tangent along x in every slice
    centre[1, :, 1] = centre[0, :, 1] + axes[0, :, 0] + thickness[0] + axes[1, :, 0] + thickness[1]
    outer = axes + thickness[..., None]

    step = (np.arange(supersample) + 0.5) / supersample - 0.5
    sy, sx = np.meshgrid(step, step, indexing="ij")
    yy = np.arange(ny)[:, None, None, None] + sy
    xx = np.arange(nx)[None, :, None, None] + sx
    volume = np.empty((nz, ny, nx), np.float32)
    for k in range(nz):
        img = np.full(yy.shape[:1] + xx.shape[1:], _LEVELS["background"])
        for i in range(n):
            theta = np.deg2rad(angle[i, k])
            if not node[i, k]:
                img[_ellipse_inside(yy, xx, centre[i, k], *outer[i, k], theta)] = _LEVELS["myelin"]
            img[_ellipse_inside(yy, xx, centre[i, k], *axes[i, k], theta)] = _LEVELS["axon"]
        volume[k] = img.mean(axis=(2, 3))
    volume += rng.normal(0.0, noise, volume.shape).astype(np.float32)
    # a slice cuts the nerve along its perpendicular cross-section stretched by 1 / cos(tilt)
    slope = np.gradient(centre, z, axis=1) if nz > 1 else np.zeros_like(centre)
    shrink = np.sqrt(1 / np.sqrt(1 + (slope ** 2).sum(-1)))
    axon_d = 2 * np.sqrt(axes.prod(axis=-1)) * shrink
    fibre_d = 2 * np.sqrt(outer.prod(axis=-1)) * shrink
    truth = {"centre": centre, "axes": axes, "outer_axes": outer, "angle": angle,
             "axon_diameter": axon_d, "fibre_diameter": fibre_d,
             "myelin_thickness": (fibre_d - axon_d) / 2,
             "twist": np.array([s["twist"] for s in _NERVES]), "node": node,
             "seeds": centre[:, 0].copy()}
    return volume, truth



def _count(rng: np.random.Generator, bounds: Any, name: str) -> int:
    """A uniform integer draw from the inclusive range ``(low, high)``, or the number itself."""
    low, high = (bounds, bounds) if np.ndim(bounds) == 0 else bounds
    if int(low) < 0 or int(high) < int(low):
        raise ValueError(f"{name} must be a count or a (low, high) range; got {bounds!r}")
    return int(rng.integers(int(low), int(high) + 1))


def _frame(tilt: float, azimuth: float) -> np.ndarray:
    """Rows: the unit axis ``t`` (z, y, x) tilted by ``tilt`` from z towards ``azimuth``
    (the direction ``(sin, cos)(azimuth)`` in (y, x)), and two unit vectors ``e1``, ``e2``
    spanning the plane perpendicular to it (``e2`` horizontal)."""
    t = np.array([np.cos(tilt), np.sin(tilt) * np.sin(azimuth), np.sin(tilt) * np.cos(azimuth)])
    e2 = np.array([0.0, np.cos(azimuth), -np.sin(azimuth)])
    return np.stack([t, np.cross(e2, t), e2])


def _place(rng: np.random.Generator, radii: np.ndarray, frame: np.ndarray,
           size: tuple[int, int], touching: bool) -> np.ndarray:
    """Centres in the plane perpendicular to the axis (coordinates along ``frame[1:]``) of
    discs with ``radii`` (outer fibre radii) whose axes cross the middle slice within the
    image (or up to a radius beyond its edge), not overlapping; with ``touching`` the second
    disc is tangent to the first. Discs that find no room get NaN."""
    centres = np.full((len(radii), 2), np.nan)
    for i, r in enumerate(radii):
        for _ in range(400):
            if touching and i == 1:
                a = rng.uniform(0, 2 * np.pi)
                c = centres[0] + (radii[0] + r) * np.array([np.sin(a), np.cos(a)])
            else:
                yx = rng.uniform(-0.5 - r / 2, np.array(size) - 0.5 + r / 2) - (np.array(size) - 1) / 2
                # the slice point yx (z = 0 relative) seen along the axis
                c = np.array([yx @ frame[1, 1:], yx @ frame[2, 1:]])
            gap = np.hypot(*(centres[:i] - c).T) - radii[:i] - r
            if not (gap < (-1e-9 if touching and i == 1 else 1)).any():
                centres[i] = c
                break
    return centres


def nerve_family(random_state: Any = None, shape: tuple[int, int, int] = (48, 96, 96), *,
                 tilt: Any = (0.0, 45.0), n_nerves: Any = (4, 8), axon_diameter: Any = (10.0, 20.0),
                 g_ratio: Any = (0.5, 0.7), aspect: Any = (0.6, 1.0), twist: Any = (-3.0, 3.0),
                 touching: bool = True, n_nodes: Any = (0, 2), node_length: Any = (2.0, 4.0),
                 n_lookalikes: Any = (0, 2), lookalike_contrast: Any = (0.2, 0.4),
                 noise: Any = (0.02, 0.06), blur: Any = (0.4, 0.8),
                 supersample: int = 2) -> tuple[np.ndarray, dict]:
    """A random member of the nerve phantom family: myelinated nerves of a tilted bundle.

    All nerves run parallel to one axis tilted by ``tilt`` from ``z`` (towards a random
    azimuth), so a tilted nerve crosses the field of view: it enters or leaves through the
    side walls and is cut by the border there. Each nerve is an elliptic axon (semi-axes
    ``a >= b``, ratio ``aspect``) in a myelin sheath of constant thickness, both measured
    perpendicular to the axis, the ellipse rotating by ``twist`` degrees per voxel along the
    axis. Nerves are placed at random without overlap; with ``touching`` the second one touches
    the first along its whole length (both round). ``n_nodes`` nodes of Ranvier (myelin absent
    over ``node_length`` voxels along the axis) fall on random nerves, and ``n_lookalikes``
    unmyelinated look-alikes (a light disc in a thin grey ring, darker than the tissue by
    ``lookalike_contrast`` of the myelin contrast) run with the bundle. Intensities: axon 0.75,
    myelin 0.2, tissue 0.8, partial volume from ``supersample ** 3`` samples per voxel, a
    Gaussian blur of ``blur`` voxels and Gaussian noise. Ranges ``(low, high)`` are drawn
    uniformly (a number fixes the property; counts are inclusive ranges).

    Parameters
    ----------
    random_state : int, optional
        Seed: the same seed gives the same phantom.
    shape : (Z, Y, X) tuple of int
        Volume shape in voxels (at least 8 slices and 48 x 48).
    tilt : float or (float, float), keyword-only
        Angle of the bundle axis to ``z``, degrees.
    n_nerves : int or (int, int), keyword-only
        Nerves placed (fewer when there is no room).
    axon_diameter : float or (float, float), keyword-only
        Equivalent-circle axon diameter perpendicular to the axis, voxels.
    g_ratio : float or (float, float), keyword-only
        Axon diameter / fibre diameter (equivalent circles).
    aspect : float or (float, float), keyword-only
        Minor / major semi-axis of the axon ellipse (1 = round).
    twist : float or (float, float), keyword-only
        Rotation of each ellipse, degrees per voxel along the axis.
    touching : bool, keyword-only
        Make the first two nerves touch.
    n_nodes : int or (int, int), keyword-only
        Nodes of Ranvier.
    node_length : float or (float, float), keyword-only
        Length of each node along the axis, voxels.
    n_lookalikes : int or (int, int), keyword-only
        Unmyelinated look-alikes.
    lookalike_contrast : float or (float, float), keyword-only
        Darkness of a look-alike's ring as a fraction of the myelin's.
    noise, blur : float or (float, float), keyword-only
        Noise standard deviation and point-spread sigma (voxels).
    supersample : int, keyword-only
        Samples per voxel side for the partial-volume edges.

    Returns
    -------
    volume : (Z, Y, X) ndarray of float32
    truth : dict
        ``direction`` (3,) unit axis (z, y, x); ``tilt`` degrees; per nerve (``n`` of them):
        ``centre`` ``(n, Z, 2)`` where the axis crosses each slice (y, x, may lie outside the
        image), ``axon_diameter``, ``fibre_diameter``, ``myelin_thickness``, ``g_ratio``
        ``(n,)`` perpendicular to the axis (equivalent circles, voxels), ``axes`` ``(n, 2)``
        axon semi-axes, ``twist`` ``(n,)`` degrees per voxel along the axis, ``node`` ``(n, Z)``
        True where the axis point of the slice lies in a node, ``closed`` ``(n, Z)`` True
        where the nerve's myelin ring is closed inside the slice (its outer cross-section does
        not touch the image border and the slice is not in a node); ``labels`` ``(Z, Y, X)``
        int32, ``i + 1`` inside nerve ``i``'s outer boundary; ``lookalikes`` ``(m, Z, 2)``
        their axis points; ``params`` the drawn values.

    Examples
    --------
    >>> volume, truth = nerve_family(random_state=0, shape=(16, 64, 64), tilt=30)
    >>> volume.shape, round(float(truth["tilt"]), 1)
    ((16, 64, 64), 30.0)
    >>> bool(np.all(truth["g_ratio"] >= 0.5))
    True
    """
    if len(shape) != 3:
        raise ValueError(f"shape must be (Z, Y, X); got {shape!r}")
    nz, ny, nx = (_validate.positive(int(s), "shape", integer=True) for s in shape)
    if nz < 8 or ny < 48 or nx < 48:
        raise ValueError(f"shape must be at least (8, 48, 48); got {shape!r}")
    supersample = _validate.positive(supersample, "supersample", integer=True)
    rng = np.random.default_rng(random_state)
    theta, phi = np.deg2rad(draw(rng, tilt, "tilt")), rng.uniform(0, 2 * np.pi)
    if not 0 <= theta < np.pi / 2:
        raise ValueError(f"tilt must lie in [0, 90) degrees; got {tilt!r}")
    frame = _frame(theta, phi)
    n = _count(rng, n_nerves, "n_nerves")
    d_axon = np.array([draw(rng, axon_diameter, "axon_diameter") for _ in range(n)])
    g = np.array([draw(rng, g_ratio, "g_ratio") for _ in range(n)])
    ratio = np.array([draw(rng, aspect, "aspect") for _ in range(n)])
    if touching and n >= 2:
        ratio[:2] = 1.0
    a = d_axon / 2 / np.sqrt(ratio)                       # a * b = (d / 2) ** 2
    b = a * ratio
    # sheath thickness t with 2 sqrt((a + t)(b + t)) = d / g: the equivalent-circle g-ratio
    t_sum, fibre_r = a + b, d_axon / (2 * g)
    thick = (np.sqrt(t_sum ** 2 - 4 * (a * b - fibre_r ** 2)) - t_sum) / 2
    turn = np.array([draw(rng, twist, "twist") for _ in range(n)])
    angle0 = rng.uniform(0, 180, n)
    centre = np.array([(nz - 1) / 2, (ny - 1) / 2, (nx - 1) / 2])
    n_look = _count(rng, n_lookalikes, "n_lookalikes")
    r_look = np.array([draw(rng, axon_diameter, "axon_diameter") / 2 for _ in range(n_look)])
    w_look = rng.uniform(1.0, 2.0, n_look)
    placed = _place(rng, np.r_[a + thick, r_look + w_look], frame, (ny, nx), touching)
    plane, c_look = placed[:n], placed[n:]
    ok, keep = np.isfinite(plane[:, 0]), np.isfinite(c_look[:, 0])
    r_look, w_look, c_look = r_look[keep], w_look[keep], c_look[keep]
    dark = np.array([draw(rng, lookalike_contrast, "lookalike_contrast") for _ in r_look])
    a, b, thick, turn, angle0, plane = a[ok], b[ok], thick[ok], turn[ok], angle0[ok], plane[ok]
    n = len(a)
    nodes = []
    for _ in range(_count(rng, n_nodes, "n_nodes") if n else 0):
        nodes.append((int(rng.integers(n)), rng.uniform(-0.3, 0.3) * nz / np.cos(theta),
                      draw(rng, node_length, "node_length")))
    levels = {"axon": 0.75, "myelin": 0.2, "background": 0.8}

    step = (np.arange(supersample) + 0.5) / supersample - 0.5
    volume = np.empty((nz, ny, nx), np.float32)
    labels = np.zeros((nz, ny, nx), np.int32)
    gy, gx = np.meshgrid(np.arange(ny, dtype=float), np.arange(nx, dtype=float), indexing="ij")
    sub = np.stack(np.meshgrid(step, step, step, indexing="ij"), -1).reshape(-1, 3)
    for k in range(nz):
        pts = np.stack([np.full_like(gy, k), gy, gx], -1)[..., None, :] + sub   # (Y, X, s, 3)
        rel = pts - centre
        along, u, v = (rel @ frame[j] for j in range(3))
        img = np.full(along.shape, levels["background"])
        for j in range(len(r_look)):
            r = np.hypot(u - c_look[j, 0], v - c_look[j, 1])
            img[r <= r_look[j] + w_look[j]] = levels["background"] - dark[j] * (
                levels["background"] - levels["myelin"])
            img[r <= r_look[j]] = levels["axon"]
        for i in range(n):
            du, dv = u - plane[i, 0], v - plane[i, 1]
            rot = np.deg2rad(angle0[i] + turn[i] * along)
            p, q = du * np.cos(rot) + dv * np.sin(rot), -du * np.sin(rot) + dv * np.cos(rot)
            fibre = (p / (a[i] + thick[i])) ** 2 + (q / (b[i] + thick[i])) ** 2 <= 1
            gap = np.zeros(along.shape, bool)
            for nerve, at, length in nodes:
                if nerve == i:
                    gap |= np.abs(along - at) <= length / 2
            img[fibre & ~gap] = levels["myelin"]
            img[(p / a[i]) ** 2 + (q / b[i]) ** 2 <= 1] = levels["axon"]
            mid = fibre[..., (len(sub) - 1) // 2] if supersample % 2 else fibre.mean(-1) >= 0.5
            labels[k][mid] = i + 1
        volume[k] = img.mean(-1)
    sigma = draw(rng, blur, "blur")
    if sigma > 0:
        volume = ndi.gaussian_filter(volume, sigma)
    volume += rng.normal(0.0, draw(rng, noise, "noise"), volume.shape).astype(np.float32)

    z = np.arange(nz, dtype=float)
    t = frame[0]
    def axis_points(c2: np.ndarray) -> np.ndarray:
        base = centre + c2[:, :1] * frame[1] + c2[:, 1:] * frame[2]     # (m, 3)
        s = (z[None] - base[:, :1]) / t[0]                                # (m, Z)
        return base[:, None, 1:] + s[..., None] * t[1:]
    axon_d = 2 * np.sqrt(a * b)
    fibre_d = 2 * np.sqrt((a + thick) * (b + thick))
    centres = axis_points(plane)
    node = np.zeros((n, nz), bool)
    for nerve, at, length in nodes:
        s = (z - (centre[0] + plane[nerve, 0] * frame[1, 0])) / t[0]
        node[nerve] |= np.abs(s - at) <= length / 2 + (a[nerve] + thick[nerve]) * np.tan(theta)
    border = np.zeros((nz, ny, nx), bool)
    border[:, [0, -1]] = border[:, :, [0, -1]] = True
    closed = np.zeros((n, nz), bool)
    for i in range(n):
        inside = labels == i + 1
        closed[i] = inside.any(axis=(1, 2)) & ~(inside & border).any(axis=(1, 2)) & ~node[i]
    truth = {"direction": t, "tilt": float(np.rad2deg(theta)), "centre": centres,
             "axon_diameter": axon_d, "fibre_diameter": fibre_d,
             "myelin_thickness": (fibre_d - axon_d) / 2, "g_ratio": axon_d / fibre_d,
             "axes": np.stack([a, b], -1), "twist": turn, "node": node, "closed": closed,
             "labels": labels, "lookalikes": axis_points(c_look).reshape(-1, nz, 2),
             "params": {"tilt": float(np.rad2deg(theta)), "azimuth": float(np.rad2deg(phi)),
                        "nodes": nodes, "blur": sigma}}
    return volume.astype(np.float32), truth
