"""Chunked I/O: lazy loading, OME-Zarr writing and chunked reduction of a 256³ volume."""

import shutil
import tempfile
from pathlib import Path

import dask.array as da

from qimcore import data, io

SHAPE = (256, 256, 256)


class Zarr256:
    unit = "s"

    def setup(self):
        self.tmp = Path(tempfile.gettempdir()) / "qimcore_bench_io"
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir()
        self.volume = da.random.default_rng(0).random(SHAPE, chunks=128).astype("float32")
        self.zarr = self.tmp / "vol.zarr"
        io.save(self.volume, self.zarr)

    def time_load_lazy(self):
        io.load(self.zarr)

    def time_mean_chunked(self):
        io.load(self.zarr).mean().compute()

    def time_save_zarr(self):
        io.save(self.volume, self.tmp / "copy.zarr")

    def time_save_ome_zarr_multiscale(self):
        io.save(self.volume, self.tmp / "copy.ome.zarr")

    def peakmem_mean_chunked(self):
        io.load(self.zarr).mean().compute()


class Samples:
    def time_load_tiff_nerves_lazy(self):
        io.load(data.sample_path("nerves"))

    def time_load_tiff_nerves_compute(self):
        io.load(data.sample_path("nerves")).compute()
