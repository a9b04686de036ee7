"""Tests for qimcore.io: round trips for every format, laziness, chunking and bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import dask.array as da
import numpy as np
import pytest

from qimcore.io import load, load_mesh, save, save_mesh


def _vol(rng, shape=(6, 10, 12), dtype=np.uint16):
    return rng.integers(0, 1000, size=shape).astype(dtype)


# --- TIFF and slice stacks --------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(20, 30), (3, 20, 30), (129, 4, 5)])
def test_tiff_roundtrip(tmp_path, rng, shape):
    import tifffile

    vol = _vol(rng, shape)
    tifffile.imwrite(tmp_path / "v.tif", vol, photometric="minisblack")
    out = load(tmp_path / "v.tif")
    assert isinstance(out, da.Array) and out.shape == shape and out.dtype == vol.dtype
    np.testing.assert_array_equal(out.compute(), vol)
    if shape[0] == 129:  # pages grouped into 128-slice blocks
        assert out.chunks[0] == (128, 1)


def test_save_tiff_and_npy(tmp_path, rng):
    vol = _vol(rng)
    for name in ("v.tiff", "v.npy"):
        save(vol, tmp_path / name)
        np.testing.assert_array_equal(load(tmp_path / name).compute(), vol)


def test_folder_natural_sort(tmp_path, rng):
    import tifffile

    vol = _vol(rng, (12, 7, 9))
    for z in range(12):
        tifffile.imwrite(tmp_path / f"slice_{z}.tif", vol[z])
    (tmp_path / "notes.txt").write_text("ignored")
    out = load(tmp_path)
    assert out.shape == vol.shape
    np.testing.assert_array_equal(out.compute(), vol)  # slice_10 after slice_9
    files = [tmp_path / f"slice_{z}.tif" for z in (3, 1)]
    np.testing.assert_array_equal(load(files).compute(), vol[[3, 1]])


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_png_folder(tmp_path, rng, dtype):
    from PIL import Image

    vol = _vol(rng, (3, 8, 5), dtype=dtype)
    for z in range(3):
        Image.fromarray(vol[z]).save(tmp_path / f"img{z:02d}.png")
    out = load(tmp_path, chunks=None)
    assert out.chunks[0] == (1, 1, 1) and out.dtype == vol.dtype
    np.testing.assert_array_equal(out.compute(), vol)


# --- zarr and OME-Zarr ------------------------------------------------------------------------

@pytest.mark.parametrize("as_dask", [False, True])
def test_zarr_roundtrip_numpy_and_dask(tmp_path, rng, as_dask):
    vol = rng.random((20, 23, 17)).astype(np.float32)
    src = da.from_array(vol, chunks=(7, 9, 5)) if as_dask else vol
    save(src, tmp_path / "v.zarr", chunks=(8, 8, 8))
    meta = json.loads((tmp_path / "v.zarr" / "zarr.json").read_text())
    assert meta["zarr_format"] == 3 and meta["chunk_grid"]["configuration"]["chunk_shape"] == [8] * 3
    out = load(tmp_path / "v.zarr")
    assert out.chunksize == (20, 23, 17)  # 8³ source chunks grouped up to the (small) shape
    np.testing.assert_array_equal(out.compute(), vol)
    assert load(tmp_path / "v.zarr", chunks=None).chunksize == (8, 8, 8)


def test_ome_zarr_multiscale(tmp_path, rng):
    vol = _vol(rng, (9, 130, 70))
    save(vol, tmp_path / "v.ome.zarr", chunks=(4, 32, 32), voxel_size=(2.0, 0.5, 0.5))
    attrs = json.loads((tmp_path / "v.ome.zarr" / "zarr.json").read_text())["attributes"]
    ms = attrs["ome"]["multiscales"][0]
    assert [a["name"] for a in ms["axes"]] == ["z", "y", "x"]
    assert {a["unit"] for a in ms["axes"]} == {"micrometer"}
    assert [d["path"] for d in ms["datasets"]] == ["0", "1", "2"]  # 130 -> 65 -> 32 < 64
    assert ms["datasets"][2]["coordinateTransformations"][0]["scale"] == [8.0, 2.0, 2.0]
    np.testing.assert_array_equal(load(tmp_path / "v.ome.zarr").compute(), vol)
    lvl1 = load(tmp_path / "v.ome.zarr", level=1)
    expect = np.round(vol[:8].reshape(4, 2, 65, 2, 35, 2).mean(axis=(1, 3, 5))).astype(np.uint16)
    assert lvl1.shape == (4, 65, 35) and lvl1.dtype == np.uint16
    np.testing.assert_array_equal(lvl1.compute(), expect)
    assert load(tmp_path / "v.ome.zarr", level=2).shape == (2, 32, 17)
    with pytest.raises(ValueError, match="level"):
        load(tmp_path / "v.ome.zarr", level=3)


def test_save_is_atomic_and_overwrite(tmp_path, rng, monkeypatch):
    from qimcore.io import _save

    vol = _vol(rng)
    target = tmp_path / "v.zarr"
    save(vol, target)
    with pytest.raises(FileExistsError, match="v.zarr"):
        save(vol, target, overwrite=False)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(_save, "_write_zarr", broken)
    with pytest.raises(OSError, match="disk full"):
        save(vol + 1, target)
    np.testing.assert_array_equal(load(target).compute(), vol)  # old copy untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.zarr"]  # no temp left behind
    monkeypatch.undo()
    save(vol + 1, target)
    np.testing.assert_array_equal(load(target).compute(), vol + 1)


def _allocate(path, nbytes):
    """Create a file of ``nbytes`` whose blocks are reserved on disk without writing them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        os.posix_fallocate(fd, 0, nbytes)
    except OSError:  # file systems without fallocate: a sparse file of the same size
        os.ftruncate(fd, nbytes)
    finally:
        os.close(fd)


