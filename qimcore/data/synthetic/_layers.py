"""Synthetic layers with known truth: curved porous growth layers, trabecular plates and rods."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage as ndi

__all__ = ["concentric_layers", "trabecular_lattice"]


def concentric_layers(shape: tuple[int, int, int] = (56, 64, 64),
                      thicknesses: Any = (8.0, 12.0, 10.0), porosities: Any = (0.05, 0.2, 0.1),
                      *, radius: float = 120.0, margin: int = 4, pore_size: float = 1.0,
                      noise: float = 0.1, random_state: int | None = 0
                      ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Porous curved layers between concentric spheres, as growth layers of a shell.

    Surface ``i`` is the lower cap of a sphere of radius ``R_i = radius - sum(thicknesses[:i])``
    centred above the volume, ``z = c - sqrt(R_i**2 - r**2)`` rounded to voxels, so layer ``i``
    has normal thickness ``thicknesses[i]`` everywhere and is bent like a dome. Pores are blobs of
    a smoothed random field, thresholded in each layer to give exactly ``porosities[i]``.

    Parameters
    ----------
    shape : (Z, Y, X) tuple of int
        Volume shape.
    thicknesses : sequence of float
        Layer thicknesses in voxels, from low to high z.
    porosities : sequence of float
        Pore fraction of each layer, in [0, 1).
    radius : float, keyword-only
        Radius of the lowest surface (voxels); smaller is more curved.
    margin : int, keyword-only
        z of the lowest surface at the centre column.
    pore_size : float, keyword-only
        Gaussian sigma of the pore field (voxels).
    noise : float, keyword-only
        Standard deviation of the Gaussian noise added to the 0/1 image.
    random_state : int, keyword-only, optional
        Seed.

    Returns
    -------
    volume : (Z, Y, X) float32 ndarray
        1 for solid, 0 for pores and air, plus noise.
    truth : dict
        ``heights`` (n_layers + 1, Y, X) int surfaces, ``material`` bool solid mask,
        ``thickness`` (n_layers,) true normal thickness (voxels), ``porosity`` (n_layers,) the
        exact pore fraction of each layer's voxels.

    Examples
    --------
    >>> vol, truth = concentric_layers(random_state=1)
    >>> vol.shape, truth["heights"].shape, truth["porosity"].round(2).tolist()
    ((56, 64, 64), (4, 64, 64), [0.05, 0.2, 0.1])
    """
    rng = np.random.default_rng(random_state)
    thicknesses = np.asarray(thicknesses, dtype=float)
    porosities = np.asarray(porosities, dtype=float)
    if thicknesses.shape != porosities.shape or thicknesses.ndim != 1:
        raise ValueError("thicknesses and porosities must be 1D sequences of the same length")
    z_len, y_len, x_len = shape
    yy, xx = np.meshgrid(np.arange(y_len) - (y_len - 1) / 2, np.arange(x_len) - (x_len - 1) / 2,
                         indexing="ij")
    radii = radius - np.r_[0.0, np.cumsum(thicknesses)]
    r2 = yy ** 2 + xx ** 2
    if radii[-1] ** 2 <= r2.max():
        raise ValueError("radius is too small for the layers to span the volume")
    heights = np.rint(margin + radius - np.sqrt(radii[:, None, None] ** 2 - r2)).astype(np.int64)
    if heights.max() >= z_len:
        raise ValueError(f"shape[0] must exceed {heights.max()} to hold the layers")
    z = np.arange(z_len)[:, None, None]
    layer = np.full(shape, -1, dtype=np.int64)
    for i in range(len(thicknesses)):
        layer[(z >= heights[i]) & (z < heights[i + 1])] = i
    field = ndi.gaussian_filter(rng.standard_normal(shape), pore_size)
    material = layer >= 0
    porosity = np.zeros(len(thicknesses))
    for i, p in enumerate(porosities):
        inside = layer == i
        values = field[inside]
        cut = np.sort(values)[int(round(p * values.size))] if p > 0 else -np.inf
        material[inside] = values >= cut
        porosity[i] = 1.0 - material[inside].mean()
    volume = material + noise * rng.standard_normal(shape)
    truth = {"heights": heights, "material": material, "thickness": thicknesses,
             "porosity": porosity}
    return volume.astype(np.float32), truth


def trabecular_lattice(shape: tuple[int, int, int] = (48, 48, 48), kind: str = "plates",
                       thickness: int = 5, spacing: int = 16, *, random_state: int | None = 0
                       ) -> tuple[np.ndarray, dict[str, float]]:
    """Parallel plates or a square grid of round rods of known thickness, as model trabeculae.

    Plates are perpendicular to x, ``thickness`` voxels thick, every ``spacing`` voxels; rods
    run along z with diameter ``thickness`` on a ``spacing`` grid in (y, x). The grid's phase
    is random. ``truth["thickness"]`` is the geometric thickness ``n``. Voxel-centred spheres
    measure a plate as ``n + 1`` voxels (odd ``n``) or ``n`` (even ``n``);
    :func:`qimcore.layers.local_thickness` reports ``2 * EDT - 1/2`` voxels, so plates read
    ``n + 0.5`` (odd) or ``n - 0.5`` (even): a 5-voxel plate gives Tb.Th 5.5 voxels, slightly
    less where it meets the volume's faces (outside counts as background).

    Parameters
    ----------
    shape : (Z, Y, X) tuple of int
        Volume shape; Y and X should be multiples of ``spacing``.
    kind : {"plates", "rods"}
        Structure.
    thickness : int
        Plate thickness or rod diameter (voxels).
    spacing : int
        Period of the structure (voxels).
    random_state : int, keyword-only, optional
        Seed for the phase.

    Returns
    -------
    mask : (Z, Y, X) bool ndarray
    truth : dict
        ``thickness`` (voxels), ``bv_tv`` (exact bone fraction), ``separation`` (plate gap,
        ``spacing - thickness``; the rods' gap along the grid axes).

    Examples
    --------
    >>> mask, truth = trabecular_lattice(kind="plates", thickness=5, spacing=16)
    >>> round(truth["bv_tv"], 4), float(mask.mean()) == truth["bv_tv"]
    (0.3125, True)
    """
    if kind not in ("plates", "rods"):
        raise ValueError(f"kind must be 'plates' or 'rods', got {kind!r}")
    if not 0 < thickness < spacing:
        raise ValueError(f"thickness must be in (0, spacing); got {thickness} and {spacing}")
    rng = np.random.default_rng(random_state)
    phase = rng.integers(0, spacing, size=2)
    x = (np.arange(shape[2]) + phase[1]) % spacing
    if kind == "plates":
        mask = np.broadcast_to(x < thickness, shape).copy()
        fraction = thickness / spacing
    else:
        y = (np.arange(shape[1]) + phase[0]) % spacing
        centre = (thickness - 1) / 2
        disc = (y[:, None] - centre) ** 2 + (x[None, :] - centre) ** 2 <= (thickness / 2) ** 2
        mask = np.broadcast_to(disc, shape).copy()
        cell = np.arange(spacing)
        footprint = ((cell[:, None] - centre) ** 2 + (cell[None, :] - centre) ** 2
                     <= (thickness / 2) ** 2)
        fraction = footprint.sum() / spacing ** 2
    truth = {"thickness": float(thickness), "bv_tv": float(fraction),
             "separation": float(spacing - thickness)}
    return mask, truth
