"""Synthetic layers with known truth: porous growth layers (domes and closed shells), lattices.

Each family function (:func:`layer_family`, :func:`shell_family`) draws every property from a
range, so tests and the accuracy report sweep many variants rather than one phantom.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage as ndi

from ._ranges import draw

__all__ = ["concentric_layers", "concentric_shells", "layer_family", "shell_family",
           "trabecular_lattice"]


def concentric_layers(shape: tuple[int, int, int] = (56, 64, 64),
                      thicknesses: Any = (8.0, 12.0, 10.0), porosities: Any = (0.05, 0.2, 0.1),
                      *, radius: float = 120.0, margin: int = 4, pore_size: Any = 1.0,
                      greys: Any = 1.0, noise: float = 0.1, blur: float = 0.0,
                      random_state: int | None = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Porous curved layers between concentric spheres, as growth layers of a shell.

    Surface ``i`` is the lower cap of a sphere of radius ``R_i = radius - sum(thicknesses[:i])``
    centred above the volume, ``z = c - sqrt(R_i**2 - r**2)`` rounded to voxels, so layer ``i``
    has normal thickness ``thicknesses[i]`` everywhere and is bent like a dome. Pores are blobs of
    a smoothed random field, thresholded in each layer to give exactly ``porosities[i]``. Layer
    ``i``'s material has grey value ``greys[i]``; pores and air are 0.

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
    pore_size : float or sequence of float, keyword-only
        Gaussian sigma of the pore field (voxels), one or one per layer.
    greys : float or sequence of float, keyword-only
        Grey value of each layer's material (pores and air are 0).
    noise : float, keyword-only
        Standard deviation of the Gaussian noise added to the image.
    blur : float, keyword-only
        Gaussian sigma (voxels) of the point spread applied before the noise (partial volume).
    random_state : int, keyword-only, optional
        Seed.

    Returns
    -------
    volume : (Z, Y, X) float32 ndarray
        ``greys[i]`` for solid in layer ``i``, 0 for pores and air, blurred, plus noise.
    truth : dict
        ``heights`` (n_layers + 1, Y, X) int surfaces, ``material`` bool solid mask,
        ``thickness`` (n_layers,) true normal thickness (voxels), ``porosity`` (n_layers,) the
        exact pore fraction of each layer's voxels, ``grey`` (n_layers,) material grey values.

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
    material, porosity = _porous(layer, porosities, pore_size, rng)
    volume = _image(material, layer, greys, noise, blur, rng)
    truth = {"heights": heights, "material": material, "thickness": thicknesses,
             "porosity": porosity, "grey": np.broadcast_to(greys, porosity.shape).astype(float)}
    return volume, truth


def _porous(layer: np.ndarray, porosities: np.ndarray, pore_size: Any,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Solid mask with exactly ``porosities[i]`` of layer ``i``'s voxels (``layer == i``) pore.

    Pores are the lowest values of a white-noise field smoothed by ``pore_size`` (per layer).
    """
    sizes = np.broadcast_to(np.asarray(pore_size, dtype=float), porosities.shape)
    base = rng.standard_normal(layer.shape)
    fields = {s: ndi.gaussian_filter(base, s) for s in np.unique(sizes)}
    material = layer >= 0
    porosity = np.zeros(len(porosities))
    for i, p in enumerate(porosities):
        inside = layer == i
        values = fields[sizes[i]][inside]
        cut = np.sort(values)[int(round(p * values.size))] if p > 0 else -np.inf
        material[inside] = values >= cut
        porosity[i] = 1.0 - material[inside].mean()
    return material, porosity


def _image(material: np.ndarray, layer: np.ndarray, greys: Any, noise: float, blur: float,
           rng: np.random.Generator) -> np.ndarray:
    """Grey value of each solid voxel's layer, blurred, plus Gaussian noise (float32)."""
    grey = np.broadcast_to(np.asarray(greys, dtype=float), (int(layer.max()) + 1,))
    image = np.where(material, grey[np.clip(layer, 0, None)], 0.0)
    if blur > 0:
        image = ndi.gaussian_filter(image, blur)
    return (image + noise * rng.standard_normal(layer.shape)).astype(np.float32)