@pytest.mark.slow
def test_zarr_load_is_lazy_1gb(tmp_path, monkeypatch):
    import zarr
    from zarr.storage import LocalStore

    shape, chunk = (1024, 1024, 1024), (128, 128, 128)
    store = tmp_path / "big.zarr"
    zarr.create_array(store=str(store), shape=shape, chunks=chunk, dtype=np.uint8,
                      compressors=None, zarr_format=3)
    # 512 uncompressed 2 MiB chunk files (1 GiB) allocated directly: zarr's own writer needs
    # ~30 s here; all chunks read as 0 except the one this test reads, which holds real data.
    for key in np.ndindex(8, 8, 8):
        _allocate(store.joinpath("c", *map(str, key)), 128**3)
    target = np.arange(128**3, dtype=np.uint8).reshape(chunk) % 7 + 1
    store.joinpath("c", "2", "0", "5").write_bytes(target.tobytes())
    on_disk = sum(f.stat().st_size for f in store.rglob("*") if f.is_file())
    assert on_disk >= 2**30

    reads: list[str] = []
    original = LocalStore.get

    async def counting_get(self, key, *args, **kwargs):
        reads.append(key)
        return await original(self, key, *args, **kwargs)

    monkeypatch.setattr(LocalStore, "get", counting_get)
    t0 = time.perf_counter()
    vol = load(store)
    assert time.perf_counter() - t0 < 5  # generous; the exact check is the read count
    assert vol.shape == shape and vol.chunksize == chunk
    assert [k for k in reads if k.startswith("c/")] == []  # metadata only
    reads.clear()
    np.testing.assert_array_equal(vol[300, 5:10, 700:705].compute(), target[44, 5:10, 60:65])
    assert reads == ["c/2/0/5"]  # exactly the one chunk holding the slice
    reads.clear()
    assert int(vol[:, 0, 640].sum().compute()) == int(target[:, 0, 0].sum())  # 8 chunks along z
    assert sorted(reads) == [f"c/{z}/0/5" for z in range(8)]


# --- HDF5, npy, raw ---------------------------------------------------------------------------

def test_hdf5_roundtrip(tmp_path, rng):
    import h5py

    vol = _vol(rng)
    with h5py.File(tmp_path / "v.h5", "w") as f:
        f.create_dataset("scan/volume", data=vol, chunks=(2, 5, 6))
        f.create_dataset("other", data=np.zeros(3))
    out = load(f"{tmp_path / 'v.h5'}::scan/volume")
    assert out.shape == vol.shape
    np.testing.assert_array_equal(out.compute(), vol)
    np.testing.assert_array_equal(load(tmp_path / "v.h5", dataset="/scan/volume").compute(), vol)
    assert load(tmp_path / "v.h5", None, dataset="scan/volume").chunksize == (2, 5, 6)


def test_npy_is_memory_mapped(tmp_path, rng):
    vol = _vol(rng, (5, 6, 7))
    np.save(tmp_path / "v.npy", vol)
    out = load(tmp_path / "v.npy", chunks=(2, 3, 4))
    assert out.chunks == ((2, 2, 1), (3, 3), (4, 3))
    np.testing.assert_array_equal(out.compute(), vol)


