"""Benchmarks for qimcore.layers: growth layers, local thickness and bone morphometry.

Accuracy on synthetic truth (and across the layer phantom family, against one Otsu threshold for
all layers), each step's time on the real samples ("shell": one 3D surface search over 33 slices;
"bone"), our exact local thickness against the ``localthickness`` package (Dahl & Dahl, an
approximation; the ``bench`` extra) side by side in one run, and time / peak memory of the chunked
path on a 512³ synthetic zarr volume.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import dask.array as da
import numpy as np
from scipy import ndimage as ndi

import qimcore
from qimcore.data.synthetic import concentric_layers, layer_family, trabecular_lattice
from qimcore.layers import bone_table, layer_table, local_thickness, shell_layers
from qimcore.surfaces import unfold_polar

BIG = 512
CHUNK = 128
CACHE = Path(tempfile.gettempdir()) / "qimcore_bench_layers"


def _package_thickness(mask, scale=1.0):
    import localthickness  # optional: pip install localthickness

    # the package returns the inscribed radius (EDT); doubled to a diameter like ours
    return 2.0 * localthickness.local_thickness(mask, scale=scale)


class LayerAccuracy:
    """Synthetic curved porous layers and trabecular lattices with exact truth."""

    unit = "voxels or percentage points"

    def setup(self):
        self.volume, self.truth = concentric_layers((56, 64, 64), random_state=7)
        self.table = layer_table(self.volume, self.truth["heights"])

    def track_thickness_max_error_voxels(self):
        return float(np.abs(self.table["thickness_mean"] - self.truth["thickness"]).max())

    def track_porosity_max_error_pp(self):
        return float(100 * np.abs(self.table["porosity"] - self.truth["porosity"]).max())

    def _family_errors(self, one_threshold):
        from skimage.filters import threshold_otsu

        errors = []
        for seed in range(8):
            volume, truth = layer_family(random_state=seed, contrast=0.3, porosity=(0.0, 0.1))
            heights = truth["heights"]
            threshold = None
            if one_threshold:
                z = np.arange(volume.shape[0])[:, None, None]
                threshold = threshold_otsu(volume[(z >= heights[0]) & (z < heights[-1])])
            table = layer_table(volume, heights, threshold=threshold)
            errors.append(np.abs(table["porosity"] - truth["porosity"]).max())
        return 100 * float(max(errors))

    def track_family_porosity_max_error_pp(self):
        """Layers whose grey values differ by 30 % of the range, pores 0-10 %: library default."""
        return self._family_errors(one_threshold=False)

    def track_family_porosity_max_error_one_otsu_pp(self):
        """The same phantoms with one Otsu threshold for all layers (the method before)."""
        return self._family_errors(one_threshold=True)

    def _lattice_errors(self, kind):
        errs = []
        for t in (3, 5, 7, 9, 11):
            mask, truth = trabecular_lattice((48, 48, 48), kind=kind, thickness=t, spacing=24)
            row = bone_table(mask)
            errs.append((abs(row["tb_th"][0] - t), abs(row["bv_tv"][0] / truth["bv_tv"] - 1)))
        return np.array(errs)

    def track_tb_th_max_error_plates_voxels(self):
        return float(self._lattice_errors("plates")[:, 0].max())

    def track_tb_th_max_error_rods_voxels(self):
        return float(self._lattice_errors("rods")[:, 0].max())

    def track_bv_tv_max_relative_error_percent(self):
        return float(100 * max(self._lattice_errors(k)[:, 1].max() for k in ("plates", "rods")))

    def track_package_tb_th_error_plates_voxels(self):
        errs = []
        for t in (3, 5, 7, 9, 11):
            mask, _ = trabecular_lattice((48, 48, 48), kind="plates", thickness=t, spacing=24)
            errs.append(abs(float(_package_thickness(mask)[mask].mean()) - t))
        return max(errs)


class ShellSample:
    """Steps on the real shell (225×128×128): polar unfolding of 33 slices, the 3D search of
    three surfaces (one minimum cut), the layer table; slice-to-slice smoothness against a
    per-slice 2D search."""

    repeat = 1
    unit = "µm (voxel = 1), % or voxels"
    edges = ("falling", "rising", "falling")

    def setup(self):
        self.smooth = ndi.gaussian_filter(qimcore.data.sample("shell").astype(np.float32), 1.0)
        self.options = {"radii": np.arange(8.0, 60.0), "n_angles": 90, "delta": (2, 2),
                        "regions": (None, None, "solid", "void"), "min_distance": 2,
                        "max_distance": 30}
        self.slices = np.arange(48, 177, 4)
        self.result = self._search()

    def _search(self):
        return shell_layers(self.smooth, self.edges, slices=self.slices, **self.options)

    def time_unfold_polar(self):
        unfold_polar(self.smooth[self.slices], self.result.centres, self.result.radii, 90)

    def time_shell_layers_3d(self):
        self._search()

    def time_layer_table(self):
        layer_table(self.result.unfolded, self.result.heights)

    def track_outer_wall_thickness(self):
        return float(self.result.table["thickness_mean"][1])

    def track_outer_wall_porosity_percent(self):
        return float(100 * self.result.table["porosity"][1])

    def track_chamber_ring_thickness(self):
        return float(self.result.table["thickness_mean"][0])

    def track_chamber_ring_porosity_percent(self):
        return float(100 * self.result.table["porosity"][0])

    def track_max_slice_step_3d_voxels(self):
        return float(np.abs(np.diff(self.result.heights, axis=1)).max())

    def track_max_slice_step_per_slice_2d_voxels(self):
        per_slice = [shell_layers(self.smooth, self.edges, slices=[k],
                                  center=self.result.centres[j], **self.options).heights
                     for j, k in enumerate(self.slices)]
        return float(np.abs(np.diff(np.concatenate(per_slice, axis=1), axis=1)).max())


class BoneSample:
    """Steps on the real trabecular bone (128³): Otsu mask, local thickness, bone table."""

    repeat = 1
    unit = "µm (voxel = 1)"

    def setup(self):
        from skimage.filters import threshold_otsu

        self.volume = qimcore.data.sample("bone")
        self.mask = self.volume > threshold_otsu(self.volume)

    def time_local_thickness_exact(self):
        local_thickness(self.mask)

    def time_local_thickness_package(self):
        _package_thickness(self.mask)

    def time_local_thickness_package_half_scale(self):
        _package_thickness(self.mask, scale=0.5)

    def time_bone_table(self):
        bone_table(self.mask, intensity=self.volume)

    def track_local_thickness_speedup_vs_package(self):
        """Package time / our exact time, best of 3 each, measured alternately in one run."""
        ours, package = [], []
        for _ in range(3):
            for times, func in ((ours, local_thickness), (package, _package_thickness)):
                start = time.perf_counter()
                func(self.mask)
                times.append(time.perf_counter() - start)
        return min(package) / min(ours)

    def track_tb_th_exact(self):
        return float(local_thickness(self.mask)[self.mask].mean())

    def track_tb_th_package(self):
        return float(_package_thickness(self.mask)[self.mask].mean())

    def track_tb_sp_exact(self):
        return float(bone_table(self.mask)["tb_sp"][0])


def _big_layers_block(block_info=None):
    """One chunk of a 512³ dome of 4 porous layers (float32 intensity, 0 = pore/air)."""
    loc = block_info[None]["array-location"]
    z, y, x = np.meshgrid(*[np.arange(lo, hi, dtype=np.float32) for lo, hi in loc],
                          indexing="ij")
    r = np.sqrt((z - 1100.0) ** 2 + (y - BIG / 2) ** 2 + (x - BIG / 2) ** 2)
    layer = np.floor((1000.0 - r) / 60.0).astype(np.int64)   # layers 60 voxels thick: 0..3
    rng = np.random.default_rng([lo for lo, _ in loc])
    pores = ndi.gaussian_filter(rng.standard_normal(z.shape, dtype=np.float32), 1.5)
    cut = np.array([np.inf, -1.64, -1.28, -0.84, -0.52, np.inf])[np.clip(layer + 1, 0, 5)]
    solid = pores / pores.std() > cut                  # porosity 5, 10, 20, 30 % by layer
    return (solid + 0.05 * rng.standard_normal(z.shape, dtype=np.float32)).astype(np.float32)


def _big_heights():
    y, x = np.meshgrid(np.arange(BIG) - BIG / 2, np.arange(BIG) - BIG / 2, indexing="ij")
    radii = 1000.0 - 60.0 * np.arange(5)
    return np.ceil(1100.0 - np.sqrt(radii[:, None, None] ** 2 - y ** 2 - x ** 2)).astype(np.int64)


def _big_bone_block(block_info=None):
    """One chunk of a 512³ lattice of rods (diameter 5) along all three axes, spacing 16."""
    loc = block_info[None]["array-location"]
    z, y, x = (np.arange(lo, hi) % 16 - 8 for lo, hi in loc)
    zz, yy, xx = np.meshgrid(z, y, x, indexing="ij")
    r2 = 2.5 ** 2
    return (yy ** 2 + xx ** 2 <= r2) | (zz ** 2 + xx ** 2 <= r2) | (zz ** 2 + yy ** 2 <= r2)


def _zarr(name, func, dtype):
    path = CACHE / f"{name}.zarr"
    if not (path / "zarr.json").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        arr = da.map_blocks(func, chunks=((CHUNK,) * (BIG // CHUNK),) * 3, dtype=dtype)
        arr.to_zarr(str(path), overwrite=True)
    return da.from_zarr(str(path))


class Big512:
    """Chunked path on 512³ synthetic zarr volumes (128³ chunks), results written to zarr."""

    repeat = 1
    max_thickness = 20.0            # rods 5 voxels, marrow gaps up to ~16 voxels

    def setup(self):
        self.layers = _zarr("layers512", _big_layers_block, np.float32)
        self.heights = _big_heights()
        self.bone = _zarr("rods512", _big_bone_block, bool)
        self.row = None

    def _thickness_to_zarr(self):
        out = local_thickness(self.bone, max_thickness=self.max_thickness)
        out.to_zarr(str(CACHE / "thickness512.zarr"), overwrite=True)

    def time_layer_table_512(self):
        layer_table(self.layers, self.heights)

    def peakmem_layer_table_512(self):
        layer_table(self.layers, self.heights)

    def time_local_thickness_512_to_zarr(self):
        self._thickness_to_zarr()

    def peakmem_local_thickness_512_to_zarr(self):
        self._thickness_to_zarr()

    def time_bone_table_512(self):
        self.row = bone_table(self.bone, max_thickness=self.max_thickness)

    def peakmem_bone_table_512(self):
        bone_table(self.bone, max_thickness=self.max_thickness)

    def track_bone_512_tb_th_error(self):
        row = self.row if self.row is not None else bone_table(
            self.bone, max_thickness=self.max_thickness)
        return float(abs(row["tb_th"][0] - 5.0))

    def track_layers_512_thickness_error(self):
        table = layer_table(self.layers, self.heights)
        return float(np.abs(table["thickness_mean"] - 60.0).max())
