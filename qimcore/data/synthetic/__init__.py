"""Small synthetic volumes with exact ground truth, for tests, benchmarks and tutorials.

Each generator takes a ``random_state`` and returns the image together with its truth.
"""

from ._bone import *  # noqa: F403
from ._bone import __all__ as _b
from ._fibres import *  # noqa: F403
from ._fibres import __all__ as _f
from ._layers import *  # noqa: F403
from ._layers import __all__ as _l
from ._nerves import *  # noqa: F403
from ._nerves import __all__ as _n
from ._terrain import *  # noqa: F403
from ._terrain import __all__ as _t
from ._textures import *  # noqa: F403
from ._textures import __all__ as _x

__all__ = [*_b, *_f, *_l, *_n, *_t, *_x]