@pytest.mark.parametrize(("dtype", "byte_order"), [("uint16", "big"), ("float32", "little"),
                                                   ("uint8", "native")])
def test_raw_roundtrip(tmp_path, rng, dtype, byte_order):
    vol = _vol(rng, (4, 5, 6)).astype(dtype)
    disk = vol.astype(np.dtype(dtype).newbyteorder({"big": ">", "little": "<", "native": "="}[
        byte_order]))
    (tmp_path / "v.raw").write_bytes(b"HEADER" + disk.tobytes())
    out = load(tmp_path / "v.raw", shape=(4, 5, 6), dtype=dtype, offset=6, byte_order=byte_order)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out.compute(), vol)
    (tmp_path / "v.vol").write_bytes(disk.tobytes())
    out2d = load(tmp_path / "v.vol", shape=(20, 6), dtype=dtype, byte_order=byte_order)
    np.testing.assert_array_equal(out2d.compute(), vol.reshape(20, 6))


# --- NIfTI and DICOM --------------------------------------------------------------------------

def test_nifti_transposed_to_zyx(tmp_path, rng):
    import nibabel

    vol = _vol(rng, (4, 5, 6)).astype(np.int16)
    nibabel.save(nibabel.Nifti1Image(vol.T, np.eye(4)), tmp_path / "v.nii.gz")  # stored (x, y, z)
    out = load(tmp_path / "v.nii.gz")
    assert out.shape == (4, 5, 6) and out.dtype == np.int16
    np.testing.assert_array_equal(out.compute(), vol)
    img = nibabel.Nifti1Image(vol.T, np.eye(4))
    img.header.set_slope_inter(0.5, -10)
    nibabel.save(img, tmp_path / "s.nii")
    scaled = load(tmp_path / "s.nii")
    assert scaled.dtype == np.float32
    np.testing.assert_allclose(scaled.compute(), vol * 0.5 - 10)
    nibabel.save(nibabel.Nifti1Image(vol.T[..., None], np.eye(4)), tmp_path / "t.nii")
    np.testing.assert_array_equal(load(tmp_path / "t.nii").compute(), vol)  # (x, y, z, 1)
    nibabel.save(nibabel.Nifti1Image(np.stack([vol.T] * 2, -1), np.eye(4)), tmp_path / "4d.nii")
    with pytest.raises(ValueError, match="path .*4D"):
        load(tmp_path / "4d.nii")


def _write_dicom(path, img, z, instance, slope=1.0, intercept=0.0):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"  # CT Image Storage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Rows, ds.Columns = img.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit, ds.PixelRepresentation = 15, 0
    ds.ImagePositionPatient = [0.0, 0.0, float(z)]
    ds.InstanceNumber = instance
    ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    ds.PixelData = img.astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)


def test_dicom_series_sorted_and_rescaled(tmp_path, rng):
    vol = _vol(rng, (5, 6, 7))
    positions = [-2.0, -1.0, 0.0, 0.0, 3.5]  # two slices share z: InstanceNumber decides
    order = [3, 0, 4, 1, 2]  # file names deliberately out of order
    for name, z in enumerate(order):
        _write_dicom(tmp_path / f"im{name}.dcm", vol[z], positions[z], instance=z + 1,
                     slope=2.0, intercept=-1024.0)
    out = load(tmp_path)
    assert out.shape == vol.shape and out.dtype == np.float32
    np.testing.assert_array_equal(out.compute(), vol * 2.0 - 1024.0)
    files = sorted(tmp_path.glob("*.dcm"))
    np.testing.assert_array_equal(load(files).compute(), vol * 2.0 - 1024.0)


def test_dicom_unscaled_keeps_dtype(tmp_path, rng):
    vol = _vol(rng, (2, 4, 3))
    for z in range(2):
        _write_dicom(tmp_path / f"s{z}.dcm", vol[z], z, instance=z)
    out = load(tmp_path)
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out.compute(), vol)


# --- meshes -----------------------------------------------------------------------------------

def _tetrahedron():
    vertices = np.array([[0.0, 0.0, 0.0], [1.5, 0.0, 0.0], [0.0, 2.25, 0.0], [0.0, 0.0, 3.125]])
    faces = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    return vertices, faces


