"""Graph-cut layered surfaces: exact optimal nets, polar and normal unfolding.

``detect_surfaces`` finds smooth, ordered surfaces (curves in 2D, terrains in 3D) as one
minimum cut; ``unfold_polar`` / ``sample_normals`` resample closed curves and tubes onto a
grid it can search, and ``polar_to_points`` / ``normals_to_points`` map the result back.
"""

from ._graph import *  # noqa: F403
from ._graph import __all__ as _graph_all
from ._unfold import *  # noqa: F403
from ._unfold import __all__ as _unfold_all

__all__ = [*_graph_all, *_unfold_all]
