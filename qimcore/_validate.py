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
        Reject NaN and inf: at once for numpy input; for dask input the returned array raises
        the same error when a chunk holding NaN or inf is computed (the check costs no pass
        over the data of its own).
    allow_dask : bool
        Keep dask arrays lazy; otherwise a dask array is rejected.

    Raises
    ------
    TypeError
        When ``x`` is not numeric or is complex.
    ValueError
        When ``x`` has the wrong number of dimensions, is empty or contains non-finite values.
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
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must be real-valued, got the complex dtype {arr.dtype}; "
                        "pass its real part or magnitude (np.abs) explicitly")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}D" for d in allowed)
            raise ValueError(f"{name} must be {want}, got a {arr.ndim}D array of shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if finite and np.issubdtype(arr.dtype, np.floating):
        if isinstance(arr, da.Array):
            return arr.map_blocks(_finite_block, name, dtype=arr.dtype)
        _finite_block(arr, name)
    return arr


def _finite_block(block: np.ndarray, name: str) -> np.ndarray:
    if not np.isfinite(block).all():
        raise ValueError(f"{name} contains NaN or inf values")
    return block


def in_range(value: Any, name: str, low: float | None = None, high: float | None = None, *,
             low_open: bool = False, high_open: bool = False, integer: bool = False) -> Any:
    """Check that a real scalar lies in ``[low, high]`` (open ends optional) and return it.

    Examples
    --------
    >>> in_range(0.3, "threshold", 0, 1)
    0.3
    >>> in_range(-1, "threshold", 0, 1)
    Traceback (most recent call last):
    ...
    ValueError: threshold must be in [0, 1], got -1
    """
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        what = "an integer" if integer else "a real number"
        raise TypeError(f"{name} must be {what}, got {value!r}")
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if not np.isfinite(value) or below or above:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        interval = f"{'(' if low_open or low is None else '['}{lo}, {hi}" \
                   f"{')' if high_open or high is None else ']'}"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return value


def varying(arr: Any, name: str) -> None:
    """Refuse a constant numpy array (nothing to detect in it); dask input is not read."""
    if isinstance(arr, np.ndarray) and arr.size and arr.min() == arr.max():
        raise ValueError(f"{name} is constant (every value {arr.flat[0]!r}); there is "
                         "nothing to detect in it")


def min_shape(arr: Any, name: str, minimum: tuple[int, ...]) -> None:
    """Refuse an array smaller than ``minimum`` along its last axes."""
    shape = tuple(arr.shape[-len(minimum):])
    if any(s < m for s, m in zip(shape, minimum)):
        raise ValueError(f"{name} of shape {tuple(arr.shape)} is too small: it needs at least "
                         f"{minimum} voxels along its last {len(minimum)} axes")


def probabilities(p: Any, name: str, *, axis: int | None = 0, atol: float = 1e-3) -> Any:
    """Check probabilities: finite, in [0, 1] and (unless ``axis`` is None) summing to 1 along
    ``axis``.

    numpy input is checked at once; dask input is checked chunk by chunk when computed (the
    sum only when ``axis`` lies in one chunk). Returns ``p`` (dask: with the check attached).
    """
    if isinstance(p, da.Array):
        if axis is not None and len(p.chunks[axis]) > 1:
            axis = None
        return p.map_blocks(_probability_block, name, axis, atol, dtype=p.dtype)
    return _probability_block(np.asarray(p), name, axis, atol)


def _probability_block(block: np.ndarray, name: str, axis: int | None, atol: float) -> np.ndarray:
    _finite_block(block, name)
    if block.size and (block.min() < -atol or block.max() > 1 + atol):
        raise ValueError(f"{name} must lie in [0, 1], got values in "
                         f"[{block.min():g}, {block.max():g}]")
    if axis is not None and block.size:
        total = block.sum(axis=axis, dtype=np.float64)
        if np.abs(total - 1).max() > atol:
            raise ValueError(f"{name} must sum to 1 over axis {axis} (one value per class), "
                             f"got sums in [{total.min():g}, {total.max():g}]")
    return block


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


def centre_reaches(center: Any, radius: float, shape: tuple[int, ...], name: str = "center"
                   ) -> None:
    """Refuse (y, x) centres from which no ray of length ``radius`` enters a ``shape`` image.

    Outside the image samples repeat the nearest edge value, so such rays would carry no
    information at all.
    """
    c = np.asarray(array(center, name, allow_dask=False), np.float64)
    if c.shape[-1:] != (2,):
        return  # the caller reports the wrong shape
    c = c.reshape(-1, 2)
    box = np.asarray(shape[-2:], np.float64) - 1
    gap = np.hypot(*(np.clip(c, 0, box) - c).T)
    if (gap > radius).any():
        worst = c[np.argmax(gap)]
        raise ValueError(f"{name} {tuple(worst.tolist())} lies {gap.max():.1f} px outside the "
                         f"image of shape {tuple(shape[-2:])}, farther than the largest radius "
                         f"{radius:g}: every ray would sample only the clamped edge value")