@pytest.mark.parametrize("ext", [".ply", ".vtk"])
def test_mesh_roundtrip_exact(tmp_path, ext, rng):
    vertices, faces = _tetrahedron()
    vertices = vertices + rng.random(vertices.shape)  # full float64 precision survives
    save_mesh(tmp_path / f"m{ext}", vertices, faces)
    v, f = load_mesh(tmp_path / f"m{ext}")
    np.testing.assert_array_equal(v, vertices)
    np.testing.assert_array_equal(f, faces)


def test_mesh_files_store_xyz(tmp_path):
    vertices, faces = _tetrahedron()
    save_mesh(tmp_path / "m.vtk", vertices, faces)
    lines = (tmp_path / "m.vtk").read_text().splitlines()
    assert [float(t) for t in lines[6].split()] == [0.0, 0.0, 1.5]  # vertex 1 (z=1.5) as x y z
    assert lines[9] == "POLYGONS 4 16" and lines[10] == "3 0 1 2"  # face (0, 2, 1) mirrored


def test_stl_roundtrip(tmp_path):
    vertices, faces = _tetrahedron()
    save_mesh(tmp_path / "m.stl", vertices, faces)
    assert (tmp_path / "m.stl").stat().st_size == 84 + 50 * len(faces)
    v, f = load_mesh(tmp_path / "m.stl")
    assert len(v) == 4 and f.shape == (4, 3)
    got = {tuple(map(tuple, tri)) for tri in v[f]}  # same triangles, same corner order
    assert got == {tuple(map(tuple, tri)) for tri in vertices[faces]}
    data = np.frombuffer((tmp_path / "m.stl").read_bytes()[84:84 + 12], "<f4")
    np.testing.assert_allclose(data, [-1, 0, 0])  # face 0 lies on x = 0: outward is -x


# --- bad input --------------------------------------------------------------------------------

def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.tif"):
        load(tmp_path / "nope.tif")
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        load(f"{tmp_path / 'nope.h5'}::data")
    with pytest.raises(FileNotFoundError, match="nope.stl"):
        load_mesh(tmp_path / "nope.stl")


def test_unknown_extension(tmp_path, rng):
    (tmp_path / "v.xyz").write_bytes(b"abc")
    with pytest.raises(ValueError, match="path .*unknown extension"):
        load(tmp_path / "v.xyz")
    with pytest.raises(ValueError, match="path .*unknown extension"):
        save(_vol(rng), tmp_path / "v.mat")
    with pytest.raises(ValueError, match="path .*unknown mesh extension"):
        save_mesh(tmp_path / "m.obj", *_tetrahedron())


def test_path_type():
    with pytest.raises(TypeError, match="path"):
        load(None)
    with pytest.raises(TypeError, match="path"):
        save(np.zeros((2, 2)), 3)


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4, 5)])
def test_wrong_ndim(tmp_path, shape):
    np.save(tmp_path / "v.npy", np.zeros(shape))
    with pytest.raises(ValueError, match=f"path .*{len(shape)}D"):
        load(tmp_path / "v.npy")
    with pytest.raises(ValueError, match=f"array must be 2D or 3D, got a {len(shape)}D"):
        save(np.zeros(shape), tmp_path / "v.zarr")


def test_corrupt_files(tmp_path):
    for name in ("bad.tif", "bad.h5", "bad.npy", "bad.nii", "bad.zarr", "bad.png"):
        (tmp_path / name).write_bytes(b"this is not an image file" * 4)
    for name in ("bad.tif", "bad.h5", "bad.npy", "bad.nii", "bad.zarr"):
        with pytest.raises(ValueError, match=f"path .*{name}.* not a readable"):
            load(tmp_path / name)
    with pytest.raises(ValueError, match="bad.png.* not a readable PNG"):
        load([tmp_path / "bad.png"])


def test_hdf5_dataset_errors(tmp_path):
    import h5py

    with h5py.File(tmp_path / "v.h5", "w") as f:
        f.create_dataset("a", data=np.zeros((3, 3)))
        f.create_dataset("line", data=np.zeros(3))
    with pytest.raises(ValueError, match="no dataset given.*'a'"):
        load(tmp_path / "v.h5")
    with pytest.raises(ValueError, match="dataset 'b' not found"):
        load(tmp_path / "v.h5", dataset="b")
    with pytest.raises(ValueError, match="dataset 'line'.*1D"):
        load(tmp_path / "v.h5", dataset="line")
    with pytest.raises(ValueError, match="dataset"):
        load(f"{tmp_path / 'v.h5'}::a", dataset="a")


