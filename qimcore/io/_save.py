"""Writers: zarr v3 (OME-Zarr multiscale), TIFF and npy, each written to a temporary path first."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np

from .. import _units, _validate
from . import _atomic
from ._common import as_path, auto_chunks, suffix

_AXES = ("z", "y", "x")
_MARK = {"complete": True, "writer": "qimcore.io.save"}


def save(array: Any, path: str | os.PathLike, chunks: Any = None, *,
         voxel_size: float | tuple[float, ...] = 1.0, compressed: bool = True,
         overwrite: bool = True) -> Path:
    """Write a 2D image or 3D volume, chunk by chunk for zarr.

    The format follows the extension: ``.zarr`` writes a zarr v3 array; ``.ome.zarr`` writes an
    OME-NGFF 0.5 multiscale group (level ``"0"`` full resolution, each further level the 2×2(×2)
    mean of the one before, until the largest axis is under 64 px; axes z/y/x in micrometre,
    scale = ``voxel_size`` × 2**level); ``.tif``/``.tiff`` and ``.npy`` write small arrays in one
    piece.

    Nothing is lost when a save fails or is killed at any moment: data are written to a hidden
    temporary sibling, the old ``path`` is renamed aside, the new copy renamed in and only then
    the old one deleted. The next save or :func:`load` of ``path`` finishes the work of a killed
    save (restoring ``path`` when it is missing) and removes its leftovers. Every zarr chunk is
    stored, also an empty one, and the attribute ``"qimcore": {"complete": true}`` is written
    last, so :func:`load` can tell a complete volume from one that lost chunks.

    Parameters
    ----------
    array : (M, N[, P]) ndarray or dask.array.Array
        Image ``(y, x)`` or volume ``(z, y, x)``; a dask array is written without loading it whole.
    path : str or os.PathLike
        Target file or zarr folder.
    chunks : int or tuple of int, optional
        zarr chunk shape; default about 128³ (1024² in 2D), aligned to a dask array's chunks.
    voxel_size : float or tuple of float
        Voxel size in micrometres (z, y, x), stored in the OME-Zarr metadata.
    compressed : bool
        zarr only: compress chunks with zarr's default codec (zstd); False stores raw bytes.
    overwrite : bool
        Replace an existing ``path``; when False an existing ``path`` raises ``FileExistsError``.
        Only a volume of the same kind is replaced: a zarr array or OME-Zarr group for
        ``.zarr``, an OME-Zarr group for ``.ome.zarr``, a file for ``.tif``/``.npy``.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        For an unknown extension, a 1D/4D+ or empty array, or bad ``chunks``.
    TypeError
        When ``array`` is not numeric or ``path`` is not a path.
    FileExistsError
        When ``path`` exists and ``overwrite`` is False, or ``path`` is something else than a
        volume of the kind written there (a folder of other files is never deleted).

    See Also
    --------
    load : reads every format written here.

    Examples
    --------
    >>> import tempfile
    >>> from qimcore.io import load
    >>> target = Path(tempfile.mkdtemp()) / "vol.ome.zarr"
    >>> _ = save(np.ones((4, 128, 128), np.uint8), target, voxel_size=0.5)
    >>> load(target).shape, load(target, level=1).shape
    ((4, 128, 128), (2, 64, 64))
    """
    arr = _validate.array(array, "array", ndim=(2, 3), finite=False)
    target = as_path(path)
    ext = suffix(target)
    writers: dict[str, Callable[[Any, Path], None]] = {
        ".zarr": lambda a, p: _write_zarr(a, p, _chunks(a, chunks), compressed),
        ".ome.zarr": lambda a, p: _write_ome(a, p, _chunks(a, chunks), compressed,
                                             _units.voxel_size(voxel_size, a.ndim)),
        ".tif": _write_tiff, ".tiff": _write_tiff,
        ".npy": lambda a, p: np.save(p, np.asarray(a)),
    }
    if ext not in writers:
        raise ValueError(f"path {str(target)!r} has an unknown extension {ext!r}; save writes "
                         f"{', '.join(writers)}")
    _atomic.recover(target)
    if target.exists() or target.is_symlink():
        if not overwrite:
            raise FileExistsError(f"path {str(target)!r} exists; pass overwrite=True to replace it")
        _check_replaceable(target, ext)
    target.parent.mkdir(parents=True, exist_ok=True)
    _atomic.replace(target, lambda p: writers[ext](arr, p))
    return target


def _store_kind(p: Path) -> str | None:
    """``"array"``, ``"ome"`` or ``"group"`` for a zarr folder, None for anything else."""
    meta = p / "zarr.json"
    try:
        if meta.is_file():
            doc = json.loads(meta.read_text(encoding="utf-8"))
            attrs = doc.get("attributes") or {}
            kind = doc.get("node_type")
        elif (p / ".zarray").is_file():
            return "array"
        elif (p / ".zgroup").is_file():
            kind = "group"
            attrs = json.loads((p / ".zattrs").read_text(encoding="utf-8")) \
                if (p / ".zattrs").is_file() else {}
        else:
            return None
    except (OSError, ValueError):
        return None
    if kind == "group" and isinstance(attrs, dict) and (
            (attrs.get("ome") or {}).get("multiscales") or attrs.get("multiscales")):
        return "ome"
    return kind if kind in ("array", "group") else None


def _check_replaceable(target: Path, ext: str) -> None:
    """Refuse to replace anything but a store or file of the kind ``save`` writes there."""
    if ext in (".zarr", ".ome.zarr"):
        kinds = ("ome",) if ext == ".ome.zarr" else ("array", "ome")
        found = _store_kind(target) if target.is_dir() else None
        if found not in kinds:
            what = "a folder that is not a zarr array or OME-Zarr volume" if target.is_dir() \
                else "a file, not a zarr store"
            raise FileExistsError(f"path {str(target)!r} exists and is {what}; save replaces "
                                  "only a volume of the same kind; remove it yourself or "
                                  "choose another path")
    elif target.is_dir():
        raise FileExistsError(f"path {str(target)!r} exists and is a folder; save replaces "
                              f"only a {ext} file there; remove it yourself or choose another "
                              "path")


def _chunks(arr: Any, chunks: Any) -> tuple[int, ...]:
    if chunks is None:
        native = arr.chunksize if isinstance(arr, da.Array) else None
        return auto_chunks(arr.shape, native)
    if isinstance(chunks, (int, np.integer)) and not isinstance(chunks, bool):
        chunks = (int(chunks),) * arr.ndim
    try:
        if isinstance(chunks, str):
            raise TypeError(chunks)
        out = tuple(int(c) for c in chunks)
    except (TypeError, ValueError) as err:
        raise TypeError(f"chunks must be None, an int or a tuple of ints, got {chunks!r}") from err
    if len(out) != arr.ndim or any(c <= 0 for c in out):
        raise ValueError(f"chunks must be {arr.ndim} positive ints, got {chunks!r}")
    return tuple(min(c, s) for c, s in zip(out, arr.shape))


def _write_zarr(arr: Any, p: Path | Any, chunks: tuple[int, ...], compressed: bool,
                name: str | None = None) -> None:
    """Write ``arr`` as a zarr v3 array at folder ``p`` (or as ``name`` inside group ``p``)."""
    import zarr

    dask_arr = arr if isinstance(arr, da.Array) else da.from_array(arr, chunks=chunks)
    kwargs = {} if compressed else {"compressors": None}
    # every chunk gets a file, also one of zeros, so that a missing file means a lost chunk
    kwargs["config"] = {"write_empty_chunks": True}
    if name is None:
        z = zarr.create_array(store=str(p), shape=arr.shape, chunks=chunks, dtype=arr.dtype,
                              zarr_format=3, **kwargs)
    else:
        z = p.create_array(name, shape=arr.shape, chunks=chunks, dtype=arr.dtype, **kwargs)
    da.store(dask_arr.rechunk(chunks), z, lock=False)  # chunks aligned: no two tasks share one
    if name is None:
        z.attrs[_atomic.COMPLETE] = _MARK  # written last: the store is complete


def _downsample(arr: da.Array) -> da.Array:
    """2×2(×2) mean of ``arr`` (odd trailing rows dropped), in ``arr``'s dtype."""
    factors = {ax: 2 if s >= 2 else 1 for ax, s in enumerate(arr.shape)}
    arr = arr[tuple(slice(0, s - s % f) for s, f in zip(arr.shape, factors.values()))]
    even = tuple(max(f, c - c % f) for c, f in zip(arr.chunksize, factors.values()))
    mean = da.coarsen(np.mean, arr.rechunk(even), factors, dtype=np.float64)
    if arr.dtype == bool:
        return mean >= 0.5
    if np.issubdtype(arr.dtype, np.integer):
        return da.round(mean).astype(arr.dtype)
    return mean.astype(arr.dtype)


