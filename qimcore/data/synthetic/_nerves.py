"""Synthetic nerves with known truth: myelinated axons along ``z`` for :mod:`qimcore.nerves`."""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import _validate

__all__ = ["nerve_phantom"]

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
        ``(sin, cos)(angle)`` in ``(y, x)``; ``axon_diameter``, ``fibre_diameter``,
        ``myelin_thickness`` ``(n, Z)`` equivalent-circle diameters (voxels) and their half
        difference; ``twist`` ``(n,)`` degrees per slice; ``node`` ``(n, Z)`` bool, True
        where the myelin is missing; ``seeds`` ``(n, 2)`` axon centres in slice 0.

    Examples
    --------
    >>> volume, truth = nerve_phantom((4, 64, 64))
    >>> volume.shape, volume.dtype.name, truth["axon_diameter"].shape
    ((4, 64, 64), 'float32', (3, 4))
    >>> np.round(truth["axon_diameter"][:, 0], 2).tolist()
    [13.0, 10.0, 13.42]
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
    axon_d = 2 * np.sqrt(axes.prod(axis=-1))
    fibre_d = 2 * np.sqrt(outer.prod(axis=-1))
    truth = {"centre": centre, "axes": axes, "outer_axes": outer, "angle": angle,
             "axon_diameter": axon_d, "fibre_diameter": fibre_d,
             "myelin_thickness": (fibre_d - axon_d) / 2,
             "twist": np.array([s["twist"] for s in _NERVES]), "node": node,
             "seeds": centre[:, 0].copy()}
    return volume, truth