def test_raw_errors(tmp_path):
    (tmp_path / "v.raw").write_bytes(bytes(100))
    with pytest.raises(ValueError, match="shape= and dtype="):
        load(tmp_path / "v.raw")
    with pytest.raises(ValueError, match="shape .* need 200 bytes"):
        load(tmp_path / "v.raw", shape=(10, 10), dtype="uint16")
    with pytest.raises(TypeError, match="dtype"):
        load(tmp_path / "v.raw", shape=(10, 10), dtype="not-a-dtype")
    with pytest.raises(ValueError, match="shape"):
        load(tmp_path / "v.raw", shape=(100,), dtype="uint8")
    with pytest.raises(ValueError, match="byte_order"):
        load(tmp_path / "v.raw", shape=(10, 10), dtype="uint8", byte_order="middle")
    with pytest.raises(ValueError, match="offset"):
        load(tmp_path / "v.raw", shape=(10, 10), dtype="uint8", offset=-1)
    np.save(tmp_path / "v.npy", np.zeros((2, 2)))
    with pytest.raises(ValueError, match="raw files only"):
        load(tmp_path / "v.npy", dtype="uint8")


def test_slice_stack_errors(tmp_path, rng):
    import tifffile

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="path .*without .tif"):
        load(empty)
    tifffile.imwrite(tmp_path / "a.tif", _vol(rng, (4, 5)))
    tifffile.imwrite(tmp_path / "b.tif", _vol(rng, (4, 6)))
    with pytest.raises(ValueError, match="b.tif.* shape"):
        load(tmp_path)
    with pytest.raises(ValueError, match="path is an empty list"):
        load([])


def test_chunk_and_save_argument_errors(tmp_path, rng):
    np.save(tmp_path / "v.npy", _vol(rng))
    with pytest.raises(ValueError, match="chunks"):
        load(tmp_path / "v.npy", chunks="big")
    with pytest.raises(ValueError, match="chunks"):
        save(_vol(rng), tmp_path / "v.zarr", chunks=(2, 2))
    with pytest.raises(ValueError, match="voxel_size"):
        save(_vol(rng), tmp_path / "v.ome.zarr", voxel_size=(1, 1))
    with pytest.raises(TypeError, match="array"):
        save(np.array([["a", "b"]]), tmp_path / "v.zarr")
    save(_vol(rng), tmp_path / "plain.zarr")
    with pytest.raises(ValueError, match="level"):
        load(tmp_path / "plain.zarr", level=1)
    with pytest.raises(ValueError, match="level"):
        load(tmp_path / "v.npy", level=1)
    with pytest.raises(ValueError, match="dataset"):
        load(tmp_path / "v.npy", dataset="a")


def test_zarr_inside_group_without_extension(tmp_path, rng):
    import zarr

    vol = _vol(rng)
    group = zarr.open_group(str(tmp_path / "scan.zarr"), mode="w")
    group.create_array("recon", data=vol)
    with pytest.raises(ValueError, match="without OME 'multiscales'.*recon"):
        load(tmp_path / "scan.zarr")
    np.testing.assert_array_equal(load(tmp_path / "scan.zarr" / "recon").compute(), vol)


def test_mesh_errors(tmp_path):
    vertices, faces = _tetrahedron()
    with pytest.raises(ValueError, match="vertices"):
        save_mesh(tmp_path / "m.ply", vertices[:, :2], faces)
    with pytest.raises(ValueError, match="vertices .*NaN"):
        save_mesh(tmp_path / "m.ply", np.full((4, 3), np.nan), faces)
    with pytest.raises(TypeError, match="faces"):
        save_mesh(tmp_path / "m.ply", vertices, faces.astype(float))
    with pytest.raises(ValueError, match="faces must index vertices 0..3"):
        save_mesh(tmp_path / "m.ply", vertices, faces + 1)
    (tmp_path / "bad.stl").write_bytes(bytes(90))
    with pytest.raises(ValueError, match="bad.stl.* not a readable"):
        load_mesh(tmp_path / "bad.stl")


# --- nothing lost, nothing silently wrong -----------------------------------------------------

