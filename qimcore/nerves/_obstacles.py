"""Obstacles of a nerve being tracked: the image's outside and the nerves tracked before it."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.path import Path
from scipy import ndimage as ndi
from skimage.draw import polygon2mask


def _blocked(points: np.ndarray, shape: tuple[int, int],
             taken: np.ndarray | None) -> np.ndarray:
    """Signed distance (pixels, > 0 = blocked) of ``(..., 2)`` points into the outside of
    the image (beyond the outer voxel edges) or into ``taken``, a signed distance map of the
    finished nerves (`_taken`)."""
    edge = np.maximum(-0.5 - points, points - (np.array(shape) - 0.5)).max(axis=-1)
    if taken is None:
        return edge
    inside = ndi.map_coordinates(taken, np.moveaxis(points, -1, 0), order=1, mode="nearest")
    return np.maximum(edge, inside)


def _taken(curves: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray | None:
    """Signed distance map (pixels, > 0 inside) of the union of closed ``(n, 2)`` curves
    (the outer curves of the finished nerves in one slice); None when there are none."""
    if not curves:
        return None
    mask = np.zeros(shape, bool)
    for curve in curves:
        mask |= polygon2mask(shape, curve)
    if not mask.any():
        return None
    return (ndi.distance_transform_edt(mask) - ndi.distance_transform_edt(~mask)).astype(
        np.float32) - np.where(mask, 0.5, -0.5).astype(np.float32)


def _join(record: dict[int, tuple[Any, bool]],
          done: list[dict[int, tuple[Any, bool]]]) -> None:
    """Append a new nerve's ``record`` to ``done``, or merge it into a finished nerve that
    continues it in the next or previous slice (its axon centre inside that outer curve)."""
    for old in done:
        for end, nxt in ((max(record), max(record) + 1), (min(record), min(record) - 1)):
            if nxt in old and not any(z in old for z in record) \
                    and Path(old[nxt][0].outer).contains_point(record[end][0].inner.mean(axis=0)):
                old.update(record)
                return
    done.append(record)


class _Taken:
    """Signed distance maps (`_taken`) of the finished nerves' outer curves, slice by slice."""

    def __init__(self, records: list[dict[int, tuple[Any, bool]]],
                 shape: tuple[int, int]) -> None:
        self.records, self.shape = list(records), shape
        self.cache: dict[int, np.ndarray | None] = {}

    def curves(self, z: int) -> list[np.ndarray]:
        return [r[z][0].outer for r in self.records if z in r]

    def __call__(self, z: int) -> np.ndarray | None:
        if z not in self.cache:
            self.cache = {z: _taken(self.curves(z), self.shape)}
        return self.cache[z]

    def covers(self, z: int, point: np.ndarray) -> bool:
        """``point`` lies inside a finished nerve's outer curve in slice ``z``."""
        return any(Path(c).contains_point(point) for c in self.curves(z))


