"""Synthetic terrain with known truth: noisy layered images with exact integer surfaces."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from ... import _validate
from ...surfaces import heights_to_labels

__all__ = ["terrain"]


def terrain(shape: tuple[int, ...] = (32, 40, 40), n_surfaces: int = 2, *, delta: int = 1,
            min_distance: int = 2, smoothness: float = 6.0, noise: float = 0.2,
            random_state: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Layered volume (or image) with smooth integer surfaces and Gaussian noise.

    Voxel ``(z, p)`` lies in region ``k`` = the number of surfaces with
    ``heights[i][p] <= z`` and has intensity ``k / n_surfaces`` plus noise, the region
    convention of :func:`qimcore.surfaces.detect_surfaces` (see
    :func:`qimcore.surfaces.heights_to_labels`).

    Parameters
    ----------
    shape : (Z, X) or (Z, Y, X) tuple of int
        Output shape; axis 0 is depth (voxels), the rest are columns.
    n_surfaces : int
        Number of surfaces.
    delta : int
        The true surfaces satisfy ``|h(p) - h(q)| <= delta`` for 4-neighbour columns.
    min_distance : int
        The true surfaces satisfy ``heights[i + 1] - heights[i] >= min_distance``.
    smoothness : float
        Gaussian sigma (columns) of the random relief.
    noise : float
        Standard deviation of the additive Gaussian noise.
    random_state : int, optional
        Seed for ``numpy.random.default_rng``.

    Returns
    -------
    volume : ndarray of float32, shape ``shape``
        The noisy layered image.
    heights : (n_surfaces,) + shape[1:] ndarray of int64
        The true surfaces, ascending along axis 0.

    Examples
    --------
    >>> vol, h = terrain((20, 8, 9), n_surfaces=2, noise=0.0)
    >>> vol.shape, vol.dtype.name, h.shape
    ((20, 8, 9), 'float32', (2, 8, 9))
    >>> bool((np.diff(h, axis=0) >= 2).all() and (np.abs(np.diff(h, axis=1)) <= 1).all())
    True
    """
    if len(shape) not in (2, 3) or not all(isinstance(s, int) and s > 0 for s in shape):
        raise ValueError(f"shape must be (Z, X) or (Z, Y, X) positive ints; got {shape!r}")
    _validate.positive(n_surfaces, "n_surfaces", integer=True)
    _validate.positive(delta, "delta", integer=True, allow_zero=True)
    _validate.positive(min_distance, "min_distance", integer=True, allow_zero=True)
    _validate.positive(noise, "noise", allow_zero=True)
    rng = np.random.default_rng(random_state)
    depth, cols = shape[0], shape[1:]
    spacing = depth / (n_surfaces + 1)
    amplitude = (spacing - min_distance - 1) / 2
    if amplitude < 0:
        raise ValueError(f"shape[0]={depth} is too small for n_surfaces={n_surfaces} surfaces "
                         f"min_distance={min_distance} apart")
    heights = np.empty((n_surfaces,) + cols, np.int64)
    for i in range(n_surfaces):
        relief = ndi.gaussian_filter(rng.standard_normal(cols), smoothness, mode="wrap")
        relief -= relief.mean()
        steepest = max((np.abs(np.diff(relief, axis=a)).max() for a in range(len(cols))
                        if cols[a] > 1), default=0.0)
        scale = amplitude / max(np.abs(relief).max(), 1e-12)
        if steepest > 0:
            scale = min(scale, 0.99 * delta / steepest)
        # floor keeps |h(p) - h(q)| <= delta because the real relief steps are <= delta
        heights[i] = np.floor(spacing * (i + 1) + scale * relief)
    volume = heights_to_labels(heights, depth) / n_surfaces + noise * rng.standard_normal(shape)
    return volume.astype(np.float32), heights
