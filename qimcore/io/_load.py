"""Lazy readers: every format becomes a dask array indexed (z, y, x) without reading voxel data."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np

from . import _atomic
from ._common import TARGET, as_path, check_ndim, existing, natural_key, rechunk, suffix

_SLICE_EXT = (".tif", ".tiff", ".png")
_RAW_EXT = (".raw", ".vol")
_HDF5_EXT = (".h5", ".hdf5", ".hdf")
_BYTE_ORDERS = {"little": "<", "big": ">", "native": "=", "<": "<", ">": ">", "=": "="}


def load(path: str | os.PathLike | Sequence[str | os.PathLike], chunks: Any = "auto", *,
         dataset: str | None = None, level: int = 0, shape: Sequence[int] | None = None,
         dtype: Any = None, offset: int = 0, byte_order: str = "little") -> da.Array:
    """Open a 2D image or 3D CT volume lazily as a dask array.

    Parameters
    ----------
    path : str, os.PathLike or sequence of them
        A file or folder; the format follows the extension:

        - ``.tif``/``.tiff``: 2D, 3D or multi-page (one 2D page per slice);
        - a folder of 2D ``.tif``/``.tiff``/``.png`` slices, naturally sorted
          (``slice_9`` before ``slice_10``), or a list of such files in slice order;
        - ``.zarr``: a zarr v2/v3 array, or an OME-Zarr multiscale group (see ``level``);
        - ``.h5``/``.hdf5``: ``"file.h5::group/dataset"`` or ``dataset=``;
        - ``.npy`` (memory-mapped);
        - ``.raw``/``.vol``: headerless binary, needs ``shape`` and ``dtype``;
        - ``.nii``/``.nii.gz``: NIfTI, stored (x, y, z); transposed lazily to (z, y, x) with
          the header's scaling (slope/intercept) applied;
        - a folder (or list) of ``.dcm`` DICOM slices: sorted by ImagePositionPatient z then
          InstanceNumber, RescaleSlope/RescaleIntercept applied.
    chunks : "auto", None, int, tuple or dict
        ``"auto"`` gives about 128³ voxels (1024² for 2D) aligned to the file's own chunks;
        ``None`` keeps the file's chunks (one slice per chunk for slice stacks); anything else
        is passed to :meth:`dask.array.Array.rechunk`.
    dataset : str, optional
        HDF5 dataset inside the file (alternative to ``path::dataset``).
    level : int
        OME-Zarr resolution level; 0 is full resolution.
    shape, dtype : optional
        Raw files only: array shape (z, y, x) or (y, x) and numpy dtype.
    offset : int
        Raw files only: header bytes to skip.
    byte_order : {"little", "big", "native"}
        Raw files only: byte order of multi-byte samples.

    Returns
    -------
    dask.array.Array
        2D ``(y, x)`` or 3D ``(z, y, x)``, lazy: nothing but headers is read until computed.

    Raises
    ------
    FileNotFoundError
        When ``path`` (or the HDF5 file) does not exist.
    ValueError
        For an unknown extension, an unreadable or corrupt file, a 1D/4D+ array, a missing
        HDF5 ``dataset``, a bad ``level``, or raw ``shape``/``dtype``/``offset`` that do not
        fit the file.
    TypeError
        When ``path`` is not a path.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> np.save(folder / "vol.npy", np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
    >>> vol = load(folder / "vol.npy")
    >>> vol.shape, vol.dtype.name, int(vol[1, 2, 3].compute())
    ((2, 3, 4), 'uint8', 23)
    """
    if isinstance(path, (list, tuple)):
        files = [existing(as_path(p)) for p in path]
        if not files:
            raise ValueError("path is an empty list of files")
        arr = _dicom(files) if all(suffix(f) == ".dcm" for f in files) else _slices(files)
        return rechunk(arr, chunks)
    text = os.fspath(as_path(path))
    if "::" in text:
        if dataset is not None:
            raise ValueError(f"give the HDF5 dataset either in path ('::') or as dataset, "
                             f"not both: path={text!r}, dataset={dataset!r}")
        text, dataset = text.split("::", 1)
    p = Path(text)
    _recover(p)  # finish a killed save: restore a volume it left aside, remove its leftovers
    p = existing(p)
    ext = suffix(p)
    if ext not in _RAW_EXT and (shape is not None or dtype is not None or offset):
        raise ValueError(f"shape, dtype and offset apply to raw files only; got path {text!r}")
    if dataset is not None and ext not in _HDF5_EXT:
        raise ValueError(f"dataset applies to HDF5 files only; got path {text!r}")
    is_zarr = ext in (".zarr", ".ome.zarr") or (p.is_dir() and any(
        (p / meta).is_file() for meta in ("zarr.json", ".zarray", ".zgroup")))
    if level != 0 and not is_zarr:
        raise ValueError(f"level applies to OME-Zarr only; got path {text!r}")
    if is_zarr:
        arr = _zarr(p, level)
    elif p.is_dir():
        arr = _folder(p)
    elif ext in (".tif", ".tiff"):
        arr = _tiff(p)
    elif ext in _HDF5_EXT:
        arr = _hdf5(p, dataset)
    elif ext == ".npy":
        arr = _npy(p)
    elif ext in _RAW_EXT:
        arr = _raw(p, shape, dtype, offset, byte_order)
    elif ext in (".nii", ".nii.gz"):
        arr = _nifti(p)
    elif ext == ".dcm":
        arr = _dicom([p])
    else:
        raise ValueError(f"path {text!r} has an unknown extension {ext!r}; load reads .tif, "
                         ".tiff, .zarr, .ome.zarr, .h5, .hdf5, .npy, .raw, .vol, .nii, .nii.gz, "
                         ".dcm and folders of slices")
    check_ndim(arr.shape, f"path {text!r}")
    if 0 in arr.shape:
        raise ValueError(f"path {text!r} holds an empty array of shape {arr.shape}")
    return rechunk(arr, chunks)


def _recover(p: Path) -> None:
    try:
        _atomic.recover(p)
    except OSError:  # a read-only folder: nothing to restore from here
        pass


# --- TIFF and slice stacks -------------------------------------------------------------------

def _tiff_header(p: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and page count of the first series, reading only the header."""
    import tifffile

    try:
        with tifffile.TiffFile(p) as tif:
            series = tif.series[0]
            return tuple(series.shape), np.dtype(series.dtype), len(series.pages)
    except (tifffile.TiffFileError, ValueError, IndexError, OSError) as err:
        raise ValueError(f"path {str(p)!r} is not a readable TIFF file: {err}") from err


def _read_tiff(p: str, key: Any) -> np.ndarray:
    import tifffile

    try:
        return tifffile.imread(p, key=key, series=0)
    except Exception as err:  # truncated or corrupt pages raise many error types
        raise ValueError(f"path {p!r} is not a readable TIFF file (truncated or corrupt?): "
                         f"{type(err).__name__}: {err}") from err


def _tiff(p: Path) -> da.Array:
    shape, dtype, n_pages = _tiff_header(p)
    check_ndim(shape, f"path {str(p)!r}")
    if len(shape) == 2 or n_pages != shape[0]:  # one image, or a volume stored in one page
        return da.from_delayed(dask.delayed(_read_tiff)(str(p), None), shape, dtype=dtype)
    step = TARGET[3]
    blocks = [da.from_delayed(dask.delayed(_read_pages)(str(p), z, min(z + step, shape[0])),
                              (min(step, shape[0] - z), *shape[1:]), dtype=dtype)
              for z in range(0, shape[0], step)]
    return da.concatenate(blocks, axis=0)


def _read_pages(p: str, start: int, stop: int) -> np.ndarray:
    img = _read_tiff(p, range(start, stop))
    return img.reshape((stop - start, *img.shape[-2:]))  # one page comes back 2D


def _read_slice(p: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    if suffix(Path(p)) == ".png":
        from PIL import Image

        with Image.open(p) as im:
            img = np.asarray(im)
    else:
        img = _read_tiff(p, None)
    if img.shape != shape:
        raise ValueError(f"slice {p!r} has shape {img.shape}, expected {shape}")
    return img.astype(dtype, copy=False).reshape((1, *shape))


def _slice_header(p: Path) -> tuple[tuple[int, ...], np.dtype]:
    if suffix(p) == ".png":
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(p) as im:
                probe = np.asarray(im.crop((0, 0, 1, 1)))
                return (im.height, im.width, *probe.shape[2:]), probe.dtype
        except (UnidentifiedImageError, OSError) as err:
            raise ValueError(f"path {str(p)!r} is not a readable PNG file: {err}") from err
    shape, dtype, _ = _tiff_header(p)
    return shape, dtype


def _slices(files: list[Path]) -> da.Array:
    bad = [str(f) for f in files if suffix(f) not in _SLICE_EXT]
    if bad:
        raise ValueError(f"path lists files that are not 2D .tif/.tiff/.png slices: {bad[:3]}")
    shape, dtype = _slice_header(files[0])
    if len(shape) != 2:
        raise ValueError(f"path {str(files[0])!r} is not a 2D slice (shape {shape}); "
                         "a slice stack needs 2D grey-value images")
    for f in files[1:]:
        other, _ = _slice_header(f)
        if other != shape:
            raise ValueError(f"path {str(f)!r} has shape {other}, but {str(files[0])!r} has {shape}")
    return da.concatenate([da.from_delayed(dask.delayed(_read_slice)(str(f), shape, dtype),
                                           (1, *shape), dtype=dtype) for f in files], axis=0)


def _folder(p: Path) -> da.Array:
    files = sorted((f for f in p.iterdir() if f.is_file() and not f.name.startswith(".")),
                   key=natural_key)
    dcm = [f for f in files if suffix(f) == ".dcm"]
    if dcm:
        return _dicom(dcm)
    slices = [f for f in files if suffix(f) in _SLICE_EXT]
    if not slices:
        raise ValueError(f"path {str(p)!r} is a folder without .tif/.tiff/.png or .dcm files")
    return _slices(slices)


# --- zarr, HDF5, npy, raw ---------------------------------------------------------------------

def _multiscales(attrs: dict) -> list | None:
    """OME-NGFF ``multiscales`` from v0.4 (top level) or v0.5 (under ``"ome"``) attributes."""
    return attrs.get("ome", {}).get("multiscales") or attrs.get("multiscales")


def _zarr(p: Path, level: int) -> da.Array:
    import zarr

    try:
        node = zarr.open(store=str(p), mode="r")
    except Exception as err:  # zarr raises several private error types for bad stores
        raise ValueError(f"path {str(p)!r} is not a readable zarr store: {err}") from err
    if isinstance(node, zarr.Array):
        if level != 0:
            raise ValueError(f"level={level!r} needs an OME-Zarr multiscale group, "
                             f"but path {str(p)!r} is a plain array")
        return _from_zarr(node, p, p, _atomic.is_complete(p))
    scales = _multiscales(dict(node.attrs))
    if not scales:
        arrays = sorted(name for name, _ in node.arrays())
        raise ValueError(f"path {str(p)!r} is a zarr group without OME 'multiscales' metadata; "
                         f"open one of its arrays {arrays} as 'path/name'")
    levels = scales[0]["datasets"]
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)) \
            or not 0 <= level < len(levels):
        raise ValueError(f"level must be an int in [0, {len(levels) - 1}] for {str(p)!r}, "
                         f"got {level!r}")
    name = levels[level]["path"]
    return _from_zarr(node[name], p, p / name, _atomic.is_complete(p))


