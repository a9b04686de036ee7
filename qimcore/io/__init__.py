"""Chunked loading and saving of CT volumes and surface meshes.

Every reader returns a lazy :class:`dask.array.Array` indexed ``(z, y, x)`` (2D images ``(y, x)``)
with chunks of about 128³ voxels for volumes, without reading voxel data up front.

Formats read by :func:`load`: TIFF (2D, 3D, multi-page), a folder (or list) of 2D TIFF/PNG slices,
zarr v2/v3 and OME-Zarr, HDF5 (``file.h5::dataset``), ``.npy``, raw binary (``.raw``/``.vol``),
NIfTI (``.nii``/``.nii.gz``) and DICOM series. :func:`save` writes zarr v3 (OME-Zarr multiscale
for ``.ome.zarr``), TIFF and ``.npy``. :func:`save_mesh` / :func:`load_mesh` handle STL, PLY
and VTK surface meshes.
"""

from ._load import load
from ._mesh import load_mesh, save_mesh
from ._save import save

__all__ = ["load", "save", "save_mesh", "load_mesh"]
