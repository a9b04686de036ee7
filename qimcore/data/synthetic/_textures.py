"""Synthetic textures with known truth: regions of equal brightness that differ only in texture."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from ... import _validate

__all__ = ["texture_phantom", "sparse_labels"]


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
    field = rng.standard_normal((n_classes,) + shape).astype(np.float32)
    for c in range(n_classes):
        field[c] = ndi.gaussian_filter(field[c], region_size, mode="wrap")
    # balance the classes: each field scaled to unit spread
    field /= field.reshape(n_classes, -1).std(axis=1).reshape((n_classes,) + (1,) * len(shape))
    truth = (np.argmax(field, axis=0) + 1).astype(np.uint8)
    grids = np.meshgrid(*[np.arange(s, dtype=np.float32) for s in shape], indexing="ij")
    image = np.zeros(shape, np.float32)
    golden = np.pi * (3 - np.sqrt(5))
    for c in range(n_classes):
        # well-separated directions on the half circle (2D) or half sphere (3D)
        angle = np.pi * c / n_classes
        if len(shape) == 2:
            direction = (np.sin(angle), np.cos(angle))
        else:
            zc = 1 - (c + 0.5) / n_classes
            rho = np.sqrt(1 - zc * zc)
            direction = (zc, rho * np.sin(golden * c), rho * np.cos(golden * c))
        phase = sum(d * g for d, g in zip(direction, grids))
        wave = np.sin(2 * np.pi * phase / period + rng.uniform(0, 2 * np.pi))
        image[truth == c + 1] = wave[truth == c + 1]
    image += noise * rng.standard_normal(shape).astype(np.float32)
    return image.astype(np.float32), truth


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
