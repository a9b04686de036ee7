"""Synthetic trabecular bone: tilted plates or rods of known thickness, partial volume, noise."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage as ndi

from ._ranges import draw

__all__ = ["bone_family", "bone_phantom"]


def _unit(theta: float, phi: float) -> np.ndarray:
    """Unit (z, y, x) vector at ``theta`` degrees from z and azimuth ``phi`` degrees (from x)."""
    t, p = np.radians(theta), np.radians(phi)
    return np.array([np.cos(t), np.sin(t) * np.sin(p), np.sin(t) * np.cos(p)])


def _fold(u: np.ndarray, spacing: float) -> np.ndarray:
    """Distance of ``u`` to the nearest multiple of ``spacing``."""
    u = np.mod(u, spacing)
    return np.minimum(u, spacing - u)


def bone_phantom(shape: tuple[int, int, int] = (64, 64, 64), kind: str = "plates",
                 thickness: float = 5.0, spacing: float = 16.0, *, tilt: float = 0.0,
                 azimuth: float = 0.0, noise: float = 0.1, blur: float = 0.0,
                 random_state: int | None = 0) -> tuple[np.ndarray, dict[str, Any]]:
    """Parallel plates or a square grid of parallel rods, tilted, imaged with partial volume.

    Plates are ``thickness`` thick (along their normal), one every ``spacing`` voxels; rods
    have diameter ``thickness`` and sit on a ``spacing`` grid. Plates' normals and rods' axes
    lie at ``tilt`` degrees from x (plates) or z (rods), at ``azimuth`` around it; the grid's
    phase is random. A voxel's grey value is the fraction of it inside the bone (a linear ramp
    of one voxel across the boundary: partial volume), blurred by a Gaussian point spread of
    ``blur`` voxels, plus Gaussian noise; bone 1, marrow 0.

    Parameters
    ----------
    shape : (Z, Y, X) tuple of int
        Volume shape.
    kind : {"plates", "rods"}
        Structure.
    thickness : float
        Plate thickness or rod diameter (voxels), ``0 < thickness < spacing``.
    spacing : float
        Period of the structure (voxels).
    tilt, azimuth : float, keyword-only
        Orientation in degrees (see above).
    noise : float, keyword-only
        Noise standard deviation (bone - marrow = 1).
    blur : float, keyword-only
        Point-spread sigma (voxels).
    random_state : int, keyword-only, optional
        Seed for the phase and the noise.

    Returns
    -------
    volume : (Z, Y, X) float32 ndarray
    truth : dict
        ``mask`` (voxel centres inside the bone), ``thickness``, ``spacing``, ``bv_tv`` (the
        continuous bone fraction of the structure: ``thickness / spacing`` for plates,
        ``pi thickness**2 / (4 spacing**2)`` for rods) and ``separation`` (``spacing -
        thickness``).

    Examples
    --------
    >>> volume, truth = bone_phantom((32, 32, 32), "rods", thickness=6, spacing=16, noise=0)
    >>> volume.shape, round(truth["bv_tv"], 3), bool(volume.max() <= 1)
    ((32, 32, 32), 0.11, True)
    """
    if kind not in ("plates", "rods"):
        raise ValueError(f"kind must be 'plates' or 'rods', got {kind!r}")
    if not 0 < thickness < spacing:
        raise ValueError(f"thickness must be in (0, spacing); got {thickness} and {spacing}")
    rng = np.random.default_rng(random_state)
    points = np.stack(np.meshgrid(*[np.arange(n, dtype=float) for n in shape], indexing="ij"),
                      axis=-1)
    phase = rng.uniform(0, spacing, 2)
    if kind == "plates":
        normal = _unit(tilt, azimuth)[::-1]                       # tilt from the x axis
        distance = _fold(points @ normal - phase[0], spacing)
        fraction = thickness / spacing
    else:
        axis = _unit(tilt, azimuth)
        e1 = np.cross(axis, [0.0, 1.0, 0.0] if abs(axis[1]) < 0.9 else [1.0, 0.0, 0.0])
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(axis, e1)
        distance = np.hypot(_fold(points @ e1 - phase[0], spacing),
                            _fold(points @ e2 - phase[1], spacing))
        fraction = np.pi * thickness ** 2 / (4 * spacing ** 2)
    signed = distance - thickness / 2
    image = np.clip(0.5 - signed, 0.0, 1.0)
    if blur > 0:
        image = ndi.gaussian_filter(image, blur)
    volume = (image + noise * rng.standard_normal(shape)).astype(np.float32)
    truth = {"mask": signed < 0, "thickness": float(thickness), "spacing": float(spacing),
             "bv_tv": float(fraction), "separation": float(spacing - thickness)}
    return volume, truth


def bone_family(random_state: int | None = None, shape: tuple[int, int, int] = (64, 64, 64),
                *, kind: str | None = None, thickness: Any = (3.0, 10.0),
                spacing: Any = (2.5, 4.0), tilt: Any = (0.0, 45.0), noise: Any = (0.05, 0.25),
                blur: Any = (0.4, 1.0)) -> tuple[np.ndarray, dict[str, Any]]:
    """A random member of the trabecular bone family: plates or rods drawn from ranges.

    Each range ``(low, high)`` is sampled uniformly (a single number fixes the property) and
    passed to :func:`bone_phantom`; the azimuth is uniform.

    Parameters
    ----------
    random_state : int, optional
        Seed.
    shape : (3,) tuple of int, optional
        Volume shape.
    kind : {"plates", "rods"}, optional
        Structure; None draws it.
    thickness : float or (float, float), optional
        Plate thickness or rod diameter (voxels).
    spacing : float or (float, float), optional
        Period as a multiple of the thickness.
    tilt : float or (float, float), optional
        Tilt in degrees (see :func:`bone_phantom`).
    noise, blur : float or (float, float), optional
        Noise standard deviation (bone - marrow = 1) and point-spread sigma (voxels).

    Returns
    -------
    volume : (Z, Y, X) float32 ndarray
    truth : dict
        As :func:`bone_phantom`, plus ``params``: the drawn parameters.

    Examples
    --------
    >>> volume, truth = bone_family(random_state=1, shape=(32, 32, 32), thickness=(3, 5))
    >>> volume.shape, 3 <= truth["thickness"] <= 5
    ((32, 32, 32), True)
    """
    rng = np.random.default_rng(random_state)
    t = draw(rng, thickness, "thickness")
    params = {"kind": str(rng.choice(["plates", "rods"])) if kind is None else kind,
              "thickness": t, "spacing": t * draw(rng, spacing, "spacing"),
              "tilt": draw(rng, tilt, "tilt"), "azimuth": float(rng.uniform(0, 360)),
              "noise": draw(rng, noise, "noise"), "blur": draw(rng, blur, "blur")}
    volume, truth = bone_phantom(shape, params["kind"], params["thickness"], params["spacing"],
                                 tilt=params["tilt"], azimuth=params["azimuth"],
                                 noise=params["noise"], blur=params["blur"], random_state=rng)
    truth["params"] = params
    return volume, truth