def concentric_shells(shape: tuple[int, int, int] = (12, 96, 96),
                      thicknesses: Any = (8.0, 10.0, 8.0), porosities: Any = (0.05, 0.2, 0.1),
                      *, inner_radius: float = 12.0, center: Any = None, pore_size: Any = 1.0,
                      greys: Any = 1.0, noise: float = 0.1, blur: float = 0.0,
                      random_state: int | None = 0) -> tuple[np.ndarray, dict[str, Any]]:
    """Porous layers rolled around the z axis (closed, wrapped shells), as in a shell section.

    Layer ``i`` is the ring ``R_i <= r < R_{i+1}`` around ``center`` with
    ``R_i = inner_radius + sum(thicknesses[:i])`` (``r`` the distance of the voxel centre from
    the axis), so its radial thickness is ``thicknesses[i]`` everywhere. Pores, greys, blur
    and noise as in :func:`concentric_layers`.

    Parameters
    ----------
    shape : (Z, Y, X) tuple of int
        Volume shape.
    thicknesses, porosities : sequence of float
        Radial thickness (voxels) and pore fraction of each layer, from the centre outwards.
    inner_radius : float, keyword-only
        Radius of the innermost surface (voxels).
    center : (2,) array_like, keyword-only, optional
        ``(y, x)`` of the axis; default the middle of the slice.
    pore_size, greys, noise, blur, random_state : keyword-only
        As in :func:`concentric_layers`.

    Returns
    -------
    volume : (Z, Y, X) float32 ndarray
    truth : dict
        ``radii`` (n_layers + 1,) surface radii, ``center`` (2,), ``material`` bool solid mask,
        ``layer`` int map (-1 outside the layers), ``thickness``, ``porosity`` (exact voxel
        fractions) and ``grey``, each (n_layers,).

    Examples
    --------
    >>> vol, truth = concentric_shells(random_state=1)
    >>> vol.shape, truth["radii"].tolist(), truth["porosity"].round(2).tolist()
    ((12, 96, 96), [12.0, 20.0, 30.0, 38.0], [0.05, 0.2, 0.1])
    """
    rng = np.random.default_rng(random_state)
    thicknesses = np.asarray(thicknesses, dtype=float)
    porosities = np.asarray(porosities, dtype=float)
    if thicknesses.shape != porosities.shape or thicknesses.ndim != 1:
        raise ValueError("thicknesses and porosities must be 1D sequences of the same length")
    center = np.array([(shape[1] - 1) / 2, (shape[2] - 1) / 2] if center is None else center,
                      dtype=float)
    radii = inner_radius + np.r_[0.0, np.cumsum(thicknesses)]
    if (radii[-1] >= center.min() + 0.5 or radii[-1] >= shape[1] - 1.5 - center[0]
            or radii[-1] >= shape[2] - 1.5 - center[1]):
        raise ValueError(f"shape {shape} is too small for shells of outer radius {radii[-1]}")
    y, x = np.mgrid[:shape[1], :shape[2]]
    r = np.broadcast_to(np.hypot(y - center[0], x - center[1]), shape)
    layer = np.searchsorted(radii, r, side="right") - 1
    layer[layer >= len(thicknesses)] = -1
    material, porosity = _porous(layer, porosities, pore_size, rng)
    volume = _image(material, layer, greys, noise, blur, rng)
    truth = {"radii": radii, "center": center, "material": material, "layer": layer,
             "thickness": thicknesses, "porosity": porosity,
             "grey": np.broadcast_to(greys, porosity.shape).astype(float)}
    return volume, truth



def _draw_layers(rng: np.random.Generator, n_layers: Any, thickness: Any, porosity: Any,
                 pore_size: Any, contrast: Any, alternating: Any, noise: Any,
                 blur: Any) -> dict[str, Any]:
    """The per-layer properties shared by :func:`layer_family` and :func:`shell_family`."""
    n = int(rng.integers(n_layers[0], n_layers[1] + 1)) if np.ndim(n_layers) else int(n_layers)
    c = draw(rng, contrast, "contrast")
    alt = bool(rng.integers(2)) if alternating is None else bool(alternating)
    greys = (1.0 - c * (np.arange(n) % 2 == rng.integers(2)) if alt
             else 1.0 - c * rng.uniform(0.0, 1.0, n))
    if not alt and n > 1:                       # the full contrast occurs between two layers
        greys[rng.permutation(n)[:2]] = (1.0, 1.0 - c)
    return {"thicknesses": draw(rng, thickness, "thickness", size=n),
            "porosities": draw(rng, porosity, "porosity", size=n),
            "pore_size": draw(rng, pore_size, "pore_size", size=n), "greys": greys,
            "noise": draw(rng, noise, "noise"), "blur": draw(rng, blur, "blur"),
            "contrast": c, "alternating": alt}


_FAMILY_DOC = """
    Each range ``(low, high)`` is sampled uniformly (a single number fixes the property).
    Material grey values lie in ``[1 - contrast, 1]`` (pores and air 0, so ``contrast`` is the
    fraction of the pore-to-material range by which layers differ); with ``alternating``
    (drawn at random when None) they alternate between ``1`` and ``1 - contrast``, otherwise
    each layer draws its own and two layers span the full contrast.
"""


