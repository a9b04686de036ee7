"""Input checks shared by the public functions.

Every check raises ``ValueError`` or ``TypeError`` whose message names the argument.
"""

from __future__ import annotations

import numbers
from typing import Any

import dask.array as da
import numpy as np


def array(x: Any, name: str, *, ndim: int | tuple[int, ...] | None = None,
          finite: bool = True, allow_dask: bool = True) -> np.ndarray | da.Array:
    """Return ``x`` as a numpy (or dask) array after checking dtype, ndim and finiteness.

    Parameters
    ----------
    x : array_like
        The input.
    name : str
        Argument name used in error messages.
    ndim : int or tuple of int, optional
        Allowed numbers of dimensions.
    finite : bool
        Reject NaN and inf (numpy inputs only; dask inputs are checked lazily by callers).
    allow_dask : bool
        Keep dask arrays lazy; otherwise a dask array is rejected.

    Raises
    ------
    TypeError
        When ``x`` is not numeric.
    ValueError
        When ``x`` has the wrong number of dimensions or contains non-finite values.
    """
    if isinstance(x, da.Array):
        if not allow_dask:
            raise TypeError(f"{name} must be a numpy array here, not a dask array")
        arr = x
    else:
        if x is None:
            raise TypeError(f"{name} must be an array, got None")
        arr = np.asarray(x)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number)
                                   or arr.dtype == bool):
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}D" for d in allowed)
            raise ValueError(f"{name} must be {want}, got a {arr.ndim}D array of shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if finite and isinstance(arr, np.ndarray) and np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or inf values")
    return arr


def positive(value: Any, name: str, *, integer: bool = False, allow_zero: bool = False) -> Any:
    """Check that a scalar is a positive (optionally integer) number and return it."""
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        what = "an integer" if integer else "a number"
        raise TypeError(f"{name} must be {what}, got {value!r}")
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    return value


def choice(value: Any, name: str, options: tuple[str, ...]) -> str:
    """Check that ``value`` is one of ``options``."""
    if value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value