class _ZarrChunks:
    """Array-like view of a zarr array whose read errors name the store."""

    def __init__(self, node: Any, path: Path):
        self.node, self.path = node, path
        self.shape, self.dtype, self.ndim = node.shape, node.dtype, node.ndim

    def __getitem__(self, key: Any) -> np.ndarray:
        try:
            return self.node[key]
        except Exception as err:  # codecs raise many error types for a damaged chunk
            raise ValueError(f"path {str(self.path)!r}: cannot read the chunk holding {key} "
                             f"(corrupt chunk file?): {type(err).__name__}: {err}") from err


def _from_zarr(node: Any, store: Path, folder: Path, complete: bool) -> da.Array:
    """Dask array of zarr array ``node`` in ``folder``, after checking its chunk files.

    A store that ``save`` marked complete must hold every chunk file: a missing one raises.
    Other (foreign) stores may leave chunks equal to the fill value unwritten, so missing
    chunk files only warn there.
    """
    missing = _missing_chunks(node, folder)
    if missing:
        what = (f"path {str(store)!r} is missing {len(missing)} chunk file(s) "
                f"{missing[:5]}{' ...' if len(missing) > 5 else ''} in {str(folder)!r}")
        if complete:
            raise ValueError(f"{what}; it was saved complete by qimcore, so these files were "
                             "lost (deleted or never copied); their voxels cannot be read")
        warnings.warn(f"{what}; zarr reads them as the fill value "
                      f"{node.metadata.fill_value!r}", UserWarning, stacklevel=4)
    stat = folder.stat()  # a new save is a new folder: a new name, no stale dask results
    name = f"zarr-{dask.base.tokenize(str(folder), stat.st_ino, stat.st_mtime_ns)}"
    return da.from_array(_ZarrChunks(node, folder), chunks=node.chunks, name=name,
                         meta=np.empty((0,) * node.ndim, node.dtype))


