"""Grids on which :func:`detect_surfaces` searches: terrain, polar, curve-normal, mesh-normal.

Every grid has ``K`` depth samples per column and the same four methods:

- ``sample(image)``: the image resampled on the grid, depth first, ``(K,) + S`` (``S`` the
  columns), ready for a cost builder (:func:`edge_cost`, :func:`region_cost`, ...);
- ``points(heights)``: heights (indices into the depth samples, fractional ones interpolated)
  to positions in the image (voxels);
- ``heights(points)``: the inverse, positions back to fractional heights;
- ``mesh(heights)``: a triangle mesh of 3D surfaces (``vertices``, ``faces``).

``positions`` holds the position of every sample, ``wrap`` the cyclic column axes to pass
to :func:`detect_surfaces`. A surface at height ``h`` found on an :func:`edge_cost` lies
between samples ``h - 1`` and ``h``: ``points(h - 0.5)`` is the edge itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage as ndi

from .. import _validate
from ._curves import _angles, curve_normals, polar_radii, polygon_area
from ._graph import _solve_band
from ._mesh import _edges, _lattice_mesh, _mesh, heights_to_mesh, mesh_normals

__all__ = ["CurveNormalGrid", "HeightGrid", "MeshNormalGrid", "PolarGrid", "heights_to_labels"]


def _vector(values: Any, name: str) -> np.ndarray:
    return np.asarray(_validate.array(values, name, ndim=1, allow_dask=False), np.float64)


def _ascending(values: Any, name: str) -> np.ndarray:
    v = _vector(values, name)
    if np.any(np.diff(v) <= 0):
        raise ValueError(f"{name} must be strictly ascending (a depth axis)")
    return v


def _image(image: Any) -> np.ndarray:
    img = _validate.array(image, "image", ndim=(2, 3), allow_dask=False)
    return np.asarray(img, np.float32)


def _sample(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear samples of a 2D image or 3D volume at ``(Z,) + (..., 2)`` (y, x) points."""
    coords = np.moveaxis(points, -1, 0)
    if image.ndim == 3:
        z = np.arange(image.shape[0]).reshape((-1,) + (1,) * (points.ndim - 2))
        coords = np.concatenate([np.broadcast_to(z, points.shape[:-1])[None], coords])
    return ndi.map_coordinates(image, coords, order=1, mode="nearest", output=np.float32)


def _height_values(heights: Any, grid: np.ndarray, name: str) -> np.ndarray:
    """Map (possibly fractional) indices into ``grid`` to grid values, linearly."""
    h = np.asarray(_validate.array(heights, "heights", allow_dask=False), np.float64)
    if h.min() < 0 or h.max() > len(grid) - 1:
        raise ValueError(f"heights must index {name}: 0 <= heights <= {len(grid) - 1}; "
                         f"got range [{h.min()}, {h.max()}]")
    return np.interp(h, np.arange(len(grid)), grid)


