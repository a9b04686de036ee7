"""Helpers shared by the readers and writers: paths, chunk sizes and shape checks."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import dask.array as da

#: Target chunk edge (voxels) per axis for "auto" chunks.
TARGET = {2: 1024, 3: 128}


def as_path(path: Any, name: str = "path") -> Path:
    """Return ``path`` as a :class:`~pathlib.Path`, rejecting non-path types."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike, got {type(path).__name__}")
    return Path(path)


def existing(path: Path) -> Path:
    """Raise ``FileNotFoundError`` naming ``path`` when it does not exist."""
    if not path.exists():
        raise FileNotFoundError(f"path {str(path)!r} does not exist")
    return path


def suffix(path: Path) -> str:
    """Lower-case extension, keeping double extensions ``.ome.zarr`` and ``.nii.gz``."""
    name = path.name.lower().rstrip("/")
    for double in (".ome.zarr", ".nii.gz"):
        if name.endswith(double):
            return double
    return Path(name).suffix


def natural_key(path: Path) -> list[Any]:
    """Sort key putting ``slice_9`` before ``slice_10``.

    Examples
    --------
    >>> sorted(["s10.tif", "s9.tif"], key=lambda p: natural_key(Path(p)))
    ['s9.tif', 's10.tif']
    """
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", Path(path).name)]


def check_ndim(shape: tuple[int, ...], where: str) -> None:
    """Raise ``ValueError`` unless ``shape`` is 2D or 3D; ``where`` names the source."""
    if len(shape) not in (2, 3):
        raise ValueError(f"{where} holds a {len(shape)}D array of shape {shape}; "
                         "qimcore needs a 2D image (y, x) or a 3D volume (z, y, x)")


def auto_chunks(shape: tuple[int, ...], native: tuple[int, ...] | None = None) -> tuple[int, ...]:
    """Chunk shape of about 128³ (3D) or 1024² (2D), aligned to the source's own chunks.

    A native chunk within half to twice the target is kept; a smaller one is grouped into
    a multiple of itself, so no source chunk is read twice.

    Examples
    --------
    >>> auto_chunks((300, 300, 300), native=(1, 300, 300))
    (128, 128, 128)
    >>> auto_chunks((50, 500, 500), native=(100, 100, 100))
    (50, 100, 100)
    """
    target = TARGET.get(len(shape), 128)
    native = native or shape
    out = []
    for size, c in zip(shape, native):
        if target // 2 <= c <= 2 * target:
            pick = c
        elif c < target // 2:
            pick = c * max(1, round(target / c))
        else:
            pick = target
        out.append(max(1, min(size, pick)))
    return tuple(out)


def rechunk(arr: da.Array, chunks: Any) -> da.Array:
    """Apply the ``chunks`` argument of :func:`load`: "auto", None (source chunks) or dask chunks."""
    if chunks is None:
        return arr
    if isinstance(chunks, str):
        if chunks != "auto":
            raise ValueError(f"chunks must be 'auto', None, an int or a tuple, got {chunks!r}")
        chunks = auto_chunks(arr.shape, arr.chunksize)
    out = arr.rechunk(chunks)
    return arr if out.chunks == arr.chunks else out