def _write_ome(arr: Any, p: Path, chunks: tuple[int, ...], compressed: bool,
               voxel_size: tuple[float, ...]) -> None:
    import zarr

    group = zarr.open_group(str(p), mode="w", zarr_format=3)
    datasets = []
    level, current = 0, arr
    while True:
        _write_zarr(current, group, tuple(min(c, s) for c, s in zip(chunks, current.shape)),
                    compressed, name=str(level))
        factor = 2.0 ** level
        datasets.append({"path": str(level), "coordinateTransformations": [
            {"type": "scale", "scale": [v * factor for v in voxel_size]},
            {"type": "translation", "translation": [v * (factor - 1) / 2 for v in voxel_size]},
        ]})
        if max(current.shape) < 64 or max(current.shape) < 2:
            break
        current = _downsample(da.from_zarr(group[str(level)]))  # reads the level just written
        level += 1
    axes = [{"name": a, "type": "space", "unit": "micrometer"} for a in _AXES[-arr.ndim:]]
    group.attrs.update({"ome": {"version": "0.5", "multiscales": [  # written last: complete
        {"name": p.name, "axes": axes, "datasets": datasets, "type": "mean"}]},
        _atomic.COMPLETE: _MARK})


def _write_tiff(arr: Any, p: Path) -> None:
    import tifffile

    tifffile.imwrite(p, np.asarray(arr), photometric="minisblack")
