"""Surface meshes: our own small writers and readers for binary STL, ASCII PLY and legacy VTK.

STL, PLY and VTK store points as (x, y, z); qimcore uses (z, y, x). The writers reverse the
vertex columns and the readers reverse them back, so a round trip returns (z, y, x). Reversing
the axes mirrors the right-hand rule, so the writers also store each triangle as (a, c, b) and
the readers swap back: a normal pointing outwards in (z, y, x) still points outwards in the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .. import _validate
from ._common import as_path, existing, suffix

_STL_RECORD = np.dtype([("normal", "<f4", 3), ("points", "<f4", (3, 3)), ("attr", "<u2")])
_FORMATS = (".stl", ".ply", ".vtk")


def save_mesh(path: str | os.PathLike, vertices: Any, faces: Any) -> Path:
    """Write a triangle mesh as binary STL, ASCII PLY or legacy ASCII VTK (by extension).

    The files store points as (x, y, z), so the ``vertices`` columns are written reversed;
    :func:`load_mesh` reverses them back to (z, y, x). Each triangle ``(a, b, c)`` is stored as
    ``(a, c, b)``, so that the right-hand-rule normal that points outwards in (z, y, x) also
    points outwards in the file's (x, y, z) (STL normals are written that way too).

    Parameters
    ----------
    path : str or os.PathLike
        Target ending in ``.stl``, ``.ply`` or ``.vtk``.
    vertices : (n, 3) array of float
        Vertex coordinates (z, y, x) in the caller's units (voxels or micrometres).
        STL keeps float32 precision; PLY and VTK keep float64.
    faces : (m, 3) array of int
        Triangles as indices into ``vertices``.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        For an unknown extension, wrong shapes, non-finite vertices or out-of-range faces.
    TypeError
        For non-numeric ``vertices`` or non-integer ``faces``.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "tri.ply"
    >>> _ = save_mesh(target, [[0, 0, 0], [0, 1, 0], [0, 0, 1]], [[0, 1, 2]])
    >>> v, f = load_mesh(target)
    >>> v.tolist(), f.tolist()
    ([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], [[0, 1, 2]])
    """
    target = as_path(path)
    ext = suffix(target)
    if ext not in _FORMATS:
        raise ValueError(f"path {str(target)!r} has an unknown mesh extension {ext!r}; "
                         f"use one of {_FORMATS}")
    verts = _validate.array(vertices, "vertices", ndim=2, allow_dask=False).astype(np.float64)
    if verts.shape[1] != 3:
        raise ValueError(f"vertices must have shape (n, 3), got {verts.shape}")
    tris = _validate.array(faces, "faces", ndim=2, allow_dask=False)
    if not np.issubdtype(tris.dtype, np.integer) or tris.shape[1] != 3:
        raise TypeError(f"faces must be an (m, 3) integer array, got {tris.dtype} {tris.shape}")
    if tris.min() < 0 or tris.max() >= len(verts):
        raise ValueError(f"faces must index vertices 0..{len(verts) - 1}, "
                         f"got values in [{tris.min()}, {tris.max()}]")
    writer = {".stl": _write_stl, ".ply": _write_ply, ".vtk": _write_vtk}[ext]
    writer(target, verts[:, ::-1], tris[:, [0, 2, 1]])
    return target


def load_mesh(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read a mesh written by :func:`save_mesh` (or another binary STL / ASCII PLY / VTK file).

    Parameters
    ----------
    path : str or os.PathLike
        A ``.stl``, ``.ply`` or ``.vtk`` file.

    Returns
    -------
    vertices : (n, 3) ndarray of float64
        (z, y, x) coordinates (the files' x, y, z columns reversed). STL stores each triangle's
        corners, so its shared corners are merged and the vertices come back sorted.
    faces : (m, 3) ndarray of int64
        Triangles as vertex indices, file triangles ``(a, c, b)`` returned as ``(a, b, c)``.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        For an unknown extension or a file that does not parse.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "tri.stl"
    >>> _ = save_mesh(target, [[0, 0, 0], [0, 1, 0], [0, 0, 1]], [[0, 1, 2]])
    >>> v, f = load_mesh(target)
    >>> v[f[0]].tolist()   # the triangle's corners, back in (z, y, x)
    [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    source = existing(as_path(path))
    ext = suffix(source)
    if ext not in _FORMATS:
        raise ValueError(f"path {str(source)!r} has an unknown mesh extension {ext!r}; "
                         f"use one of {_FORMATS}")
    try:
        xyz, faces = {".stl": _read_stl, ".ply": _read_ply, ".vtk": _read_vtk}[ext](source)
    except (ValueError, IndexError, KeyError) as err:
        raise ValueError(f"path {str(source)!r} is not a readable {ext} mesh: {err}") from err
    zyx = np.ascontiguousarray(xyz[:, ::-1], dtype=np.float64)
    return zyx, np.ascontiguousarray(faces[:, [0, 2, 1]], dtype=np.int64)


def _write_stl(p: Path, xyz: np.ndarray, faces: np.ndarray) -> None:
    records = np.zeros(len(faces), _STL_RECORD)
    tri = xyz[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    length = np.linalg.norm(normal, axis=1, keepdims=True)
    records["normal"] = np.divide(normal, length, out=np.zeros_like(normal), where=length > 0)
    records["points"] = tri
    with open(p, "wb") as f:
        f.write(b"qimcore binary STL, x y z".ljust(80, b" "))
        f.write(np.uint32(len(faces)).tobytes())
        f.write(records.tobytes())


def _read_stl(p: Path) -> tuple[np.ndarray, np.ndarray]:
    data = p.read_bytes()
    n = int(np.frombuffer(data, "<u4", count=1, offset=80)[0])
    if len(data) != 84 + n * _STL_RECORD.itemsize:
        raise ValueError(f"binary STL with {n} triangles must have {84 + n * 50} bytes")
    corners = np.frombuffer(data, _STL_RECORD, count=n, offset=84)["points"].reshape(-1, 3)
    xyz, inverse = np.unique(corners.astype(np.float64), axis=0, return_inverse=True)
    return xyz, inverse.reshape(-1, 3)


def _write_ply(p: Path, xyz: np.ndarray, faces: np.ndarray) -> None:
    header = ("ply\nformat ascii 1.0\ncomment qimcore mesh, x y z\n"
              f"element vertex {len(xyz)}\nproperty double x\nproperty double y\n"
              f"property double z\nelement face {len(faces)}\n"
              "property list uchar int vertex_indices\nend_header\n")
    with open(p, "w") as f:
        f.write(header)
        np.savetxt(f, xyz, fmt="%.17g")
        np.savetxt(f, np.column_stack([np.full(len(faces), 3), faces]), fmt="%d")


def _read_ply(p: Path) -> tuple[np.ndarray, np.ndarray]:
    lines = p.read_text().splitlines()
    if not lines or lines[0].strip() != "ply" or "format ascii" not in lines[1]:
        raise ValueError("only ASCII PLY is supported")
    end = lines.index("end_header")
    counts = {ln.split()[1]: int(ln.split()[2]) for ln in lines[:end] if ln.startswith("element")}
    n, m = counts["vertex"], counts["face"]
    xyz = np.array([ln.split()[:3] for ln in lines[end + 1:end + 1 + n]], dtype=np.float64)
    faces = np.array([ln.split()[1:4] for ln in lines[end + 1 + n:end + 1 + n + m]], dtype=np.int64)
    return xyz.reshape(n, 3), faces.reshape(m, 3)


def _write_vtk(p: Path, xyz: np.ndarray, faces: np.ndarray) -> None:
    with open(p, "w") as f:
        f.write(f"# vtk DataFile Version 3.0\nqimcore mesh, x y z\nASCII\nDATASET POLYDATA\n"
                f"POINTS {len(xyz)} double\n")
        np.savetxt(f, xyz, fmt="%.17g")
        f.write(f"POLYGONS {len(faces)} {4 * len(faces)}\n")
        np.savetxt(f, np.column_stack([np.full(len(faces), 3), faces]), fmt="%d")


def _read_vtk(p: Path) -> tuple[np.ndarray, np.ndarray]:
    tokens = p.read_text().split()
    at = tokens.index("POINTS")
    n = int(tokens[at + 1])
    xyz = np.array(tokens[at + 3:at + 3 + 3 * n], dtype=np.float64).reshape(n, 3)
    at = tokens.index("POLYGONS")
    m = int(tokens[at + 1])
    cells = np.array(tokens[at + 3:at + 3 + 4 * m], dtype=np.int64).reshape(m, 4)
    if (cells[:, 0] != 3).any():
        raise ValueError("only triangle POLYGONS are supported")
    return xyz, cells[:, 1:]
