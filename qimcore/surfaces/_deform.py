"""Refine a closed triangle mesh along its vertex normals by one minimum cut."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import _validate
from ._grids import MeshNormalGrid

__all__ = ["deform_mesh"]


def _cost(samples: np.ndarray, offsets: np.ndarray,
          cost: str | Callable[[np.ndarray], Any]) -> np.ndarray:
    if callable(cost):
        values = np.asarray(cost(samples), np.float64)
        if values.shape != samples.shape:
            raise ValueError(f"cost callable must return shape {samples.shape} (offsets, V); "
                             f"got {values.shape}")
        return values
    slope = np.gradient(samples.astype(np.float64), offsets, axis=0)
    return slope if cost == "gradient" else -np.abs(slope)


def deform_mesh(volume: Any, vertices: Any, faces: Any, offsets: Any, delta: int = 1,
                cost: str | Callable[[np.ndarray], Any] | Any = "gradient",
                iterations: int = 1) -> np.ndarray:
    """Refine a closed surface mesh along its vertex normals: exact minimum cut on the mesh.

    Every vertex ``v`` may move to ``v + offsets[k] * n(v)`` along its unit outward normal
    ``n(v)`` (:func:`mesh_normals`); the choice ``k(v)`` of all vertices minimises the total
    cost subject to ``|k(v) - k(w)| <= delta`` for mesh-adjacent ``v, w``, exactly, by the
    same optimal-net construction as :func:`detect_surfaces` on the mesh graph
    (:class:`MeshNormalGrid`). Each of the
    ``iterations`` recomputes the normals and samples of the moved mesh.

    Parameters
    ----------
    volume : (Z, Y, X) array_like
        Volume, sampled trilinearly (nearest edge value outside).
    vertices : (V, 3) array_like of float
        ``(z, y, x)`` vertex positions in voxels of a closed mesh (:func:`sphere_mesh`,
        :func:`mask_mesh`).
    faces : (F, 3) array_like of int
        Triangles, ordered so that :func:`mesh_normals` point outwards.
    offsets : (K,) array_like of float
        Ascending signed distances along the normal, in voxels (negative: inwards).
    delta : int
        Largest difference in offset index ``k`` between adjacent vertices.
    cost : {"gradient", "absolute"}, callable or (K, V) array_like
        ``"gradient"``: the derivative of the intensity along the outward normal, so a bright
        object on a dark background (intensity falling outwards) is cheapest at its edge;
        use ``-volume`` for a dark object. ``"absolute"``: minus its absolute value (any
        edge). A callable gets the ``(K, V)`` samples and returns ``(K, V)`` costs. An array
        is the ``(K, V)`` cost itself (only with ``iterations=1``).
    iterations : int
        Number of sample-and-solve rounds.

    Returns
    -------
    vertices : (V, 3) ndarray of float64
        The moved ``(z, y, x)`` vertices; ``faces`` are unchanged.

    Raises
    ------
    ValueError
        For bad shapes, non-ascending ``offsets``, an unknown ``cost`` name, a cost array
        with ``iterations > 1``, or negative ``delta``.

    See Also
    --------
    detect_surfaces : the same construction on grids of columns.

    Examples
    --------
    >>> from qimcore.surfaces import sphere_mesh
    >>> z, y, x = np.ogrid[:30, :30, :30]
    >>> volume = ((z - 15) ** 2 + (y - 15) ** 2 + (x - 15) ** 2 < 81).astype(float)
    >>> vertices, faces = sphere_mesh((15, 15, 15), 6, subdivisions=2)
    >>> moved = deform_mesh(volume, vertices, faces, np.arange(-2, 6, 0.5))
    >>> round(float(np.linalg.norm(moved - 15, axis=1).mean()))   # the ball's radius
    9
    """
    vol = np.asarray(_validate.array(volume, "volume", ndim=3, allow_dask=False), np.float32)
    grid = MeshNormalGrid(vertices, faces, offsets)
    delta = _validate.positive(delta, "delta", integer=True, allow_zero=True)
    iterations = _validate.positive(iterations, "iterations", integer=True)
    given = None
    if isinstance(cost, str):
        _validate.choice(cost, "cost", ("gradient", "absolute"))
    elif not callable(cost):
        given = np.asarray(_validate.array(cost, "cost", ndim=2, allow_dask=False), np.float64)
        if given.shape != grid.positions.shape[:2]:
            raise ValueError(f"cost array must have shape {grid.positions.shape[:2]} "
                             f"(len(offsets), V); got {given.shape}")
        if iterations != 1:
            raise ValueError("a cost array only allows iterations=1 (use a callable)")
    for _ in range(iterations):
        c = given if given is not None else _cost(grid.sample(vol), grid.offsets, cost)
        v = grid.points(grid.detect(c, delta))
        grid = MeshNormalGrid(v, grid.faces, grid.offsets)
    return grid.vertices
