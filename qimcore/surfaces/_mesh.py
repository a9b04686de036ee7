"""Triangle meshes: spheres, marching cubes, vertex normals, meshes of heights on a grid."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage as ndi

from .. import _units, _validate

__all__ = ["heights_to_mesh", "mask_mesh", "mesh_normals", "sphere_mesh"]


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


def _lattice_mesh(coords: np.ndarray, voxel_size: Any, *, wrap: bool = False,
                  flip: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Mesh of ``(..., rows, cols, 3)`` lattice points: one sheet per leading index.

    Two triangles per cell, ``(a, c, b)`` and ``(b, c, d)`` with ``a = (i, j)``,
    ``b = (i, j + 1)``, ``c = (i + 1, j)``, ``d = (i + 1, j + 1)`` (``flip`` reverses them);
    ``wrap`` also joins column ``cols - 1`` to column 0 (a tube).
    """
    ny, nx = coords.shape[-3:-1]
    if ny < 2 or nx < 2:
        raise ValueError(f"heights needs at least 2 x 2 columns per surface, got "
                         f"{coords.shape[:-1]}")
    sheets = coords.reshape(-1, ny * nx, 3)
    scale = np.asarray(_units.voxel_size(voxel_size, 3), dtype=np.float32)
    idx = np.arange(ny * nx).reshape(ny, nx)
    if wrap:
        idx = np.concatenate([idx, idx[:, :1]], axis=1)
    a, b = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel()      # (i, j), (i, j + 1)
    c, d = idx[1:, :-1].ravel(), idx[1:, 1:].ravel()        # (i + 1, j), (i + 1, j + 1)
    cell = np.concatenate([np.stack([a, c, b], 1), np.stack([b, c, d], 1)])
    cell = cell.reshape(2, -1, 3).transpose(1, 0, 2).reshape(-1, 3)
    if flip:
        cell = cell[:, ::-1]
    faces = np.concatenate([cell + i * ny * nx for i in range(len(sheets))]).astype(np.int64)
    verts = sheets.reshape(-1, 3).astype(np.float32)
    return (verts * scale).astype(np.float32), faces


def heights_to_mesh(heights: Any, voxel_size: Any = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Triangle mesh of a height-map surface ``z = heights[y, x]``.

    One vertex per column ``(heights[y, x], y, x)`` and two triangles per grid cell, oriented
    so that the normals point towards +z (right-hand rule on ``(z, y, x)`` coordinates).

    Parameters
    ----------
    heights : (Y, X) or (n_surfaces, Y, X) ndarray
        Surface heights (voxels along z), as from :func:`qimcore.surfaces.detect_surfaces`
        on a ``(Z, Y, X)`` cost; several surfaces become one mesh (vertices of surface ``i``
        follow those of surface ``i - 1``).
    voxel_size : float or (z, y, x) floats
        Scales the vertices (micrometres); 1 keeps voxel units.

    Returns
    -------
    vertices : (n_surfaces * Y * X, 3) float32 ndarray
        ``(z, y, x)`` coordinates.
    faces : (n_surfaces * 2 * (Y - 1) * (X - 1), 3) int64 ndarray
        Vertex indices of each triangle.

    See Also
    --------
    HeightGrid.mesh, PolarGrid.mesh, CurveNormalGrid.mesh : meshes of other grids.

    Examples
    --------
    >>> v, f = heights_to_mesh(np.array([[1, 1], [1, 2]]))
    >>> v.tolist()
    [[1.0, 0.0, 0.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0], [2.0, 1.0, 1.0]]
    >>> f.tolist()
    [[0, 2, 1], [1, 2, 3]]
    """
    h = _validate.array(heights, "heights", ndim=(2, 3), allow_dask=False)
    h = np.asarray(h if h.ndim == 3 else h[None], np.float32)
    yy, xx = np.mgrid[:h.shape[1], :h.shape[2]].astype(np.float32)
    coords = np.stack([h, np.broadcast_to(yy, h.shape), np.broadcast_to(xx, h.shape)], axis=-1)
    return _lattice_mesh(coords, voxel_size)