def _indices(values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Fractional indices of ``values`` into the ascending ``grid`` (clamped to its ends)."""
    return np.interp(values, grid, np.arange(len(grid), dtype=np.float64))


def _slices(z: Any, n: int) -> np.ndarray:
    if z is None:
        return np.arange(n, dtype=np.float64)
    zs = _vector(z, "z")
    if zs.shape != (n,):
        raise ValueError(f"z must hold one position per slice, shape ({n},); got {zs.shape}")
    return zs


def _tube(curves: np.ndarray, z: Any, voxel_size: Any, flip: bool
          ) -> tuple[np.ndarray, np.ndarray]:
    """Mesh of ``(..., Z, n, 2)`` closed curves stacked along ``z`` (one tube per leading index)."""
    if curves.ndim not in (3, 4):
        raise ValueError(f"heights must be (Z, n) or (n_surfaces, Z, n) for a mesh of tubes; "
                         f"got shape {curves.shape[:-1]}")
    zs = _slices(z, curves.shape[-3])
    zz = np.broadcast_to(zs[:, None, None], curves.shape[:-1] + (1,))
    return _lattice_mesh(np.concatenate([zz, curves], axis=-1), voxel_size, wrap=True,
                         flip=flip)


def heights_to_labels(heights: Any, depth: int) -> np.ndarray:
    """Region of every sample between ordered surfaces: the segmentation they make.

    Sample ``(z, p)`` gets the number of surfaces with ``heights[i][p] <= z``: 0 below the
    first surface, ``k`` between surfaces ``k - 1`` and ``k``, the region convention of
    :func:`detect_surfaces` (a surface sample belongs to the region above it).

    Parameters
    ----------
    heights : (n_surfaces,) + S array_like of int
        Surfaces on any grid, e.g. from :func:`detect_surfaces`.
    depth : int
        Number of depth samples ``K`` (the cost's axis 0).

    Returns
    -------
    labels : (K,) + S ndarray of the smallest unsigned int holding ``n_surfaces``

    Examples
    --------
    >>> heights_to_labels([[1, 2], [3, 3]], 4).T.tolist()
    [[0, 1, 1, 2], [0, 0, 1, 2]]
    """
    h = np.asarray(_validate.array(heights, "heights", allow_dask=False))
    if h.ndim < 2 or not np.issubdtype(h.dtype, np.integer):
        raise ValueError(f"heights must be an integer array (n_surfaces,) + S; got {h.dtype} "
                         f"{h.shape}")
    depth = _validate.positive(depth, "depth", integer=True)
    z = np.arange(depth).reshape((-1,) + (1,) * (h.ndim - 1))
    labels = np.zeros((depth,) + h.shape[1:], np.min_scalar_type(len(h)))
    for surface in h:
        labels += z >= surface
    return labels


class HeightGrid:
    """Terrain: surfaces ``z = h(y, x)`` of a ``(Z, Y, X)`` volume, curves ``z = h(x)`` of an image.

    Each column ``(y, x)`` is searched along ``z`` at the depths ``depths`` (linear
    interpolation between slices).

    Parameters
    ----------
    shape : (Z, Y, X) or (Z, X) tuple of int
        Shape of the volume or image; axis 0 is the depth.
    depths : (K,) array_like of float, optional
        Ascending ``z`` positions (voxels) of the depth samples; default ``0, 1, ..., Z - 1``
        (the volume itself, no resampling).

    Attributes
    ----------
    shape : tuple of int
    depths : (K,) ndarray of float64
    wrap : tuple
        ``()``: no cyclic axis.

    Examples
    --------
    >>> from qimcore.surfaces import detect_surfaces, edge_cost
    >>> volume = np.zeros((6, 3, 4)); volume[4:] = 1
    >>> grid = HeightGrid(volume.shape)
    >>> h = detect_surfaces(edge_cost(grid.sample(volume), sigma=0), wrap=grid.wrap)[0]
    >>> np.unique(h).tolist(), grid.points(h)[1, 2].tolist()
    ([4], [4.0, 1.0, 2.0])
    >>> vertices, faces = grid.mesh(h)
    >>> vertices.shape, faces.shape
    ((12, 3), (12, 3))
    """

    wrap: tuple[int, ...] = ()

    def __init__(self, shape: tuple[int, ...], depths: Any = None) -> None:
        if len(shape) not in (2, 3) or not all(isinstance(s, int | np.integer) and s > 0
                                               for s in shape):
            raise ValueError(f"shape must be (Z, Y, X) or (Z, X) positive ints; got {shape!r}")
        self.shape = tuple(int(s) for s in shape)
        self.depths = (np.arange(self.shape[0], dtype=np.float64) if depths is None
                       else _ascending(depths, "depths"))
        self._resample = depths is not None

    def _columns(self, a: np.ndarray, name: str, extra: int = 0) -> None:
        cols = self.shape[1:]
        if a.shape[a.ndim - extra - len(cols):a.ndim - extra] != cols:
            raise ValueError(f"{name} must end with the columns {cols} of the grid"
                             f"{' plus a coordinate axis' if extra else ''}; got shape {a.shape}")

    def sample(self, volume: Any) -> np.ndarray:
        """The volume at the grid's depths: ``(K,) + (Y, X)`` float32 (lazy for dask input)."""
        v = _validate.array(volume, "volume", ndim=len(self.shape))
        if v.shape != self.shape:
            raise ValueError(f"volume must have the grid's shape {self.shape}; got {v.shape}")
        if not self._resample:
            return v.astype(np.float32)
        z = np.clip(self.depths, 0, self.shape[0] - 1)
        lo = np.floor(z).astype(np.int64)
        hi = np.minimum(lo + 1, self.shape[0] - 1)
        w = (z - lo).astype(np.float32).reshape((-1,) + (1,) * (len(self.shape) - 1))
        return (v[lo].astype(np.float32) * (1 - w) + v[hi].astype(np.float32) * w)

    def points(self, heights: Any) -> np.ndarray:
        """``(..., Y, X)`` heights to ``(..., Y, X, 3)`` ``(z, y, x)`` points (``(z, x)`` in 2D)."""
        z = _height_values(heights, self.depths, "depths")
        self._columns(z, "heights")
        grid = np.meshgrid(*(np.arange(n, dtype=np.float64) for n in self.shape[1:]),
                           indexing="ij")
        cols = [np.broadcast_to(g, z.shape) for g in grid]
        return np.stack([z, *cols], axis=-1)

    def heights(self, points: Any) -> np.ndarray:
        """``(..., Y, X, 3)`` points (one per column) back to fractional heights ``(..., Y, X)``."""
        p = np.asarray(_validate.array(points, "points", allow_dask=False), np.float64)
        if p.shape[-1:] != (len(self.shape),):
            raise ValueError(f"points must have {len(self.shape)} coordinates on the last axis; "
                             f"got shape {p.shape}")
        self._columns(p, "points", extra=1)
        return _indices(p[..., 0], self.depths)

    def mesh(self, heights: Any, voxel_size: Any = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Triangle mesh of ``(Y, X)`` or ``(n_surfaces, Y, X)`` heights (see `heights_to_mesh`)."""
        if len(self.shape) != 3:
            raise ValueError("heights of a 2D grid are curves: a mesh needs a (Z, Y, X) grid")
        z = _height_values(heights, self.depths, "depths")
        self._columns(z, "heights")
        return heights_to_mesh(z, voxel_size)


class PolarGrid:
    """Rays from a centre (a centre line through slices): closed curves and tubes.

    Ray ``j`` has angle ``theta_j = 2 pi j / n_angles`` and visits
    ``(y, x) = center + r (sin theta_j, cos theta_j)`` for ``r`` in ``radii``
    (:func:`ray_directions`). Samples are bilinear, with the nearest edge value outside.

    Parameters
    ----------
    center : (2,) or (Z, 2) array_like of float
        ``(y, x)`` centre in pixels, or one per slice of a volume (a centre line).
    radii : (R,) array_like of float
        Distances from the centre in pixels, ascending (the depth axis).
    n_angles : int
        Number of rays (the cyclic column axis).

    Attributes
    ----------
    center, radii, n_angles, angles : the geometry (``angles`` in radians).
    directions : (n_angles, 2) ndarray
        Unit ``(y, x)`` ray directions.
    positions : (R, n_angles, 2) or (R, Z, n_angles, 2) ndarray
        ``(y, x)`` position of every sample.
    wrap : tuple
        The angle axis of the columns: ``(0,)`` for one centre, ``(1,)`` for a centre line.

    Examples
    --------
    >>> from qimcore.surfaces import detect_surfaces, edge_cost
    >>> yy, xx = np.mgrid[:21, :21]
    >>> disk = (np.hypot(yy - 10, xx - 10) < 6).astype(float)
    >>> grid = PolarGrid((10, 10), np.arange(10), 8)
    >>> cost = edge_cost(grid.sample(disk), sigma=0, polarity="bright-to-dark")
    >>> h = detect_surfaces(cost, wrap=grid.wrap)[0]
    >>> h.tolist()                       # the disk's edge at radius 5.5-6.5
    [6, 7, 6, 7, 6, 7, 6, 7]
    >>> np.round(grid.heights(grid.points(h)), 6).tolist() == h.tolist()
    True
    """

    def __init__(self, center: Any, radii: Any, n_angles: int) -> None:
        c = np.asarray(_validate.array(center, "center", ndim=(1, 2), allow_dask=False),
                       np.float64)
        if c.shape[-1] != 2:
            raise ValueError(f"center must be (y, x) with shape (2,) or (Z, 2); got shape "
                             f"{c.shape}")
        self.center = c
        self.radii = _vector(radii, "radii")
        self.angles = _angles(n_angles)
        self.n_angles = int(n_angles)
        self.directions = np.stack([np.sin(self.angles), np.cos(self.angles)], axis=-1)
        self.wrap = (c.ndim - 1,)

    @property
    def positions(self) -> np.ndarray:
        k = np.arange(len(self.radii), dtype=np.float64)
        shape = (len(k),) + self.center.shape[:-1] + (self.n_angles,)
        return self.points(np.broadcast_to(k.reshape((-1,) + (1,) * (len(shape) - 1)), shape))

    def sample(self, image: Any) -> np.ndarray:
        """``(R, n_angles)`` samples of an image, ``(R, Z, n_angles)`` of a volume (float32).

        A ``(2,)`` centre is used in every slice of a volume; a ``(Z, 2)`` one needs a volume
        of ``Z`` slices.
        """
        img = _image(image)
        ray = self.directions
        r = self.radii
        if img.ndim == 2:
            if self.center.ndim != 1:
                raise ValueError(f"center must be (2,) for an image; got shape "
                                 f"{self.center.shape}")
            return _sample(img, self.center + r[:, None, None] * ray)     # (R, A, 2)
        c = self.center
        if c.ndim == 2 and c.shape[0] != img.shape[0]:
            raise ValueError(f"center must be (y, x) with shape (2,) or ({img.shape[0]}, 2); "
                             f"got shape {c.shape}")
        c = np.broadcast_to(c, (img.shape[0], 2))
        points = c[:, None, None] + r[None, :, None, None] * ray           # (Z, R, A, 2)
        return np.moveaxis(_sample(img, points), 1, 0)

    def points(self, heights: Any) -> np.ndarray:
        """``(..., n_angles)`` heights to ``(..., n_angles, 2)`` ``(y, x)`` closed curves.

        For a ``(Z, 2)`` centre line the heights are ``(..., Z, n_angles)``.
        """
        r = _height_values(heights, self.radii, "radii")
        if r.shape[-1] != self.n_angles:
            raise ValueError(f"heights must have n_angles={self.n_angles} values on its last "
                             f"axis; got shape {r.shape}")
        c = self.center
        if c.ndim == 2 and (r.ndim < 2 or r.shape[-2] != c.shape[0]):
            raise ValueError(f"center must be (2,), or (Z, 2) for heights of shape (..., Z, "
                             f"n_angles); got center {c.shape} for heights {r.shape}")
        offset = np.stack([r * np.sin(self.angles), r * np.cos(self.angles)], axis=-1)
        return offset + (c if c.ndim == 1 else c[:, None, :])

    def heights(self, points: Any) -> np.ndarray:
        """Closed star-shaped ``(..., n, 2)`` curves (any ``n``) to ``(..., n_angles)`` heights.

        The curves' radii on the rays (:func:`polar_radii`) as fractional indices into
        ``radii``, clamped to ``[0, R - 1]``.
        """
        return _indices(polar_radii(points, self.center, self.n_angles), self.radii)

    def mesh(self, heights: Any, z: Any = None, voxel_size: Any = 1.0
             ) -> tuple[np.ndarray, np.ndarray]:
        """Tube mesh of ``(Z, n_angles)`` or ``(n_surfaces, Z, n_angles)`` heights.

        Vertices ``(z, y, x)`` (float32, scaled by ``voxel_size``) with ``z`` the slice
        positions (default ``0 .. Z - 1``); faces oriented towards larger radii.
        """
        return _tube(self.points(heights), z, voxel_size, flip=False)


class CurveNormalGrid:
    """Normals of a closed curve (one per slice for a tube): refine a curve in place.

    Column ``i`` visits ``curve[i] + d * n_i`` for ``d`` in ``offsets``, ``n_i`` the unit
    outward normal (:func:`curve_normals`). Samples are bilinear, nearest edge value outside.

    Parameters
    ----------
    curve : (n, 2) or (Z, n, 2) array_like of float
        Closed ``(y, x)`` curve in pixels (last point not repeated); one per slice for a volume.
    offsets : (K,) array_like of float
        Signed distances along the normal in pixels, ascending (negative = inside).

    Attributes
    ----------
    curve, offsets, normals : the geometry (``normals`` like ``curve``, unit outward).
    positions : (K, n, 2) or (K, Z, n, 2) ndarray
        ``(y, x)`` position of every sample.
    wrap : tuple
        The cyclic point axis of the columns: ``(0,)`` for a curve, ``(1,)`` for a tube.

    Examples
    --------
    >>> square = [[0, 0], [0, 2], [2, 2], [2, 0]]
    >>> grid = CurveNormalGrid(square, [0, np.sqrt(2)])
    >>> np.round(grid.points([1, 1, 1, 1]), 6).tolist()
    [[-1.0, -1.0], [-1.0, 3.0], [3.0, 3.0], [3.0, -1.0]]
    >>> grid.heights(grid.points([0, 1, 0, 1])).round(6).tolist()
    [0.0, 1.0, 0.0, 1.0]
    """

    def __init__(self, curve: Any, offsets: Any) -> None:
        self.normals = curve_normals(curve)
        self.curve = np.asarray(curve, np.float64)
        self.offsets = _vector(offsets, "offsets")
        self.wrap = (self.curve.ndim - 2,)

    @property
    def positions(self) -> np.ndarray:
        d = self.offsets.reshape((-1,) + (1,) * (self.curve.ndim - 1))
        return self.curve + d[..., None] * self.normals

    def sample(self, image: Any) -> np.ndarray:
        """``(K, n)`` samples of an image, ``(K, Z, n)`` of a volume with one curve per slice."""
        img = _image(image)
        c, normals, d = self.curve, self.normals, self.offsets
        if c.ndim != img.ndim or (img.ndim == 3 and c.shape[0] != img.shape[0]):
            raise ValueError(f"curve must be (n, 2) for an image or (Z, n, 2) for a volume of "
                             f"{img.shape[0] if img.ndim == 3 else 'Z'} slices; got {c.shape}")
        if img.ndim == 2:
            return _sample(img, c + d[:, None, None] * normals)              # (K, n, 2)
        points = c[:, None] + d[None, :, None, None] * normals[:, None]       # (Z, K, n, 2)
        return np.moveaxis(_sample(img, points), 1, 0)

    def points(self, heights: Any) -> np.ndarray:
        """``(..., n)`` heights (``(..., Z, n)`` for a tube) to ``(y, x)`` points."""
        d = _height_values(heights, self.offsets, "offsets")
        c = self.curve
        if d.shape[-c.ndim + 1:] != c.shape[:-1]:
            raise ValueError(f"heights must end with the curve's shape {c.shape[:-1]}; "
                             f"got {d.shape}")
        return c + d[..., None] * self.normals

    def heights(self, points: Any) -> np.ndarray:
        """Points of the grid's columns (e.g. from `points`) back to fractional heights.

        The offset of each point is its projection on its column's normal, as a
        fractional index into ``offsets`` (clamped to ``[0, K - 1]``).
        """
        p = np.asarray(_validate.array(points, "points", allow_dask=False), np.float64)
        if p.shape[p.ndim - self.curve.ndim:] != self.curve.shape:
            raise ValueError(f"points must end with the curve's shape {self.curve.shape}; "
                             f"got {p.shape}")
        return _indices(((p - self.curve) * self.normals).sum(-1), self.offsets)

    def mesh(self, heights: Any, z: Any = None, voxel_size: Any = 1.0
             ) -> tuple[np.ndarray, np.ndarray]:
        """Tube mesh of ``(Z, n)`` or ``(n_surfaces, Z, n)`` heights on a ``(Z, n, 2)`` curve.

        Vertices ``(z, y, x)`` (float32, scaled by ``voxel_size``) with ``z`` the slice
        positions (default ``0 .. Z - 1``); faces oriented outwards.
        """
        if self.curve.ndim != 3:
            raise ValueError("a mesh needs a (Z, n, 2) curve, one per slice")
        flip = bool(polygon_area(self.curve[0], signed=True) < 0)
        return _tube(self.points(heights), z, voxel_size, flip=flip)


class MeshNormalGrid:
    """Vertex normals of a closed triangle mesh: refine a 3D surface in place.

    Vertex ``v`` may move to ``v + d * n(v)`` for ``d`` in ``offsets``, ``n(v)`` its unit
    outward normal (:func:`mesh_normals`). The columns are the vertices; neighbouring columns
    are the mesh edges, so the cut runs on the mesh graph (`detect`) rather than on a grid.

    Parameters
    ----------
    vertices : (V, 3) array_like of float
        ``(z, y, x)`` positions in voxels of a closed mesh (:func:`sphere_mesh`,
        :func:`mask_mesh`).
    faces : (F, 3) array_like of int
        Triangles, ordered so that :func:`mesh_normals` point outwards.
    offsets : (K,) array_like of float
        Ascending signed distances along the normal in voxels (negative: inwards).

    Attributes
    ----------
    vertices, faces, offsets, normals : the geometry.
    positions : (K, V, 3) ndarray
        ``(z, y, x)`` position of every sample.

    Examples
    --------
    >>> from qimcore.surfaces import edge_cost, sphere_mesh
    >>> z, y, x = np.ogrid[:30, :30, :30]
    >>> ball = ((z - 15) ** 2 + (y - 15) ** 2 + (x - 15) ** 2 < 81).astype(float)
    >>> grid = MeshNormalGrid(*sphere_mesh((15, 15, 15), 6), np.arange(-2, 6, 0.5))
    >>> cost = edge_cost(grid.sample(ball), sigma=0, polarity="bright-to-dark")
    >>> vertices, faces = grid.mesh(grid.detect(cost) - 0.5)
    >>> round(float(np.linalg.norm(vertices - 15, axis=1).mean()))   # the ball's radius
    9
    """

    def __init__(self, vertices: Any, faces: Any, offsets: Any) -> None:
        self.vertices, self.faces = _mesh(vertices, faces)
        self.offsets = _ascending(offsets, "offsets")
        if self.offsets.size < 2:
            raise ValueError("offsets must be at least 2 strictly ascending distances")
        self.normals = mesh_normals(self.vertices, self.faces)

    @property
    def positions(self) -> np.ndarray:
        return self.vertices[None] + self.offsets[:, None, None] * self.normals[None]

    def sample(self, volume: Any) -> np.ndarray:
        """``(K, V)`` trilinear samples of a ``(Z, Y, X)`` volume (float32, nearest outside)."""
        vol = np.asarray(_validate.array(volume, "volume", ndim=3, allow_dask=False),
                         np.float32)
        return ndi.map_coordinates(vol, np.moveaxis(self.positions, -1, 0), order=1,
                                   mode="nearest")

    def points(self, heights: Any) -> np.ndarray:
        """``(..., V)`` heights to ``(..., V, 3)`` ``(z, y, x)`` vertex positions."""
        d = _height_values(heights, self.offsets, "offsets")
        if d.shape[-1:] != (len(self.vertices),):
            raise ValueError(f"heights must end with one value per vertex, "
                             f"{len(self.vertices)}; got shape {d.shape}")
        return self.vertices + d[..., None] * self.normals

    def heights(self, points: Any) -> np.ndarray:
        """``(..., V, 3)`` moved vertices back to fractional heights (projection on normals)."""
        p = np.asarray(_validate.array(points, "points", allow_dask=False), np.float64)
        if p.shape[-2:] != self.vertices.shape:
            raise ValueError(f"points must end with the vertices' shape {self.vertices.shape}; "
                             f"got {p.shape}")
        return _indices(((p - self.vertices) * self.normals).sum(-1), self.offsets)

    def mesh(self, heights: Any) -> tuple[np.ndarray, np.ndarray]:
        """The moved mesh: ``(points(heights), faces)`` (vertices float64)."""
        return self.points(heights), self.faces

    def detect(self, cost: Any, delta: int = 1) -> np.ndarray:
        """Cheapest surface on the mesh graph: exact minimum cut, like :func:`detect_surfaces`.

        Parameters
        ----------
        cost : (K, V) array_like of float
            Cost of vertex ``v`` at offset index ``k``.
        delta : int
            Largest difference in offset index between mesh-adjacent vertices.

        Returns
        -------
        heights : (V,) ndarray of int64
        """
        c = np.asarray(_validate.array(cost, "cost", ndim=2, allow_dask=False), np.float64)
        if c.shape != (len(self.offsets), len(self.vertices)):
            raise ValueError(f"cost array must have shape "
                             f"{(len(self.offsets), len(self.vertices))} (len(offsets), V); "
                             f"got {c.shape}")
        delta = _validate.positive(delta, "delta", integer=True, allow_zero=True)
        lower = np.zeros((1, len(self.vertices)), np.int64)
        return _solve_band([c], lower, [(*_edges(self.faces), delta)], 0, None)[0]
