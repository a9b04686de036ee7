"""Drawing phantom properties from ``(low, high)`` ranges: the one rule every family uses."""

from __future__ import annotations

from typing import Any

import numpy as np


def draw(rng: np.random.Generator, bounds: Any, name: str, *, size: int | None = None,
         integer: bool = False, minimum: float | None = None) -> Any:
    """A uniform draw from the range ``bounds = (low, high)``, or the number ``bounds`` itself.

    Parameters
    ----------
    rng : numpy.random.Generator
    bounds : number or (low, high)
        A range is sampled uniformly (integers: ``low..high`` inclusive); a single number is
        returned as it is, without drawing.
    name : str
        Argument name for the error message.
    size : int, optional
        Draw this many values (an array) instead of one.
    integer : bool, optional
        Draw an integer.
    minimum : float, optional
        Smallest allowed value.

    Returns
    -------
    float, int or ndarray

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> draw(rng, 3.0, "x"), 1 <= draw(rng, (1, 2), "x") <= 2
    (3.0, True)
    """
    if np.ndim(bounds) == 0:
        low = high = float(bounds)
    else:
        low, high = map(float, bounds)
    if not (np.isfinite(low) and np.isfinite(high)) or high < low or (
            minimum is not None and low < minimum):
        floor = "" if minimum is None else f" and low >= {minimum:g}"
        raise ValueError(f"{name} must be a number or a (low, high) range with low <= high"
                         f"{floor}, got {bounds!r}")
    if np.ndim(bounds) == 0:
        value = int(low) if integer else low
        return value if size is None else np.full(size, value)
    if integer:
        return int(rng.integers(int(low), int(high) + 1))
    return float(rng.uniform(low, high)) if size is None else rng.uniform(low, high, size)
