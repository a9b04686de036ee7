"""Graph-cut layered surfaces: exact optimal nets on grids, costs, meshes.

``detect_surfaces`` finds smooth, ordered surfaces (curves in 2D, terrains in 3D) as one
minimum cut; ``detect_surfaces_banded`` does so coarse-to-fine in a narrow band for large
volumes. A case study reads grid -> cost -> ``detect_surfaces`` -> points or mesh:

- grids (``HeightGrid``, ``PolarGrid``, ``CurveNormalGrid``, ``MeshNormalGrid``) sample a
  volume with the depth first and map heights to points or meshes and back (functional
  forms: ``unfold_polar`` / ``polar_to_points``, ``sample_normals`` / ``normals_to_points``);
- costs (``edge_cost``, ``region_cost``, ``probability_cost``) turn intensities or class
  probabilities into costs (lower = more likely a boundary);
- geometry: ``curve_normals``, ``polygon_area``, ``polar_radii``, ``ray_directions``,
  ``mesh_normals``, ``sphere_mesh``, ``mask_mesh``, ``heights_to_mesh``, ``heights_to_labels``
  (the segmentation a set of surfaces makes); ``deform_mesh``
  refines a closed 3D mesh along its normals.
"""

from ._banded import *  # noqa: F403
from ._banded import __all__ as _banded_all
from ._costs import *  # noqa: F403
from ._costs import __all__ as _costs_all
from ._curves import *  # noqa: F403
from ._curves import __all__ as _curves_all
from ._deform import *  # noqa: F403
from ._deform import __all__ as _deform_all
from ._graph import *  # noqa: F403
from ._graph import __all__ as _graph_all
from ._grids import *  # noqa: F403
from ._grids import __all__ as _grids_all
from ._mesh import *  # noqa: F403
from ._mesh import __all__ as _mesh_all
from ._unfold import *  # noqa: F403
from ._unfold import __all__ as _unfold_all

__all__ = [*_graph_all, *_banded_all, *_grids_all, *_costs_all, *_curves_all, *_mesh_all,
           *_deform_all, *_unfold_all]
