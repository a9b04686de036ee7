"""Synthetic textures with known truth: regions of equal brightness that differ only in texture."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage as ndi

from ... import _validate
from ._ranges import draw

__all__ = ["texture_phantom", "texture_family", "sparse_labels"]


def texture_phantom(shape: tuple[int, ...] = (128, 128), n_classes: int = 3, *,
                    region_size: float = 16.0, period: float = 6.0, noise: float = 0.3,
                    random_state: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Image or volume of smooth random regions, each filled with one of ``n_classes`` textures.

    Class ``c`` is a plane wave (stripes) with its own direction; all classes share the same
    mean and contrast, so intensity alone cannot separate them, only the texture can.

    Parameters
    ----------
    shape : (Y, X) or (Z, Y, X) tuple of int
        Output shape (voxels).
    n_classes : int
        Number of textures (classes ``1..n_classes``).
    region_size : float
        Gaussian sigma (voxels) of the random field whose arg-max makes the regions.
    period : float
        Stripe period (voxels).
    noise : float
        Standard deviation of the additive Gaussian noise (stripe amplitude is 1).
    random_state : int, optional
        Seed for ``numpy.random.default_rng``.

    Returns
    -------
    image : ndarray of float32, shape ``shape``
        The textured image.
    truth : ndarray of uint8, shape ``shape``
        The class of every voxel, ``1..n_classes``.

    Examples
    --------
    >>> image, truth = texture_phantom((32, 40), n_classes=3, region_size=4)
    >>> image.shape, image.dtype.name, sorted(np.unique(truth).tolist())
    ((32, 40), 'float32', [1, 2, 3])
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise ValueError(f"shape must be 2 or 3 positive ints, got {shape!r}")
    _validate.positive(n_classes, "n_classes", integer=True)
    _validate.positive(region_size, "region_size")
    _validate.positive(period, "period")
    _validate.positive(noise, "noise", allow_zero=True)
    rng = np.random.default_rng(random_state)
    truth = _regions(shape, n_classes, region_size, rng)
    golden = np.pi * (3 - np.sqrt(5))
    directions = []
    for c in range(n_classes):
        # well-separated directions on the half circle (2D) or half sphere (3D)
        angle = np.pi * c / n_classes
        if len(shape) == 2:
            directions.append((np.sin(angle), np.cos(angle)))
        else:
            zc = 1 - (c + 0.5) / n_classes
            rho = np.sqrt(1 - zc * zc)
            directions.append((zc, rho * np.sin(golden * c), rho * np.cos(golden * c)))
    image = _stripes(truth, directions, [period] * n_classes, [0.0] * n_classes, rng)
    image += noise * rng.standard_normal(shape).astype(np.float32)
    return image.astype(np.float32), truth


def _regions(shape: tuple[int, ...], n_classes: int, region_size: float,
             rng: np.random.Generator) -> np.ndarray:
    """Classes ``1..n_classes`` (uint8): arg-max of smooth random fields of sigma ``region_size``."""
    field = rng.standard_normal((n_classes,) + shape).astype(np.float32)
    for c in range(n_classes):
        field[c] = ndi.gaussian_filter(field[c], region_size, mode="wrap")
    # balance the classes: each field scaled to unit spread
    field /= field.reshape(n_classes, -1).std(axis=1).reshape((n_classes,) + (1,) * len(shape))
    return (np.argmax(field, axis=0) + 1).astype(np.uint8)


def _stripes(truth: np.ndarray, directions: list, periods: list, levels: list,
             rng: np.random.Generator) -> np.ndarray:
    """Unit-amplitude plane waves, class ``c`` with ``directions[c - 1]`` (unit vectors),
    ``periods[c - 1]`` (voxels), a random phase, added to the grey value ``levels[c - 1]``."""
    grids = np.meshgrid(*[np.arange(s, dtype=np.float32) for s in truth.shape], indexing="ij")
    image = np.zeros(truth.shape, np.float32)
    for c, (direction, period, level) in enumerate(zip(directions, periods, levels), start=1):
        phase = sum(d * g for d, g in zip(direction, grids))
        wave = np.sin(2 * np.pi * phase / period + rng.uniform(0, 2 * np.pi))
        image[truth == c] = wave[truth == c] + level
    return image


def _draw(value: Any, name: str, rng: np.random.Generator, integer: bool = False) -> float:
    """:func:`draw` with a value >= 0; a single number is drawn too, so seeds keep their images."""
    return draw(rng, (value, value) if np.isscalar(value) else value, name, integer=integer,
                minimum=0)


def texture_family(shape: tuple[int, ...] = (128, 128), *,
                   n_classes: int | tuple[int, int] = (2, 5),
                   region_size: float | tuple[float, float] = (8.0, 32.0),
                   period: float | tuple[float, float] = (3.0, 12.0),
                   contrast: float | tuple[float, float] = (1.0, 5.0),
                   level: float | tuple[float, float] = (0.0, 0.5),
                   random_state: int | np.random.Generator | None = None
                   ) -> tuple[np.ndarray, np.ndarray, dict]:
    """One random member of a family of texture images for testing segmentation.

    Each range ``(low, high)`` is sampled uniformly (pass a single value to fix a property).
    Regions as in :func:`texture_phantom`; class ``c`` is filled with stripes (a plane wave of
    amplitude 1) of its own period, a direction spread evenly over the half circle (2D) or
    half sphere (3D) after a random rotation, and its own mean grey value; Gaussian noise
    of standard deviation ``1 / contrast`` is added.

    Parameters
    ----------
    shape : (Y, X) or (Z, Y, X) tuple of int
        Output shape (voxels).
    n_classes : int or (int, int)
        Number of classes (inclusive range), at least 2.
    region_size : float or (float, float)
        Gaussian sigma (voxels) of the random fields whose arg-max makes the regions.
    period : float or (float, float)
        Stripe period (voxels), drawn per class: classes differ in scale and direction.
    contrast : float or (float, float)
        Stripe amplitude over noise standard deviation (signal-to-noise ratio), > 0.
    level : float or (float, float)
        Largest offset of a class's mean grey value from 0 (in stripe amplitudes); each class
        draws its offset uniformly in ``[-level, level]``: 0 = texture alone tells the classes.
    random_state : int or numpy.random.Generator, optional
        Seed for ``numpy.random.default_rng``.

    Returns
    -------
    image : ndarray of float32, shape ``shape``
    truth : ndarray of uint8, shape ``shape``
        Class of every voxel, ``1..n_classes``.
    params : dict
        The drawn properties: ``n_classes``, ``region_size``, ``contrast``, ``noise``
        (``1 / contrast``), ``level``, and per class ``periods``, ``directions``, ``levels``.

    Examples
    --------
    >>> image, truth, params = texture_family((48, 64), n_classes=3, region_size=6,
    ...                                       random_state=1)
    >>> image.shape, params["n_classes"], sorted(np.unique(truth).tolist())
    ((48, 64), 3, [1, 2, 3])
    >>> bool(3 <= min(params["periods"]) and max(params["periods"]) <= 12)
    True
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise ValueError(f"shape must be 2 or 3 positive ints, got {shape!r}")
    rng = np.random.default_rng(random_state)
    k = _draw(n_classes, "n_classes", rng, integer=True)
    if k < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes!r}")
    sigma = _draw(region_size, "region_size", rng)
    snr = _draw(contrast, "contrast", rng)
    lev = _draw(level, "level", rng)
    if sigma <= 0 or snr <= 0:
        raise ValueError("region_size and contrast must be > 0")
    periods = [_draw(period, "period", rng) for _ in range(k)]
    if min(periods) <= 0:
        raise ValueError(f"period must be > 0, got {period!r}")
    # evenly spread directions (a random rotation of a fixed spread set), in random order
    if len(shape) == 2:
        angles = rng.uniform(0, np.pi) + np.pi * rng.permutation(k) / k
        directions = [(np.sin(a), np.cos(a)) for a in angles]
    else:
        golden = np.pi * (3 - np.sqrt(5))
        zc = 1 - (np.arange(k) + 0.5) / k
        rho = np.sqrt(1 - zc * zc)
        spread = np.stack([zc, rho * np.sin(golden * np.arange(k)),
                           rho * np.cos(golden * np.arange(k))], axis=1)
        q, r = np.linalg.qr(rng.standard_normal((3, 3)))
        directions = [tuple(v) for v in spread[rng.permutation(k)] @ (q * np.sign(np.diag(r))).T]
    levels = rng.uniform(-lev, lev, k).tolist()
    truth = _regions(shape, k, sigma, rng)
    image = _stripes(truth, directions, periods, levels, rng)
    image += rng.standard_normal(shape).astype(np.float32) / np.float32(snr)
    params = {"n_classes": k, "region_size": sigma, "contrast": snr, "noise": 1 / snr,
              "level": lev, "periods": periods, "levels": levels,
              "directions": [tuple(float(v) for v in d) for d in directions]}
    return image.astype(np.float32), truth, params

