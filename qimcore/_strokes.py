"""Brush strokes on label images: rasterisation, painting, erasing and undo (no GUI).

A stroke is a polyline of ``(y, x)`` points in pixel coordinates (pixel ``(i, j)`` has its
centre at ``(i, j)``). The brush of radius ``r`` covers every pixel whose centre lies within
distance ``r`` of the polyline, so a single point paints a disk and radius 0 paints the pixels
the line passes through (nearest pixel centres).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def stroke_mask(shape: tuple[int, int], points: Any, radius: float) -> np.ndarray:
    """Pixels covered by a round brush of ``radius`` dragged along ``points``.

    Parameters
    ----------
    shape : tuple of int
        ``(Y, X)`` shape of the image.
    points : (n, 2) array_like
        Stroke vertices ``(y, x)`` in pixels, in drawing order; points outside the image are
        allowed (the stroke is clipped).
    radius : float
        Brush radius in pixels, >= 0.

    Returns
    -------
    (Y, X) bool ndarray

    Examples
    --------
    >>> stroke_mask((3, 5), [(1, 0), (1, 4)], 0).astype(int).tolist()
    [[0, 0, 0, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]]
    >>> int(stroke_mask((9, 9), [(4, 4)], 2).sum())   # a disk of radius 2
    13
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    mask = np.zeros(shape, dtype=bool)
    if len(pts) == 0:
        return mask
    # Radius 0 keeps the pixels the centre line passes nearest to (half-pixel tolerance).
    reach = max(float(radius), 0.5)
    segments = zip(pts, pts[1:], strict=False) if len(pts) > 1 else [(pts[0], pts[0])]
    for a, b in segments:
        lo = np.floor(np.minimum(a, b) - reach).astype(int)
        hi = np.ceil(np.maximum(a, b) + reach).astype(int) + 1
        lo = np.maximum(lo, 0)
        hi = np.minimum(hi, shape)
        if np.any(hi <= lo):
            continue
        yy, xx = np.mgrid[lo[0]:hi[0], lo[1]:hi[1]]
        d = b - a
        length2 = float(d @ d)
        t = 0.0 if length2 == 0 else np.clip(((yy - a[0]) * d[0] + (xx - a[1]) * d[1]) / length2, 0, 1)
        dist2 = (yy - a[0] - t * d[0]) ** 2 + (xx - a[1] - t * d[1]) ** 2
        inside = dist2 <= radius**2 + 1e-9 if radius > 0 else dist2 < 0.25 + 1e-9
        mask[lo[0]:hi[0], lo[1]:hi[1]] |= inside
    return mask


class LabelEditor:
    """Paint and erase strokes on the slices of a label volume, with undo.

    Parameters
    ----------
    labels : (Z, Y, X) int ndarray
        Edited in place; ``0`` = unlabelled. Pass ``labels[None]`` for a 2D image.
    max_undo : int
        Number of strokes kept for undo.

    Examples
    --------
    >>> ed = LabelEditor(np.zeros((1, 3, 3), dtype=np.uint8))
    >>> ed.paint(0, [(1, 1)], radius=1, value=2)
    >>> ed.labels[0].tolist()
    [[0, 2, 0], [2, 2, 2], [0, 2, 0]]
    >>> ed.undo()
    0
    >>> int(ed.labels.sum()), ed.undo()
    (0, None)
    """

    def __init__(self, labels: np.ndarray, *, max_undo: int = 100):
        self.labels = labels
        self._history: list[tuple[int, tuple[np.ndarray, np.ndarray], np.ndarray]] = []
        self._max_undo = max_undo

    def paint(self, index: int, points: Any, radius: float, value: int) -> None:
        """Set the pixels of slice ``index`` under the stroke to ``value`` (0 erases)."""
        plane = self.labels[index]
        self.replace(index, np.where(stroke_mask(plane.shape, points, radius), value, plane))

    def replace(self, index: int, values: np.ndarray) -> None:
        """Set slice ``index`` to ``values`` as one undoable step."""
        plane = self.labels[index]
        where = np.nonzero(plane != values)
        if len(where[0]) == 0:
            return
        self._history.append((index, where, plane[where].copy()))
        del self._history[:-self._max_undo]
        plane[where] = values[where]

    def undo(self) -> int | None:
        """Revert the last stroke that changed something; return its slice (None if none)."""
        if not self._history:
            return None
        index, where, old = self._history.pop()
        self.labels[index][where] = old
        return index
