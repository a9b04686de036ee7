"""Graph-cut layered surfaces: exact optimal nets, polar and normal unfolding, meshes.

``detect_surfaces`` finds smooth, ordered surfaces (curves in 2D, terrains in 3D) as one
minimum cut; ``detect_surfaces_banded`` does so coarse-to-fine in a narrow band for large
volumes; ``unfold_polar`` / ``sample_normals`` resample closed curves and tubes onto a
grid it can search, and ``polar_to_points`` / ``normals_to_points`` map the result back;
``deform_mesh`` refines a closed 3D mesh (``sphere_mesh``, ``mask_mesh``) along its normals.
"""

from ._banded import *  # noqa: F403
from ._banded import __all__ as _banded_all
from ._graph import *  # noqa: F403
from ._graph import __all__ as _graph_all
from ._mesh import *  # noqa: F403
from ._mesh import __all__ as _mesh_all
from ._unfold import *  # noqa: F403
from ._unfold import __all__ as _unfold_all

__all__ = [*_graph_all, *_banded_all, *_mesh_all, *_unfold_all]
