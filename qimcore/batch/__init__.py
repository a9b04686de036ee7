"""Batch processing: notebook parameter sweeps and per-slab statistics of large volumes.

``python -m qimcore.batch NOTEBOOK GRID --output DIR [--workers N]`` (or ``qimcore-batch``)
runs a notebook with papermill once per parameter set, each run in its own process, and
resumes where it stopped; :func:`run_batch` is the same from Python.
:func:`slab_statistics` and :func:`porosity_by_slab` (from :mod:`qimcore.layers`, kept here
under their old names) reduce a chunked (dask) volume or probability map slab by slab.
Papermill is imported only inside the worker processes.
"""

from ..layers import porosity_by_slab, slab_statistics  # old names, kept working
from ._cli import main
from ._grid import notebook_parameters, read_grid
from ._runner import run_batch
from ._tables import save_tables

__all__ = ["main", "notebook_parameters", "porosity_by_slab", "read_grid", "run_batch",
           "save_tables", "slab_statistics"]