def sparse_labels(truth: np.ndarray, fraction: float = 0.005, *, margin: int = 2,
                  slices: tuple[int, ...] | None = None,
                  random_state: int | None = 0) -> np.ndarray:
    """Sparse user-like labels drawn from a truth image: a few random pixels per class.

    Parameters
    ----------
    truth : ndarray of int
        Classes ``1..C`` (2D or 3D).
    fraction : float
        Fraction of all pixels (of the chosen slices) that get a label, split evenly over classes.
    margin : int
        Labelled pixels lie at least this far (pixels) inside their region.
    slices : tuple of int, optional
        Restrict labels to these indices along axis 0 (e.g. two slices of a volume).
    random_state : int, optional
        Seed for ``numpy.random.default_rng``.

    Returns
    -------
    labels : ndarray of uint8
        ``0`` = unlabelled, else the true class.

    Examples
    --------
    >>> truth = np.repeat([[1] * 10 + [2] * 10], 20, axis=0)
    >>> labels = sparse_labels(truth, 0.05)
    >>> int((labels > 0).sum()), bool((labels[labels > 0] == truth[labels > 0]).all())
    (20, True)
    """
    truth = np.asarray(truth)
    _validate.positive(fraction, "fraction")
    rng = np.random.default_rng(random_state)
    allowed = np.zeros(truth.shape, bool)
    if slices is None:
        allowed[...] = True
    else:
        allowed[list(slices)] = True
    classes = [c for c in np.unique(truth) if c > 0]
    n_total = int(round(fraction * allowed.sum()))
    labels = np.zeros(truth.shape, np.uint8)
    for c in classes:
        inside = ndi.binary_erosion(truth == c, iterations=margin) if margin else truth == c
        idx = np.flatnonzero(inside & allowed)
        take = rng.choice(idx, size=min(len(idx), max(1, n_total // len(classes))), replace=False)
        labels.flat[take] = c
    return labels
