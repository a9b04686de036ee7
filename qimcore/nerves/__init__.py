"""Myelinated nerves: tracking axon and myelin boundaries along ``z`` and measuring them.

:func:`track_nerves` follows each nerve slice by slice as two closed curves (axon boundary and
outer myelin boundary) found by an exact graph cut; :func:`nerve_table`, :func:`nerve_slices`
and :func:`nerve_nodes` turn the tracks into tables in micrometres.
"""

from ._tables import *  # noqa: F403
from ._tables import __all__ as _tables_all
from ._track import *  # noqa: F403
from ._track import __all__ as _track_all

__all__ = [*_track_all, *_tables_all]
