"""Physical units: voxel sizes in micrometres."""

from __future__ import annotations

from typing import Any

import numpy as np


def voxel_size(value: Any, ndim: int = 3) -> tuple[float, ...]:
    """Normalise ``voxel_size`` to one positive float per axis, in micrometres.

    Parameters
    ----------
    value : float or sequence of float
        One size for all axes, or one per axis in ``(z, y, x)`` order.
    ndim : int
        Number of axes.

    Returns
    -------
    tuple of float
        ``ndim`` sizes.

    Examples
    --------
    >>> voxel_size(2.0)
    (2.0, 2.0, 2.0)
    >>> voxel_size((1, 0.5), ndim=2)
    (1.0, 0.5)
    """
    if np.isscalar(value):
        sizes = (value,) * ndim
    else:
        sizes = tuple(value)
    if len(sizes) != ndim:
        raise ValueError(f"voxel_size must be a number or {ndim} numbers, got {value!r}")
    out = []
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, (int, float, np.integer, np.floating)):
            raise TypeError(f"voxel_size must be numeric, got {value!r}")
        if not np.isfinite(s) or s <= 0:
            raise ValueError(f"voxel_size must be > 0 and finite, got {value!r}")
        out.append(float(s))
    return tuple(out)
