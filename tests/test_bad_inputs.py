"""Bad input across the public API: every case is a clear error naming the argument.

Each row of the table calls one public function with one bad argument; the test asserts the
error type and that the message names the argument. numpy and dask inputs follow the same
rules (a NaN inside a dask volume raises when the chunk holding it is computed).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import pandas as pd
import pytest

from qimcore import batch, data, fibres, io, layers, nerves, segment, surfaces

_RNG = np.random.default_rng(0)
VOL = _RNG.random((8, 16, 16)).astype(np.float32)
IMG = VOL[0]
NAN_VOL = VOL.copy()
NAN_VOL[3, 4, 5] = np.nan
DASK_NAN = da.from_array(NAN_VOL, chunks=(4, 8, 8))
COMPLEX = VOL.astype(np.complex64)
LABELS = np.zeros((16, 16), np.uint8)
LABELS[2:4, 2:4], LABELS[10:12, 10:12] = 1, 2
TRACK = np.array([[0, 5, 5], [4, 5, 6], [7, 6, 6]], float)
HEIGHTS = np.full((2, 16), 3)
HEIGHTS[1] += 4
CIRCLE = np.stack([8 + 4 * np.sin(np.linspace(0, 2 * np.pi, 20, endpoint=False)),
                   8 + 4 * np.cos(np.linspace(0, 2 * np.pi, 20, endpoint=False))], axis=1)


def _seg(**params: Any) -> segment.DictionarySegmenter:
    """A segmenter small enough for a 16 x 16 image, with ``params`` overriding."""
    return segment.DictionarySegmenter(**{"patch_size": 3, "n_words": 20, "n_samples": 500,
                                          **params})


def _fitted() -> segment.DictionarySegmenter:
    return _seg().fit(IMG)


def _propagated() -> segment.DictionarySegmenter:
    seg = _fitted()
    seg.propagate(LABELS)
    return seg


def _labels_with(value: int) -> np.ndarray:
    out = LABELS.astype(np.int64)
    out[out == 2] = value
    return out


def _write(tmp: Path, name: str, content: bytes) -> Path:
    (tmp / name).write_bytes(content)
    return tmp / name


def _truncated_tiff(tmp: Path) -> Path:
    import tifffile

    tifffile.imwrite(tmp / "t.tif", (VOL * 100).astype(np.uint16), photometric="minisblack")
    raw = (tmp / "t.tif").read_bytes()
    return _write(tmp, "t.tif", raw[: len(raw) // 3])


def _zarr_missing_chunk(tmp: Path) -> Path:
    io.save(VOL, tmp / "v.zarr", chunks=(4, 8, 8))
    (tmp / "v.zarr" / "c" / "1" / "1" / "0").unlink()
    return tmp / "v.zarr"


def _zarr_corrupt_chunk(tmp: Path) -> Path:
    io.save(VOL, tmp / "v.zarr", chunks=(4, 8, 8))
    (tmp / "v.zarr" / "c" / "1" / "1" / "0").write_bytes(b"not zstd")
    return tmp / "v.zarr"


def _user_folder(tmp: Path) -> Path:
    (tmp / "mine.zarr").mkdir()
    (tmp / "mine.zarr" / "notes.txt").write_text("keep me")
    return tmp / "mine.zarr"


def _notebook(tmp: Path) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]})]
    nbformat.write(nb, tmp / "n.ipynb")
    return tmp / "n.ipynb"


def _grid(tmp: Path, text: str = "x\n1\n") -> Path:
    (tmp / "g.csv").write_text(text)
    return tmp / "g.csv"


def _nerve_track(n_slices: int = 3) -> nerves.NerveTrack:
    z = np.arange(n_slices)
    inner = np.repeat(CIRCLE[None], n_slices, axis=0)
    outer = np.repeat((8 + (CIRCLE - 8) * 1.5)[None], n_slices, axis=0)
    return nerves.NerveTrack(z, inner, outer)


def _fibre_table() -> pd.DataFrame:
    return fibres.fibre_table([TRACK, TRACK + [0, 5, 0]], shape=VOL.shape)


Case = tuple[str, str, type, Callable[[Path], Any]]
V, T, F = ValueError, TypeError, FileExistsError

CASES: list[Case] = [
    # --- io.load
    ("io.load", "path", T, lambda t: io.load(3)),
    ("io.load", "path", T, lambda t: io.load(None)),
    ("io.load", "path", FileNotFoundError, lambda t: io.load(t / "missing.tif")),
    ("io.load", "path", V, lambda t: io.load([])),
    ("io.load", "path", V, lambda t: io.load(_write(t, "v.xyz", b"1"))),
    ("io.load", "path", V, lambda t: io.load(_write(t, "v.tif", b"not a tiff"))),
    ("io.load", "path", V, lambda t: io.load(_truncated_tiff(t)).compute()),
    ("io.load", "path", V, lambda t: io.load(_write(t, "e.npy", b""))),
    ("io.load", "path", V, lambda t: (np.save(t / "z.npy", np.zeros((0, 4, 4))),
                                      io.load(t / "z.npy"))),
    ("io.load", "path", V, lambda t: (np.save(t / "d1.npy", np.zeros(5)), io.load(t / "d1.npy"))),
    ("io.load", "path", V, lambda t: (np.save(t / "d4.npy", np.zeros((2,) * 4)),
                                      io.load(t / "d4.npy"))),
    ("io.load", "path", V, lambda t: io.load(_write(t, "v.h5", b"not hdf5"))),
    ("io.load", "path", V, lambda t: io.load(_write(t, "v.nii", b"not nifti"))),
    ("io.load", "path", V, lambda t: io.load(_write(t, "b.zarr", b"not zarr"))),
    ("io.load", "path", V, lambda t: io.load(_zarr_missing_chunk(t))),
    ("io.load", "path", V, lambda t: io.load(_zarr_corrupt_chunk(t), chunks=None).compute()),
    ("io.load", "chunks", V, lambda t: io.load(io.save(VOL, t / "v.npy"), chunks="big")),
    ("io.load", "level", V, lambda t: io.load(io.save(VOL, t / "v.ome.zarr"), level=9)),
    ("io.load", "level", V, lambda t: io.load(io.save(VOL, t / "v.ome.zarr"), level=-1)),
    ("io.load", "level", V, lambda t: io.load(io.save(VOL, t / "v.npy"), level=1)),
    ("io.load", "dataset", V, lambda t: io.load(io.save(VOL, t / "v.npy"), dataset="x")),
    ("io.load", "shape", V, lambda t: io.load(_write(t, "v.raw", b"\0" * 8), shape=(2, 2),
                                              dtype="u4")),
    ("io.load", "shape", V, lambda t: io.load(_write(t, "v.raw", b"\0" * 8), dtype="u1")),
    ("io.load", "shape", V, lambda t: io.load(_write(t, "v.raw", b"\0" * 8), shape=(0, 2),
                                              dtype="u1")),
    ("io.load", "dtype", T, lambda t: io.load(_write(t, "v.raw", b"\0" * 8), shape=(2, 4),
                                              dtype="U4")),
    ("io.load", "offset", V, lambda t: io.load(_write(t, "v.raw", b"\0" * 8), shape=(2, 4),
                                               dtype="u1", offset=-1)),
    ("io.load", "byte_order", V, lambda t: io.load(_write(t, "v.raw", b"\0" * 8), shape=(2, 2),
                                                   dtype="u2", byte_order="middle")),
    # --- io.save
    ("io.save", "array", T, lambda t: io.save("text", t / "v.zarr")),
    ("io.save", "array", T, lambda t: io.save(None, t / "v.zarr")),
    ("io.save", "array", T, lambda t: io.save(COMPLEX, t / "v.zarr")),
    ("io.save", "array", V, lambda t: io.save(np.zeros(5), t / "v.zarr")),
    ("io.save", "array", V, lambda t: io.save(np.zeros((2,) * 4), t / "v.zarr")),
    ("io.save", "array", V, lambda t: io.save(np.zeros((0, 4, 4)), t / "v.zarr")),
    ("io.save", "path", T, lambda t: io.save(VOL, 5)),
    ("io.save", "path", V, lambda t: io.save(VOL, t / "v.xyz")),
    ("io.save", "path", F, lambda t: io.save(VOL, _user_folder(t))),
    ("io.save", "path", F, lambda t: io.save(VOL, _write(t, "f.zarr", b"a file"))),
    ("io.save", "path", F, lambda t: io.save(VOL, io.save(VOL, t / "v.zarr"), overwrite=False)),
    ("io.save", "chunks", V, lambda t: io.save(VOL, t / "v.zarr", chunks=(1, 2))),
    ("io.save", "chunks", V, lambda t: io.save(VOL, t / "v.zarr", chunks=0)),
    ("io.save", "chunks", T, lambda t: io.save(VOL, t / "v.zarr", chunks="big")),
    ("io.save", "voxel_size", V, lambda t: io.save(VOL, t / "v.ome.zarr", voxel_size=-1)),
    ("io.save", "voxel_size", V, lambda t: io.save(VOL, t / "v.ome.zarr", voxel_size=(1, 1))),
    # --- io meshes
    ("io.save_mesh", "vertices", V, lambda t: io.save_mesh(t / "m.stl", np.zeros((3, 2)),
                                                           [[0, 1, 2]])),
    ("io.save_mesh", "faces", V, lambda t: io.save_mesh(t / "m.stl", np.zeros((3, 3)),
                                                        [[0, 1, 7]])),
    ("io.save_mesh", "path", V, lambda t: io.save_mesh(t / "m.xyz", np.zeros((3, 3)),
                                                       [[0, 1, 2]])),
    ("io.load_mesh", "path", FileNotFoundError, lambda t: io.load_mesh(t / "m.stl")),
    ("io.load_mesh", "path", V, lambda t: io.load_mesh(_write(t, "m.ply", b"junk"))),
    # --- data
    ("data.sample", "name", T, lambda t: data.sample(["nerves"])),
    ("data.sample", "name", V, lambda t: data.sample("teeth")),
    ("data.sample", "name", T, lambda t: data.sample(None)),
    ("data.sample_path", "name", V, lambda t: data.sample_path("x")),
    # --- segment
    ("DictionarySegmenter", "patch_size", V, lambda t: _seg(patch_size=0)
     .fit(IMG)),
    ("DictionarySegmenter", "patch_size", V, lambda t: _seg(patch_size=4)
     .fit(IMG)),
    ("DictionarySegmenter", "n_words", V, lambda t: _seg(n_words=0)
     .fit(IMG)),
    ("DictionarySegmenter", "method", V, lambda t: _seg(method="svm")
     .fit(IMG)),
    ("DictionarySegmenter", "features", V, lambda t: _seg(features="x")
     .fit(IMG)),
    ("DictionarySegmenter", "sigmas", V, lambda t: _seg(
        features="gaussian", sigmas=()).fit(IMG)),
    ("DictionarySegmenter", "sigmas", V, lambda t: _seg(
        features="gaussian", sigmas=(1, -2)).fit(IMG)),
    ("DictionarySegmenter", "n_basis", V, lambda t: _seg(n_basis=0)
     .fit(IMG)),
    ("DictionarySegmenter", "n_basis", V, lambda t: _seg(n_basis=-2)
     .fit(IMG)),
    ("DictionarySegmenter", "n_samples", V, lambda t: _seg(n_samples=0)
     .fit(IMG)),
    ("DictionarySegmenter", "steps", V, lambda t: _seg(steps=-1)
     .fit(IMG)),
    ("DictionarySegmenter", "smooth", V, lambda t: _seg(smooth=-1)
     .fit(IMG)),
    ("DictionarySegmenter", "weighting", V, lambda t: _seg(
        weighting="magic").fit(IMG)),
    ("DictionarySegmenter.fit", "image", T, lambda t: _seg().fit(COMPLEX[0])),
    ("DictionarySegmenter.fit", "image", V, lambda t: _seg().fit(NAN_VOL[3])),
    ("DictionarySegmenter.fit", "image", V, lambda t: _seg().fit(
        np.zeros(5))),
    ("DictionarySegmenter.fit", "image", T, lambda t: _seg().fit("img")),
    ("DictionarySegmenter.fit", "image", T, lambda t: _seg().fit(
        da.from_array(IMG))),
    ("DictionarySegmenter.propagate", "labels", V, lambda t: _fitted().propagate(LABELS[:5])),
    ("DictionarySegmenter.propagate", "labels", V, lambda t: _fitted().propagate(
        _labels_with(300))),
    ("DictionarySegmenter.propagate", "labels", V, lambda t: _fitted().propagate(
        _labels_with(10**9))),
    ("DictionarySegmenter.propagate", "labels", V, lambda t: _fitted().propagate(-LABELS.astype(
        int))),
    ("DictionarySegmenter.propagate", "labels", T, lambda t: _fitted().propagate(
        LABELS.astype(float) + 0.5)),
    ("DictionarySegmenter.predict_proba", "image", V, lambda t: _propagated().predict_proba(
        np.zeros((3, 4, 4)))),
    ("DictionarySegmenter.predict_proba", "image", T, lambda t: _propagated().predict_proba(
        COMPLEX[0])),
    ("DictionarySegmenter.predict_proba", "image", V, lambda t: _propagated().predict_proba(
        NAN_VOL[3])),
    ("DictionarySegmenter.predict_proba", "image", V, lambda t: np.asarray(
        _propagated().predict_proba(DASK_NAN[3]))),
    ("segment.segment", "labels", V, lambda t: segment.segment(IMG, np.zeros((16, 16), int),
                                                                n_words=20)),
    ("segment.segment", "image", T, lambda t: segment.segment(COMPLEX[0], LABELS, n_words=20)),
    ("segment.save_scribbles", "labels", V, lambda t: segment.save_scribbles(
        t / "s.png", np.ones(5, int))),  # label 300 is valid: it round-trips (tests/segment)
    ("segment.save_scribbles", "labels", V, lambda t: segment.save_scribbles(
        t / "s.png", -LABELS.astype(int))),
    ("segment.save_scribbles", "labels", T, lambda t: segment.save_scribbles(
        t / "s.png", LABELS + 0.5)),
    ("segment.load_scribbles", "path", FileNotFoundError, lambda t: segment.load_scribbles(
        t / "none.png")),
    # --- surfaces
    ("detect_surfaces", "cost", T, lambda t: surfaces.detect_surfaces(COMPLEX)),
    ("detect_surfaces", "cost", V, lambda t: surfaces.detect_surfaces(NAN_VOL)),
    ("detect_surfaces", "cost", V, lambda t: surfaces.detect_surfaces(np.zeros(5))),
    ("detect_surfaces", "cost", T, lambda t: surfaces.detect_surfaces("cost")),
    ("detect_surfaces", "n_surfaces", V, lambda t: surfaces.detect_surfaces(VOL, n_surfaces=0)),
    ("detect_surfaces", "n_surfaces", T, lambda t: surfaces.detect_surfaces(VOL,
                                                                            n_surfaces=1.5)),
    ("detect_surfaces", "delta", V, lambda t: surfaces.detect_surfaces(VOL, delta=-1)),
    ("detect_surfaces", "min_distance", V, lambda t: surfaces.detect_surfaces(
        VOL, n_surfaces=2, min_distance=-1)),
    ("detect_surfaces", "max_distance", V, lambda t: surfaces.detect_surfaces(
        VOL, n_surfaces=2, min_distance=3, max_distance=1)),
    ("detect_surfaces", "region_cost", V, lambda t: surfaces.detect_surfaces(
        VOL, region_cost=np.zeros((2, 3, 3, 3)))),
    ("detect_surfaces", "wrap", V, lambda t: surfaces.detect_surfaces(VOL, wrap=5)),
    ("detect_surfaces_banded", "band", V, lambda t: surfaces.detect_surfaces_banded(VOL,
                                                                                    band=0)),
    ("detect_surfaces_banded", "factor", V, lambda t: surfaces.detect_surfaces_banded(
        VOL, factor=0)),
    ("detect_surfaces_banded", "cost", T, lambda t: surfaces.detect_surfaces_banded(COMPLEX)),
    ("unfold_polar", "center", V, lambda t: surfaces.unfold_polar(IMG, (500, 500),
                                                                  np.arange(1, 6), 8)),
    ("unfold_polar", "center", V, lambda t: surfaces.unfold_polar(IMG, (np.nan, 3),
                                                                  np.arange(1, 6), 8)),
    ("unfold_polar", "n_angles", V, lambda t: surfaces.unfold_polar(IMG, (8, 8),
                                                                    np.arange(1, 6), 0)),
    ("unfold_polar", "radii", V, lambda t: surfaces.unfold_polar(IMG, (8, 8), [], 8)),
    ("unfold_polar", "image", T, lambda t: surfaces.unfold_polar(COMPLEX[0], (8, 8),
                                                                 np.arange(1, 6), 8)),
    ("polar_to_points", "n_angles", V, lambda t: surfaces.polar_to_points(
        np.zeros((1, 8)), (8, 8), np.arange(1, 6), -3)),
    ("sample_normals", "curve", V, lambda t: surfaces.sample_normals(IMG, np.zeros((5, 3)),
                                                                     np.arange(3))),
    ("curve_normals", "curve", V, lambda t: surfaces.curve_normals(np.zeros(5))),
    ("sphere_mesh", "radius", V, lambda t: surfaces.sphere_mesh((4, 8, 8), -1)),
    ("sphere_mesh", "subdivisions", V, lambda t: surfaces.sphere_mesh((4, 8, 8), 2,
                                                                      subdivisions=-1)),
    ("sphere_mesh", "center", V, lambda t: surfaces.sphere_mesh((4, 8), 2)),
    ("mask_mesh", "mask", V, lambda t: surfaces.mask_mesh(np.zeros((4, 4)))),
    ("mask_mesh", "step_size", V, lambda t: surfaces.mask_mesh(VOL > 0.5, step_size=0)),
    ("mesh_normals", "faces", V, lambda t: surfaces.mesh_normals(np.zeros((3, 3)),
                                                                 [[0, 1, 9]])),
    ("deform_mesh", "offsets", V, lambda t: surfaces.deform_mesh(
        VOL, *surfaces.sphere_mesh((4, 8, 8), 3, subdivisions=0), offsets=[])),
    ("deform_mesh", "iterations", V, lambda t: surfaces.deform_mesh(
        VOL, *surfaces.sphere_mesh((4, 8, 8), 3, subdivisions=0), offsets=np.arange(-2, 3),
        iterations=0)),
    ("deform_mesh", "cost", V, lambda t: surfaces.deform_mesh(
        VOL, *surfaces.sphere_mesh((4, 8, 8), 3, subdivisions=0), offsets=np.arange(-2, 3),
        cost="magic")),
    # --- nerves
    ("track_nerves", "volume", V, lambda t: nerves.track_nerves(np.full((4, 32, 32), 0.5))),
    ("track_nerves", "volume", V, lambda t: nerves.track_nerves(np.zeros((1, 1, 1)))),
    ("track_nerves", "volume", V, lambda t: nerves.track_nerves(NAN_VOL)),
    ("track_nerves", "volume", V, lambda t: nerves.track_nerves(DASK_NAN)),
    ("track_nerves", "volume", T, lambda t: nerves.track_nerves(COMPLEX)),
    ("track_nerves", "volume", V, lambda t: nerves.track_nerves(IMG)),
    ("track_nerves", "probabilities", V, lambda t: nerves.track_nerves(
        VOL, probabilities=np.full((3,) + VOL.shape, np.nan))),
    ("track_nerves", "probabilities", V, lambda t: nerves.track_nerves(
        VOL, probabilities=np.full((3,) + VOL.shape, 0.9))),
    ("track_nerves", "probabilities", V, lambda t: nerves.track_nerves(
        VOL, probabilities=np.full((3, 2, 2, 2), 1 / 3))),
    ("track_nerves", "n_points", V, lambda t: nerves.track_nerves(VOL, n_points=2)),
    ("track_nerves", "start_slice", V, lambda t: nerves.track_nerves(VOL, start_slice=99)),
    ("track_nerves", "sigma", V, lambda t: nerves.track_nerves(VOL, sigma=-1)),
    ("track_nerves", "max_thickness", V, lambda t: nerves.track_nerves(
        VOL, min_thickness=5, max_thickness=2)),
    ("track_nerves", "seeds", V, lambda t: nerves.track_nerves(VOL, seeds=np.zeros((2, 5)))),
    ("track_nerves", "max_lost", V, lambda t: nerves.track_nerves(VOL, max_lost=-1)),
    ("find_seeds", "myelin", V, lambda t: nerves.find_seeds(NAN_VOL[3])),
    ("find_seeds", "threshold", V, lambda t: nerves.find_seeds(IMG, threshold=2)),
    ("find_seeds", "min_area", V, lambda t: nerves.find_seeds(IMG, min_area=-1)),
    ("myelin_map", "image", T, lambda t: nerves.myelin_map(COMPLEX[0])),
    ("myelin_map", "sigma", V, lambda t: nerves.myelin_map(IMG, sigma=-1)),
    ("myelin_map", "levels", V, lambda t: nerves.myelin_map(IMG, levels=(0.8, 0.2))),
    ("nerve_table", "tracks", T, lambda t: nerves.nerve_table([1, 2])),
    ("nerve_table", "voxel_size", V, lambda t: nerves.nerve_table([_nerve_track()],
                                                                  voxel_size=-1)),
    ("nerve_slices", "voxel_size", V, lambda t: nerves.nerve_slices([_nerve_track()],
                                                                    voxel_size=0)),
    ("nerve_nodes", "window", V, lambda t: nerves.nerve_nodes([_nerve_track()], window=0)),
    ("nerve_clusters", "touch_distance", V, lambda t: nerves.nerve_clusters(
        [_nerve_track()], touch_distance=-1)),
    ("polygon_moments", "curves", V, lambda t: nerves.polygon_moments(np.zeros((4, 3)))),
    ("NerveTrack", "inner", V, lambda t: nerves.NerveTrack(np.arange(3), np.zeros((2, 5, 2)),
                                                           np.zeros((3, 5, 2)))),
    # --- fibres
    ("track_fibres", "volume", T, lambda t: fibres.track_fibres(COMPLEX, 4)),
    ("track_fibres", "volume", V, lambda t: fibres.track_fibres(NAN_VOL, 4)),
    ("track_fibres", "volume", T, lambda t: fibres.track_fibres(DASK_NAN, 4)),
    ("track_fibres", "volume", V, lambda t: fibres.track_fibres(np.full((8, 16, 16), 0.3), 4)),
    ("track_fibres", "volume", V, lambda t: fibres.track_fibres(np.zeros((1, 1, 1)))),
    ("track_fibres", "volume", V, lambda t: fibres.track_fibres(IMG, 4)),
    ("track_fibres", "fibre_diameter", V, lambda t: fibres.track_fibres(VOL, 400)),
    ("track_fibres", "fibre_diameter", V, lambda t: fibres.track_fibres(VOL, -4)),
    ("track_fibres", "fibre_diameter", V, lambda t: fibres.track_fibres(VOL, np.nan)),
    ("track_fibres", "max_gap", V, lambda t: fibres.track_fibres(VOL, 4, max_gap=-5)),
    ("track_fibres", "threshold", V, lambda t: fibres.track_fibres(VOL, 4, threshold=-1)),
    ("track_fibres", "threshold", V, lambda t: fibres.track_fibres(VOL, 4, threshold=np.nan)),
    ("track_fibres", "min_snr", V, lambda t: fibres.track_fibres(VOL, 4, min_snr=-1)),
    ("track_fibres", "max_groups", V, lambda t: fibres.track_fibres(VOL, 4, max_groups=0)),
    ("track_fibres", "momentum", V, lambda t: fibres.track_fibres(VOL, 4, momentum=2)),
    ("track_fibres", "min_length", V, lambda t: fibres.track_fibres(VOL, 4, min_length=-1)),
    ("track_fibres", "max_step", V, lambda t: fibres.track_fibres(VOL, 4, max_step=0)),
    ("orientation", "rho", V, lambda t: fibres.orientation(VOL, 1, 1e6)),
    ("orientation", "sigma", V, lambda t: fibres.orientation(VOL, 1e6, 1)),
    ("orientation", "rho", V, lambda t: fibres.orientation(VOL, 1, -1)),
    ("orientation", "sigma", V, lambda t: fibres.orientation(VOL, 0, 1)),
    ("orientation", "volume", V, lambda t: fibres.orientation(NAN_VOL, 1, 1)),
    ("orientation", "volume", V, lambda t: fibres.orientation(DASK_NAN, 1, 1).compute()),
    ("orientation", "volume", T, lambda t: fibres.orientation(COMPLEX, 1, 1)),
    ("orientation", "volume", V, lambda t: fibres.orientation(IMG, 1, 1)),
    ("orientation", "truncate", V, lambda t: fibres.orientation(VOL, 1, 1, truncate=0)),
    ("estimate_diameter", "volume", V, lambda t: fibres.estimate_diameter(NAN_VOL)),
    ("estimate_diameter", "max_size", V, lambda t: fibres.estimate_diameter(VOL, max_size=0)),
    ("fibre_table", "tracks", V, lambda t: fibres.fibre_table([TRACK[:1]])),
    ("fibre_table", "tracks", V, lambda t: fibres.fibre_table([np.repeat(TRACK[:1], 3, 0)])),
    ("fibre_table", "tracks", V, lambda t: fibres.fibre_table([np.zeros((3, 2))])),
    ("fibre_table", "tracks", V, lambda t: fibres.fibre_table([TRACK * np.nan])),
    ("fibre_table", "voxel_size", V, lambda t: fibres.fibre_table([TRACK], voxel_size=-1)),
    ("fibre_table", "voxel_size", V, lambda t: fibres.fibre_table([TRACK], voxel_size=(1, 1))),
    ("fibre_table", "shape", V, lambda t: fibres.fibre_table([TRACK], shape=(4, 4))),
    ("find_breaks", "max_gap", V, lambda t: fibres.find_breaks([TRACK], max_gap=-5)),
    ("find_breaks", "max_angle", V, lambda t: fibres.find_breaks([TRACK], max_angle=-1)),
    ("find_breaks", "max_offset", V, lambda t: fibres.find_breaks([TRACK], max_offset=-1)),
    ("find_breaks", "tracks", V, lambda t: fibres.find_breaks([np.zeros((3, 2))])),
    ("fibre_summary", "volume_fraction", V, lambda t: fibres.fibre_summary(
        _fibre_table(), VOL.shape, volume_fraction=1.5)),
    ("fibre_summary", "e_fibre", V, lambda t: fibres.fibre_summary(
        _fibre_table(), VOL.shape, e_fibre=-1)),
    ("fibre_summary", "shape", V, lambda t: fibres.fibre_summary(_fibre_table(), (4, 4))),
    # --- layers
    ("layer_table", "material", V, lambda t: layers.layer_table(
        VOL[:, :, :1].squeeze(-1), HEIGHTS, material=np.full((8, 16), 7.0))),
    ("layer_table", "material", V, lambda t: layers.layer_table(
        VOL[:, :, :1].squeeze(-1), HEIGHTS, material=np.full((8, 16), -0.5))),
    ("layer_table", "heights", V, lambda t: layers.layer_table(IMG, np.zeros((2, 3), int))),
    ("layer_table", "voxel_size", V, lambda t: layers.layer_table(IMG, HEIGHTS, voxel_size=0)),
    ("layer_table", "volume_or_mask", T, lambda t: layers.layer_table(COMPLEX[0], HEIGHTS)),
    ("layer_table", "volume_or_mask", V, lambda t: layers.layer_table(NAN_VOL[3], HEIGHTS)),
    ("layer_table", "sigma", V, lambda t: layers.layer_table(IMG, HEIGHTS, sigma=-1)),
    ("layer_thickness", "heights", V, lambda t: layers.layer_thickness(np.zeros(5))),
    ("layer_thickness", "voxel_size", V, lambda t: layers.layer_thickness(HEIGHTS,
                                                                          voxel_size=-2)),
    ("local_thickness", "mask", V, lambda t: layers.local_thickness(np.zeros(5, bool))),
    ("local_thickness", "voxel_size", V, lambda t: layers.local_thickness(VOL > 0.5,
                                                                          voxel_size=-1)),
    ("local_thickness", "max_thickness", V, lambda t: layers.local_thickness(
        VOL > 0.5, max_thickness=-1)),
    ("bone_table", "mask", V, lambda t: layers.bone_table(np.zeros(5, bool))),
    ("bone_table", "voxel_size", V, lambda t: layers.bone_table(VOL > 0.5, voxel_size=0)),
    ("bone_table", "roi", V, lambda t: layers.bone_table(VOL > 0.5, roi=np.ones((2, 2, 2),
                                                                                   bool))),
    ("shell_layers", "edges", V, lambda t: layers.shell_layers(VOL, ["sideways", "rising"])),
    ("shell_layers", "n_angles", V, lambda t: layers.shell_layers(VOL, ["rising", "falling"],
                                                                  n_angles=0)),
    ("shell_layers", "volume", T, lambda t: layers.shell_layers(COMPLEX, ["rising", "falling"])),
    # --- batch
    ("run_batch", "workers", V, lambda t: batch.run_batch(_notebook(t), _grid(t), t / "o",
                                                          workers=0)),
    ("run_batch", "workers", T, lambda t: batch.run_batch(_notebook(t), _grid(t), t / "o",
                                                          workers=1.5)),
    ("run_batch", "table_format", V, lambda t: batch.run_batch(_notebook(t), _grid(t), t / "o",
                                                               table_format="xlsx")),
    ("run_batch", "notebook", V, lambda t: batch.run_batch(t / "none.ipynb", _grid(t),
                                                           t / "o")),
    ("run_batch", "grid", V, lambda t: batch.run_batch(_notebook(t), _grid(t, "y\n1\n"),
                                                       t / "o")),
    ("run_batch", "output", V, lambda t: batch.run_batch(_notebook(t), _grid(t),
                                                         _write(t, "o", b"file"))),
    ("read_grid", "grid", V, lambda t: batch.read_grid(_write(t, "g.txt", b"x"))),
    ("notebook_parameters", "notebook", V, lambda t: batch.notebook_parameters(
        _write(t, "n.ipynb", b"{}"))),
    ("porosity_by_slab", "slab", V, lambda t: batch.porosity_by_slab(VOL, threshold=0.5,
                                                                     slab=0)),
    ("slab_statistics", "func", T, lambda t: batch.slab_statistics(VOL, func=3)),
    ("slab_statistics", "slab", V, lambda t: batch.slab_statistics(
        VOL, lambda b: {"n": b.size}, slab=-1)),
    ("save_tables", "tables", T, lambda t: batch.save_tables([1, 2], t)),
    ("save_tables", "formats", V, lambda t: batch.save_tables({"a": pd.DataFrame({"x": [1]})},
                                                              t, formats=("xlsx",))),
]


@pytest.mark.parametrize(("func", "argument", "error", "call"), CASES,
                         ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_bad_input_is_a_clear_error(tmp_path, func, argument, error, call):
    with pytest.raises(error) as info:
        call(tmp_path)
    assert argument in str(info.value), f"{func}: message does not name {argument!r}"


def test_enough_cases():
    assert len(CASES) >= 150
