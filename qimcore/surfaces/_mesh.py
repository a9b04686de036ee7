"""Closed 3D surfaces: refine a triangle mesh along its vertex normals by one minimum cut."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from .. import _validate
from ._graph import _solve_band

__all__ = ["deform_mesh", "mask_mesh", "mesh_normals", "sphere_mesh"]


def sphere_mesh(center: Any, radius: float, subdivisions: int = 2
                ) -> tuple[np.ndarray, np.ndarray]:
    """Icosphere: a closed, evenly meshed sphere to start :func:`deform_mesh` from.

    Parameters
    ----------
    center : (3,) array_like of float
        ``(z, y, x)`` centre in voxels.
    radius : float
        Radius in voxels (> 0).
    subdivisions : int
        Times each triangle of the icosahedron is split in four (0: 12 vertices, 2: 162).

    Returns
    -------
    vertices : (V, 3) ndarray of float64
        ``(z, y, x)`` positions in voxels, ``V = 10 * 4**subdivisions + 2``.
    faces : (F, 3) ndarray of int64
        Vertex indices of each triangle, ordered so that :func:`mesh_normals` point outwards.

    Examples
    --------
    >>> vertices, faces = sphere_mesh((10, 10, 10), 5, subdivisions=1)
    >>> vertices.shape, faces.shape
    ((42, 3), (80, 3))
    >>> bool(np.allclose(np.linalg.norm(vertices - 10, axis=1), 5))
    True
    """
    c = np.asarray(_validate.array(center, "center", ndim=1, allow_dask=False), np.float64)
    if c.shape != (3,):
        raise ValueError(f"center must be (z, y, x), shape (3,); got shape {c.shape}")
    radius = _validate.positive(radius, "radius")
    subdivisions = _validate.positive(subdivisions, "subdivisions", integer=True,
                                      allow_zero=True)
    t = (1 + 5 ** 0.5) / 2
    verts = [(-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0), (0, -1, t), (0, 1, t),
             (0, -1, -t), (0, 1, -t), (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1)]
    faces = [(0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9), (5, 11, 4),
             (11, 10, 2), (10, 7, 6), (7, 1, 8), (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8),
             (3, 8, 9), (4, 9, 5), (2, 4, 11), (6, 2, 10), (8, 6, 7), (9, 8, 1)]
    v = np.array(verts, np.float64)
    f = np.array(faces, np.int64)
    for _ in range(subdivisions):
        edges = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
        unique, inverse = np.unique(edges, axis=0, return_inverse=True)
        mid = len(v) + inverse.reshape(3, -1)               # midpoints of edges 01, 12, 20
        v = np.concatenate([v, (v[unique[:, 0]] + v[unique[:, 1]]) / 2])
        a, b, c_ = f.T
        m01, m12, m20 = mid
        f = np.concatenate([np.stack(t_, axis=1) for t_ in
                            ((a, m01, m20), (b, m12, m01), (c_, m20, m12), (m01, m12, m20))])
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    if np.mean(np.sum(mesh_normals(v, f) * v, axis=1)) < 0:
        f = f[:, ::-1]
    return c + radius * v, np.ascontiguousarray(f)


def mask_mesh(mask: Any, *, level: float = 0.5, step_size: int = 1
              ) -> tuple[np.ndarray, np.ndarray]:
    """Initial mesh from a rough segmentation: marching cubes of a 3D mask.

    Parameters
    ----------
    mask : (Z, Y, X) array_like of bool or float
        Rough segmentation (inside > ``level``), e.g. a thresholded volume.
    level : float
        Iso-level of the surface.
    step_size : int
        Marching-cubes step in voxels (larger: coarser mesh).

    Returns
    -------
    vertices : (V, 3) ndarray of float64
        ``(z, y, x)`` positions in voxels.
    faces : (F, 3) ndarray of int64
        Triangles, ordered so that :func:`mesh_normals` point out of the mask.

    Examples
    --------
    >>> z, y, x = np.ogrid[:16, :16, :16]
    >>> ball = (z - 8) ** 2 + (y - 8) ** 2 + (x - 8) ** 2 < 25
    >>> vertices, faces = mask_mesh(ball)
    >>> bool(np.all(np.abs(np.linalg.norm(vertices - 8, axis=1) - 5) < 1))
    True
    """
    from skimage.measure import marching_cubes

    m = np.asarray(_validate.array(mask, "mask", ndim=3, allow_dask=False), np.float32)
    if not (m.min() < level < m.max()):
        raise ValueError(f"mask must have values on both sides of level={level!r}")
    step_size = _validate.positive(step_size, "step_size", integer=True)
    vertices, faces, _, _ = marching_cubes(np.pad(m, 1), level=level, step_size=step_size)
    vertices = vertices.astype(np.float64) - 1
    faces = faces.astype(np.int64)
    inside = ndi.map_coordinates(m, (vertices - mesh_normals(vertices, faces)).T, order=1,
                                 mode="nearest")
    if np.mean(inside) < level:
        faces = faces[:, ::-1]
    return vertices, np.ascontiguousarray(faces)


def _mesh(vertices: Any, faces: Any) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(_validate.array(vertices, "vertices", ndim=2, allow_dask=False), np.float64)
    if v.shape[1] != 3:
        raise ValueError(f"vertices must be (V, 3) (z, y, x); got shape {v.shape}")
    f = np.asarray(faces)
    if f.ndim != 2 or f.shape[1] != 3 or not np.issubdtype(f.dtype, np.integer):
        raise ValueError(f"faces must be an (F, 3) integer array; got {f.dtype} {f.shape}")
    if f.size and (f.min() < 0 or f.max() >= len(v)):
        raise ValueError(f"faces must index vertices 0..{len(v) - 1}")
    return v, f.astype(np.int64)


def mesh_normals(vertices: Any, faces: Any) -> np.ndarray:
    """Unit vertex normals: area-weighted mean of the adjacent face normals.

    Parameters
    ----------
    vertices : (V, 3) array_like of float
        ``(z, y, x)`` positions in voxels.
    faces : (F, 3) array_like of int
        Triangles; the normal of face ``(a, b, c)`` is ``(b - a) x (c - a)``.

    Returns
    -------
    normals : (V, 3) ndarray of float64
        Unit ``(z, y, x)`` vectors (zero for vertices in no face).

    Examples
    --------
    >>> v = np.array([[0.0, 0, 0], [0, 1, 0], [0, 0, 1]])
    >>> mesh_normals(v, [[0, 1, 2]]).tolist()[0]
    [1.0, 0.0, 0.0]
    """
    v, f = _mesh(vertices, faces)
    face = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    normals = np.zeros_like(v)
    for k in range(3):
        np.add.at(normals, f[:, k], face)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return np.divide(normals, length, out=np.zeros_like(normals), where=length > 0)


def _edges(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]),
                    axis=1)
    unique = np.unique(edges, axis=0)
    return unique[:, 0], unique[:, 1]


def _cost(volume: np.ndarray, points: np.ndarray, offsets: np.ndarray,
          cost: str | Callable[[np.ndarray], Any]) -> np.ndarray:
    samples = ndi.map_coordinates(volume, np.moveaxis(points, -1, 0), order=1, mode="nearest")
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
    same optimal-net construction as :func:`detect_surfaces` on the mesh graph. Each of the
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
    >>> z, y, x = np.ogrid[:30, :30, :30]
    >>> volume = ((z - 15) ** 2 + (y - 15) ** 2 + (x - 15) ** 2 < 81).astype(float)
    >>> vertices, faces = sphere_mesh((15, 15, 15), 6, subdivisions=2)
    >>> moved = deform_mesh(volume, vertices, faces, np.arange(-2, 6, 0.5))
    >>> round(float(np.linalg.norm(moved - 15, axis=1).mean()))   # the ball's radius
    9
    """
    vol = np.asarray(_validate.array(volume, "volume", ndim=3, allow_dask=False), np.float32)
    v, f = _mesh(vertices, faces)
    steps = np.asarray(_validate.array(offsets, "offsets", ndim=1, allow_dask=False),
                       np.float64)
    if steps.size < 2 or np.any(np.diff(steps) <= 0):
        raise ValueError("offsets must be at least 2 strictly ascending distances")
    delta = _validate.positive(delta, "delta", integer=True, allow_zero=True)
    iterations = _validate.positive(iterations, "iterations", integer=True)
    given = None
    if isinstance(cost, str):
        _validate.choice(cost, "cost", ("gradient", "absolute"))
    elif not callable(cost):
        given = np.asarray(_validate.array(cost, "cost", ndim=2, allow_dask=False), np.float64)
        if given.shape != (steps.size, len(v)):
            raise ValueError(f"cost array must have shape {(steps.size, len(v))} "
                             f"(len(offsets), V); got {given.shape}")
        if iterations != 1:
            raise ValueError("a cost array only allows iterations=1 (use a callable)")
    pairs = [(*_edges(f), delta)]
    lower = np.zeros((1, len(v)), np.int64)
    for _ in range(iterations):
        normals = mesh_normals(v, f)
        points = v[None] + steps[:, None, None] * normals[None]          # (K, V, 3)
        c = given if given is not None else _cost(vol, points, steps, cost)
        k = _solve_band([c], lower, pairs, 0, None)
        v = points[k[0], np.arange(len(v))]
    return v