def test_save_never_deletes_a_foreign_folder(tmp_path, rng):
    vol = _vol(rng)
    own = tmp_path / "results.zarr"
    own.mkdir()
    (own / "thesis.docx").write_text("years of work")
    for target in (own, tmp_path / "x.ome.zarr", tmp_path / "v.tif"):
        if target != own:
            target.mkdir()
            (target / "notes.txt").write_text("mine")
        with pytest.raises(FileExistsError, match=f"{target.name}.* not a|{target.name}.* folder"):
            save(vol, target)
    assert (own / "thesis.docx").read_text() == "years of work"
    (tmp_path / "file.zarr").write_text("a file")
    with pytest.raises(FileExistsError, match="file.zarr.* a file"):
        save(vol, tmp_path / "file.zarr")
    save(vol, tmp_path / "plain.zarr")
    save(vol, tmp_path / "o.ome.zarr")
    save(vol, tmp_path / "plain.zarr")
    with pytest.raises(FileExistsError, match="plain.zarr"):
        save(vol, tmp_path / "plain.zarr", overwrite=False)
    shutil.copytree(tmp_path / "plain.zarr", tmp_path / "a.ome.zarr")
    with pytest.raises(FileExistsError, match="a.ome.zarr"):  # an array is no OME group
        save(vol, tmp_path / "a.ome.zarr")
    save(vol + 1, tmp_path / "o.ome.zarr")
    np.testing.assert_array_equal(load(tmp_path / "o.ome.zarr").compute(), vol + 1)


@pytest.mark.parametrize("name", ["v.zarr", "v.ome.zarr"])
def test_missing_chunk_of_qimcore_store_refused(tmp_path, rng, name):
    vol = np.zeros((6, 10, 12), np.uint8)  # chunks of zeros are stored too
    save(vol, tmp_path / name, chunks=(3, 5, 6))
    level = tmp_path / name / ("0" if name.startswith("v.ome") else "")
    chunks = sorted(p for p in (level / "c").rglob("*") if p.is_file())
    assert len(chunks) == 8
    chunks[3].unlink()
    with pytest.raises(ValueError, match=r"missing 1 chunk.*c/0/1/1.*lost"):
        load(tmp_path / name)


def test_missing_chunk_of_foreign_store_warns(tmp_path):
    import zarr

    z = zarr.create_array(store=str(tmp_path / "f.zarr"), shape=(4, 4), chunks=(2, 2),
                          dtype=np.uint8, zarr_format=3)
    z[:2] = 5  # zarr leaves the chunks of zeros unwritten
    with pytest.warns(UserWarning, match=r"missing 2 chunk.*c/1/0.*fill value"):
        out = load(tmp_path / "f.zarr")
    np.testing.assert_array_equal(out.compute(), np.r_[np.full((2, 4), 5), np.zeros((2, 4))])


def test_corrupt_chunk_truncated_tiff_and_empty_npy_name_the_path(tmp_path, rng):
    import tifffile

    vol = _vol(rng, (4, 64, 64))
    save(vol, tmp_path / "v.zarr", chunks=(2, 64, 64))
    (tmp_path / "v.zarr" / "c" / "1" / "0" / "0").write_bytes(b"garbage")
    arr = load(tmp_path / "v.zarr", chunks=None)
    np.testing.assert_array_equal(arr[:2].compute(), vol[:2])
    with pytest.raises(ValueError, match=r"v.zarr.*corrupt chunk"):
        arr.compute()
    tifffile.imwrite(tmp_path / "t.tif", vol, photometric="minisblack")
    data = (tmp_path / "t.tif").read_bytes()
    (tmp_path / "t.tif").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"t.tif.* not a readable TIFF"):
        load(tmp_path / "t.tif").compute()
    np.save(tmp_path / "e.npy", np.zeros((0, 3, 3)))
    with pytest.raises(ValueError, match=r"e.npy.* empty"):
        load(tmp_path / "e.npy")
    (tmp_path / "z.npy").write_bytes(b"")
    with pytest.raises(ValueError, match=r"z.npy.* not a readable"):
        load(tmp_path / "z.npy")


def test_save_recovers_leftovers_of_dead_saves(tmp_path, rng):
    vol = _vol(rng)
    target = tmp_path / "v.zarr"
    save(vol, target)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # killed after setting the old store aside, before renaming the new one in
    save(vol + 1, tmp_path / "new.zarr")
    (tmp_path / f".v.zarr.{dead}-ab.tmp").mkdir()
    (tmp_path / "new.zarr").rename(tmp_path / f".v.zarr.{dead}-ab.tmp" / "v.zarr")
    target.rename(tmp_path / f".v.zarr.{dead}-ab.old")
    live = tmp_path / f".v.zarr.{os.getppid()}-cd.tmp"  # a save running now: left alone
    live.mkdir()
    np.testing.assert_array_equal(load(target).compute(), vol + 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "v.zarr"]