def layer_family(random_state: int | None = None, shape: tuple[int, int, int] = (64, 64, 64),
                 *, n_layers: Any = (2, 4), thickness: Any = (6.0, 12.0),
                 porosity: Any = (0.0, 0.3), pore_size: Any = (0.7, 2.5),
                 contrast: Any = (0.0, 0.3), alternating: bool | None = None,
                 radius: Any = (100.0, 400.0), noise: Any = (0.02, 0.15), blur: Any = 0.0
                 ) -> tuple[np.ndarray, dict[str, Any]]:
    """A random member of the family of curved porous growth layers (domes).

    The drawn values are passed to :func:`concentric_layers`; the layers are thinned evenly if
    they would not fit into ``shape`` (or inside the curvature radius).
    {family}
    Parameters
    ----------
    random_state : int, optional
        Seed: the same seed gives the same phantom.
    shape : (3,) tuple of int, optional
        Volume shape ``(z, y, x)``.
    n_layers : int or (int, int), optional
        Number of layers (inclusive range).
    thickness : float or (float, float), optional
        Normal thickness of each layer (voxels).
    porosity : float or (float, float), optional
        Pore fraction of each layer.
    pore_size : float or (float, float), optional
        Smoothing sigma of each layer's pore field (voxels): larger is coarser pores.
    contrast : float or (float, float), optional
        Spread of the material grey values, as a fraction of the pore-to-material range.
    alternating : bool, optional
        Alternate bright and dark layers; None draws it.
    radius : float or (float, float), optional
        Curvature radius of the lowest surface (voxels).
    noise, blur : float or (float, float), optional
        Noise standard deviation (material = 1) and point-spread sigma (voxels).

    Returns
    -------
    volume : (Z, Y, X) float32 ndarray
    truth : dict
        As :func:`concentric_layers`, plus ``params``: the drawn parameters.

    Examples
    --------
    >>> volume, truth = layer_family(random_state=2, shape=(40, 32, 32), n_layers=3)
    >>> volume.shape, truth["heights"].shape, bool((truth["porosity"] <= 0.3).all())
    ((40, 32, 32), (4, 32, 32), True)
    """
    rng = np.random.default_rng(random_state)
    params = _draw_layers(rng, n_layers, thickness, porosity, pore_size, contrast, alternating,
                          noise, blur)
    params["radius"] = draw(rng, radius, "radius")
    margin = 3
    r_max = np.hypot((shape[1] - 1) / 2, (shape[2] - 1) / 2)
    # the last surface, radius R = radius - total, must stay below z = shape[0] - 2 at r_max
    depth = max(margin + params["radius"] - (shape[0] - 2), 0.0)
    room = params["radius"] - np.hypot(r_max, depth) - 1.0
    total = params["thicknesses"].sum()
    if total > room:
        params["thicknesses"] = params["thicknesses"] * (room / total)
    volume, truth = concentric_layers(
        shape, params["thicknesses"], params["porosities"], radius=params["radius"],
        margin=margin, pore_size=params["pore_size"], greys=params["greys"],
        noise=params["noise"], blur=params["blur"], random_state=rng)
    truth["params"] = params
    return volume, truth


def shell_family(random_state: int | None = None, shape: tuple[int, int, int] = (8, 96, 96),
                 *, n_layers: Any = (2, 4), thickness: Any = (6.0, 12.0),
                 porosity: Any = (0.0, 0.3), pore_size: Any = (0.7, 2.5),
                 contrast: Any = (0.0, 0.3), alternating: bool | None = None,
                 inner_radius: Any = (6.0, 12.0), noise: Any = (0.02, 0.15), blur: Any = 0.0
                 ) -> tuple[np.ndarray, dict[str, Any]]:
    """A random member of the family of closed (wrapped) porous shells around the z axis.

    The drawn values are passed to :func:`concentric_shells`, with the axis off the middle by
    up to 2 voxels; the layers are thinned evenly if they would not fit into ``shape``.
    {family}
    Parameters
    ----------
    random_state : int, optional
        Seed.
    shape : (3,) tuple of int, optional
        Volume shape ``(z, y, x)``.
    n_layers, thickness, porosity, pore_size, contrast, alternating, noise, blur : optional
        As in :func:`layer_family` (``thickness`` is radial).
    inner_radius : float or (float, float), optional
        Radius of the innermost surface (voxels).

    Returns
    -------
    volume : (Z, Y, X) float32 ndarray
    truth : dict
        As :func:`concentric_shells`, plus ``params``.

    Examples
    --------
    >>> volume, truth = shell_family(random_state=0, shape=(4, 64, 64))
    >>> volume.shape, len(truth["radii"]) == len(truth["thickness"]) + 1
    ((4, 64, 64), True)
    """
    rng = np.random.default_rng(random_state)
    params = _draw_layers(rng, n_layers, thickness, porosity, pore_size, contrast, alternating,
                          noise, blur)
    params["inner_radius"] = draw(rng, inner_radius, "inner_radius")
    params["center"] = (np.array(shape[1:], dtype=float) - 1) / 2 + rng.uniform(-2, 2, 2)
    room = min(shape[1:]) / 2 - 5.0 - params["inner_radius"]
    total = params["thicknesses"].sum()
    if total > room:
        params["thicknesses"] = params["thicknesses"] * (room / total)
    volume, truth = concentric_shells(
        shape, params["thicknesses"], params["porosities"], inner_radius=params["inner_radius"],
        center=params["center"], pore_size=params["pore_size"], greys=params["greys"],
        noise=params["noise"], blur=params["blur"], random_state=rng)
    truth["params"] = params
    return volume, truth


layer_family.__doc__ = layer_family.__doc__.replace("{family}", _FAMILY_DOC)
shell_family.__doc__ = shell_family.__doc__.replace("{family}", _FAMILY_DOC)


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
