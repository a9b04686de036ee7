"""Layers, shells and bone: thickness and porosity per growth layer, bone morphometry.

Growth layers are the slabs between consecutive surfaces ``heights`` found by
:func:`qimcore.surfaces.detect_surfaces`: voxel ``(z, p)`` belongs to layer ``i`` when
``heights[i, p] <= z < heights[i + 1, p]`` (:func:`layer_table`, :func:`layer_thickness`).
Rolled layers (shells) are unfolded around their centre line and searched in one 3D call by
:func:`shell_layers`. Bone metrics follow BoneJ: BV/TV, and Tb.Th and Tb.Sp as mean local
thickness (diameter of the largest inscribed sphere, :func:`local_thickness`) of bone and
marrow (:func:`bone_table`). Per-slab statistics of volumes larger than memory:
:func:`slab_statistics`, :func:`porosity_by_slab`.

Modules: ``_flat`` (layers between surfaces), ``_shells`` (rolled layers), ``_thickness``
(local thickness), ``_bone`` (bone morphometry), ``_slabs`` (per-slab statistics).
"""

from ._bone import bone_table
from ._flat import layer_table, layer_thickness
from ._shells import ShellLayers, shell_layers
from ._slabs import porosity_by_slab, slab_statistics
from ._thickness import local_thickness

__all__ = ["ShellLayers", "bone_table", "layer_table", "layer_thickness", "local_thickness",
           "porosity_by_slab", "shell_layers", "slab_statistics"]
