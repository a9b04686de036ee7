"""Fibre composites: local orientation, fibre tracking in any direction, fibre statistics.

The pipeline (see ``notebooks/fibres.ipynb``) is

1. :func:`orientation`: structure-tensor fibre direction at every voxel (chunked);
2. :func:`track_fibres`: group voxels by ply direction, resample each ply so its fibres run
   along the first axis, detect fibre centres in the cross-sections (Laplacian of Gaussian),
   link them from section to section by optimal assignment with a predicted position;
3. :func:`fibre_table`, :func:`find_breaks`, :func:`fibre_summary`: length, orientation,
   diameter, breaks (gaps of matrix along each fibre), volume fraction, orientation tensor and
   a stiffness estimate.

:func:`estimate_diameter` gives the fibre diameter every step uses when none is given (a blurred
disc fitted to the mean cross-section profile). The fast float32 Gaussian filters live in
:mod:`qimcore._filters`.

All coordinates are voxel indices ``(z, y, x)``; tables are in micrometres and degrees.
"""

from ._breaks import find_breaks
from ._diameter import estimate_diameter
from ._orientation import orientation
from ._tables import fibre_summary, fibre_table
from ._tracking import track_fibres

__all__ = [
    "estimate_diameter",
    "fibre_summary",
    "fibre_table",
    "find_breaks",
    "orientation",
    "track_fibres",
]
