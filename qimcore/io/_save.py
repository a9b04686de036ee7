"""Writers: zarr v3 (OME-Zarr multiscale), TIFF and npy, each written to a temporary path first."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np

from .. import _units, _validate
from ._common import as_path, auto_chunks, suffix

_AXES = ("z", "y", "x")


def save(array: Any, path: str | os.PathLike, chunks: Any = None, *,
         voxel_size: float | tuple[float, ...] = 1.0, compressed: bool = True,
         overwrite: bool = True) -> Path:
    """Write a 2D image or 3D volume, chunk by chunk for zarr.

    The format follows the extension: ``.zarr`` writes a zarr v3 array; ``.ome.zarr`` writes an
    OME-NGFF 0.5 multiscale group (level ``"0"`` full resolution, each further level the 2×2(×2)
    mean of the one before, until the largest axis is under 64 px; axes z/y/x in micrometre,
    scale = ``voxel_size`` × 2**level); ``.tif``/``.tiff`` and ``.npy`` write small arrays in one
    piece. Data are written to a temporary sibling path that is renamed onto ``path`` at the end,
    so a failed write never leaves a half-written file under ``path``.

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
        When ``path`` exists and ``overwrite`` is False.

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
    if target.exists() and not overwrite:
        raise FileExistsError(f"path {str(target)!r} exists; pass overwrite=True to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        written = tmp / target.name
        writers[ext](arr, written)
        _remove(target)
        os.replace(written, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    elif p.exists() or p.is_symlink():
        p.unlink()


def _chunks(arr: Any, chunks: Any) -> tuple[int, ...]:
    if chunks is None:
        native = arr.chunksize if isinstance(arr, da.Array) else None
        return auto_chunks(arr.shape, native)
    if isinstance(chunks, (int, np.integer)) and not isinstance(chunks, bool):
        chunks = (int(chunks),) * arr.ndim
    try:
        out = tuple(int(c) for c in chunks)
    except TypeError as err:
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
    if name is None:
        z = zarr.create_array(store=str(p), shape=arr.shape, chunks=chunks, dtype=arr.dtype,
                              zarr_format=3, **kwargs)
    else:
        z = p.create_array(name, shape=arr.shape, chunks=chunks, dtype=arr.dtype, **kwargs)
    da.store(dask_arr.rechunk(chunks), z, lock=False)  # chunks aligned: no two tasks share one


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
    group.attrs["ome"] = {"version": "0.5", "multiscales": [
        {"name": p.name, "axes": axes, "datasets": datasets, "type": "mean"}]}


def _write_tiff(arr: Any, p: Path) -> None:
    import tifffile

    tifffile.imwrite(p, np.asarray(arr), photometric="minisblack")