def _missing_chunks(node: Any, folder: Path) -> list[str]:
    """Chunk keys of ``node`` without a file under ``folder`` (listing only, no reads)."""
    meta = node.metadata
    grid = getattr(getattr(meta, "chunk_grid", None), "chunk_shape", None) or meta.chunks
    counts = [-(-s // c) for s, c in zip(node.shape, grid)]
    found = set()
    for root, _, files in os.walk(folder):
        rel = os.path.relpath(root, folder).replace(os.sep, "/")
        found.update(f if rel == "." else f"{rel}/{f}" for f in files)
    keys = (meta.encode_chunk_key(idx) for idx in np.ndindex(*counts))
    return [key for key in keys if key not in found]


def _hdf5(p: Path, dataset: str | None) -> da.Array:
    import h5py

    try:
        f = h5py.File(p, "r")
    except OSError as err:
        raise ValueError(f"path {str(p)!r} is not a readable HDF5 file: {err}") from err
    names: list[str] = []
    f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
    if dataset is None or dataset.strip("/") not in names:
        f.close()
        what = "no dataset given" if dataset is None else f"dataset {dataset!r} not found"
        raise ValueError(f"{what} in HDF5 file {str(p)!r}; pass path='file.h5::name' or "
                         f"dataset='name' with one of {names}")
    dset = f[dataset]  # the dataset object keeps the file open while the dask array lives
    check_ndim(dset.shape, f"dataset {dataset!r} in {str(p)!r}")
    native = dset.chunks or (1, *dset.shape[1:])
    return da.from_array(dset, chunks=native)


def _npy(p: Path) -> da.Array:
    try:
        mm = np.load(p, mmap_mode="r", allow_pickle=False)
    except (ValueError, EOFError, OSError) as err:
        raise ValueError(f"path {str(p)!r} is not a readable .npy file: {err}") from err
    check_ndim(mm.shape, f"path {str(p)!r}")
    if mm.size == 0:
        raise ValueError(f"path {str(p)!r} holds an empty array of shape {mm.shape}")
    return da.from_array(mm, chunks=(1, *mm.shape[1:]) if mm.ndim == 3 else mm.shape)


def _raw(p: Path, shape: Any, dtype: Any, offset: int, byte_order: str) -> da.Array:
    if shape is None or dtype is None:
        raise ValueError(f"raw file {str(p)!r} needs shape= and dtype= (e.g. shape=(z, y, x), "
                         "dtype='uint16')")
    try:
        shape = tuple(int(s) for s in shape)
    except (TypeError, ValueError) as err:
        raise TypeError(f"shape must be a sequence of ints, got {shape!r}") from err
    if any(s <= 0 for s in shape):
        raise ValueError(f"shape must be positive, got {shape!r}")
    check_ndim(shape, "shape")
    try:
        dt = np.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"dtype {dtype!r} is not a numpy dtype") from err
    if dt.kind not in "biuf":
        raise TypeError(f"dtype must be a numeric dtype, got {dt}")
    if byte_order not in _BYTE_ORDERS:
        raise ValueError(f"byte_order must be one of {tuple(_BYTE_ORDERS)}, got {byte_order!r}")
    if isinstance(offset, bool) or not isinstance(offset, (int, np.integer)) or offset < 0:
        raise ValueError(f"offset must be an int >= 0, got {offset!r}")
    dt = dt.newbyteorder(_BYTE_ORDERS[byte_order]) if dt.itemsize > 1 else dt
    need = offset + int(np.prod(shape)) * dt.itemsize
    have = p.stat().st_size
    if need > have:
        raise ValueError(f"shape {shape} and dtype {dt} need {need} bytes from offset {offset}, "
                         f"but {str(p)!r} has {have} bytes")
    mm = np.memmap(p, dtype=dt, mode="r", offset=offset, shape=shape)
    arr = da.from_array(mm, chunks=(1, *shape[1:]) if len(shape) == 3 else shape)
    return arr if dt.isnative else arr.astype(dt.newbyteorder("="))


# --- medical formats --------------------------------------------------------------------------

class _Scaled:
    """Array-like view of a NIfTI proxy returning scaled values in a fixed dtype."""

    def __init__(self, proxy: Any, dtype: np.dtype):
        self.proxy, self.dtype = proxy, dtype
        self.shape, self.ndim = tuple(proxy.shape), len(proxy.shape)

    def __getitem__(self, key: Any) -> np.ndarray:
        return np.asarray(self.proxy[key]).astype(self.dtype, copy=False)


def _nifti(p: Path) -> da.Array:
    import nibabel

    try:
        img = nibabel.load(p)
    except Exception as err:  # nibabel raises ImageFileError, EOFError, ...
        raise ValueError(f"path {str(p)!r} is not a readable NIfTI file: {err}") from err
    proxy = img.dataobj
    shape = tuple(proxy.shape)
    while len(shape) > 3 and shape[-1] == 1:  # (x, y, z, 1) time/channel axis
        shape = shape[:-1]
    check_ndim(shape, f"path {str(p)!r}")
    slope, inter = getattr(proxy, "slope", 1.0), getattr(proxy, "inter", 0.0)
    scaled = not (slope in (1.0, None) or np.isnan(slope)) or not (inter in (0.0, None)
                                                                   or np.isnan(inter))
    dtype = np.dtype(np.float32) if scaled else np.dtype(img.get_data_dtype())
    full = tuple(proxy.shape)  # one chunk per z slice (file order is x fastest)
    chunks = full[:2] + (1,) * (len(full) - 2) if len(shape) == 3 else full
    arr = da.from_array(_Scaled(proxy, dtype), chunks=chunks, meta=np.empty((0,) * len(full), dtype))
    arr = arr.reshape(shape) if arr.shape != shape else arr
    return arr.T  # NIfTI stores (x, y, z): reversed to (z, y, x)


def _dicom_read(p: str, dtype: np.dtype) -> np.ndarray:
    import pydicom

    ds = pydicom.dcmread(p)
    img = ds.pixel_array
    slope, inter = float(getattr(ds, "RescaleSlope", 1)), float(getattr(ds, "RescaleIntercept", 0))
    if slope != 1 or inter != 0:
        img = img.astype(np.float32) * np.float32(slope) + np.float32(inter)
    return img.astype(dtype, copy=False)[None]


def _dicom(files: list[Path]) -> da.Array:
    import pydicom

    headers = []
    for f in files:
        try:
            ds = pydicom.dcmread(f, stop_before_pixels=True)
            shape = (int(ds.Rows), int(ds.Columns))
        except (pydicom.errors.InvalidDicomError, AttributeError, OSError) as err:
            raise ValueError(f"path {str(f)!r} is not a readable DICOM image: {err}") from err
        z = float(ds.ImagePositionPatient[2]) if "ImagePositionPatient" in ds else 0.0
        scaled = float(getattr(ds, "RescaleSlope", 1)) != 1 or \
            float(getattr(ds, "RescaleIntercept", 0)) != 0
        bits, signed = int(ds.BitsAllocated), int(getattr(ds, "PixelRepresentation", 0))
        raw = np.dtype(f"{'i' if signed else 'u'}{max(1, bits // 8)}")
        headers.append((z, int(getattr(ds, "InstanceNumber", 0) or 0), str(f), shape, raw, scaled))
    headers.sort(key=lambda h: (h[0], h[1]))
    shapes = {h[3] for h in headers}
    if len(shapes) > 1:
        raise ValueError(f"path holds DICOM slices of different sizes {sorted(shapes)}")
    shape = headers[0][3]
    dtype = np.dtype(np.float32) if any(h[5] for h in headers) else headers[0][4]
    return da.concatenate([da.from_delayed(dask.delayed(_dicom_read)(h[2], dtype), (1, *shape),
                                           dtype=dtype) for h in headers], axis=0)
