"""Scribbles: the one label format of qimcore, sparse in memory and on disk (``.npz``).

A scribble file holds ``shape`` (the image's shape), one coordinate array per axis (``z, y, x``,
or ``y, x`` in 2D) and ``label`` (the class ``>= 1`` of each labelled pixel); unlabelled pixels
(``0``) are not stored. Labels are stored in the smallest unsigned integer type that holds them,
so every class number round-trips exactly.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .._files import atomic_file

__all__ = ["Scribbles", "load_scribbles", "save_scribbles"]

_AXES = ("z", "y", "x")


def _label_dtype(largest: int) -> np.dtype:
    """Smallest unsigned integer type holding ``largest``."""
    for dtype in (np.uint8, np.uint16, np.uint32, np.uint64):
        if largest <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    raise ValueError(f"labels must be < 2**64, got {largest}")


class Scribbles:
    """Sparse labels of a 2D image or 3D volume: where the labelled pixels are and their class.

    Parameters
    ----------
    coords : (n, ndim) array_like of int
        Pixel indices ``(z, y, x)`` (``(y, x)`` in 2D) of the labelled pixels, each once.
    values : (n,) array_like of int
        Class of each labelled pixel, ``>= 1``.
    shape : tuple of int
        Shape of the labelled image (2 or 3 axes).

    Attributes
    ----------
    coords : ndarray of int64, shape ``(n, ndim)``
    values : ndarray of the smallest unsigned integer type holding the largest class, ``(n,)``
    shape : tuple of int

    Examples
    --------
    >>> s = Scribbles([(1, 2), (3, 0)], [2, 300], shape=(4, 5))
    >>> len(s), s.n_classes, s.values.dtype.name
    (2, 300, 'uint16')
    >>> dense = s.to_dense()
    >>> int(dense[1, 2]), int(dense[3, 0]), int(dense.sum())
    (2, 300, 302)
    >>> Scribbles.from_dense(dense).coords.tolist()
    [[1, 2], [3, 0]]
    """

    def __init__(self, coords: Any, values: Any, shape: tuple[int, ...]) -> None:
        shape = tuple(int(s) for s in np.atleast_1d(shape))
        if len(shape) not in (2, 3) or min(shape) < 1:
            raise ValueError(f"shape must be 2 or 3 positive ints, got {shape!r}")
        values = np.asarray(values)
        coords = np.asarray(coords)
        if values.ndim != 1 or not (values.size == 0 or np.issubdtype(values.dtype, np.integer)):
            raise TypeError(f"values must be a 1D array of integer classes, got dtype "
                            f"{values.dtype} and shape {values.shape}")
        coords = coords.reshape(-1, len(shape)) if coords.size == 0 else coords
        if coords.shape != (len(values), len(shape)):
            raise ValueError(f"coords must have shape (n, {len(shape)}) = ({len(values)}, "
                             f"{len(shape)}) for {len(values)} values, got {coords.shape}")
        if coords.size and not np.issubdtype(coords.dtype, np.integer):
            raise TypeError(f"coords must be integer pixel indices, got dtype {coords.dtype}")
        coords = coords.astype(np.int64)
        if len(values) and ((coords < 0).any() or (coords >= np.array(shape)).any()):
            raise ValueError(f"coords must lie inside shape {shape}")
        if len(values) and values.min() < 1:
            raise ValueError(f"values must be classes >= 1 (0 = unlabelled is not stored), "
                             f"got {values.min()}")
        largest = int(values.max()) if len(values) else 0
        flat = np.ravel_multi_index(tuple(coords.T), shape)
        if len(np.unique(flat)) != len(flat):
            raise ValueError("coords must not repeat a pixel")
        self.coords = coords
        self.values = values.astype(_label_dtype(largest))
        self.shape = shape

    @classmethod
    def from_dense(cls, labels: Any) -> Scribbles:
        """The labelled (non-zero) pixels of a dense labels array (numpy, 2D or 3D)."""
        labels = np.asarray(labels)
        if labels.ndim not in (2, 3):
            raise ValueError(f"labels must be 2D or 3D, got a {labels.ndim}D array")
        if not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool):
            raise TypeError(f"labels must be integers (0 = unlabelled, 1..C), got {labels.dtype}")
        idx = np.nonzero(labels)
        values = labels[idx]
        if len(values) and values.min() < 0:
            raise ValueError(f"labels must be >= 0 (0 = unlabelled), got {values.min()}")
        return cls(np.stack(idx, axis=1), values.astype(np.uint64), labels.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def n_classes(self) -> int:
        """The largest class (0 when nothing is labelled)."""
        return int(self.values.max()) if len(self.values) else 0

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        return f"Scribbles({len(self)} labelled pixels, shape={self.shape}, n_classes={self.n_classes})"

    def to_dense(self, dtype: Any = None) -> np.ndarray:
        """Dense labels of ``shape`` (``0`` = unlabelled), by default in ``values.dtype``."""
        out = np.zeros(self.shape, dtype or self.values.dtype)
        out[tuple(self.coords.T)] = self.values
        return out

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return self.to_dense(dtype)


def save_scribbles(path: str | os.PathLike, labels: Any) -> None:
    """Write labels to a scribble file (``.npz``, appended when missing), atomically.

    The file is written beside ``path`` and renamed into place: an interrupted save leaves the
    previous file intact.

    Parameters
    ----------
    path : str or path-like
        Output file.
    labels : (Y, X) or (Z, Y, X) ndarray of int, or Scribbles
        Dense labels (``0`` = unlabelled, classes ``>= 1``) or sparse :class:`Scribbles`.

    Examples
    --------
    >>> import tempfile, os
    >>> labels = np.zeros((4, 5, 6), np.uint16); labels[1, 2, 3] = 2; labels[0, 0, 0] = 300
    >>> path = os.path.join(tempfile.mkdtemp(), "s.npz")
    >>> save_scribbles(path, labels)
    >>> bool((load_scribbles(path) == labels).all())
    True
    >>> load_scribbles(path, sparse=True)
    Scribbles(2 labelled pixels, shape=(4, 5, 6), n_classes=300)
    """
    if isinstance(labels, Scribbles):
        s = labels
    elif labels is None or not hasattr(labels, "__len__"):
        raise TypeError(f"labels must be an array or Scribbles, got {type(labels).__name__}")
    else:
        s = Scribbles.from_dense(labels)
    path = Path(os.fspath(path))
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    coord_dtype = np.uint16 if max(s.shape) <= 65536 else np.int64
    arrays = {"shape": np.array(s.shape, np.int64), "label": s.values,
              **{n: c.astype(coord_dtype) for n, c in zip(_AXES[3 - s.ndim:], s.coords.T)}}
    with atomic_file(path) as tmp, open(tmp, "wb") as f:  # a file object: no ".npz" added
        np.savez_compressed(f, **arrays)


def load_scribbles(path: str | os.PathLike, *, sparse: bool = False) -> np.ndarray | Scribbles:
    """Read a scribble file of :func:`save_scribbles`.

    Parameters
    ----------
    path : str or path-like
        ``.npz`` file with arrays ``shape``, ``label`` and ``z``, ``y``, ``x`` (``y``, ``x`` in 2D).
    sparse : bool
        Return :class:`Scribbles` instead of a dense array (nothing of the image's size is
        allocated).

    Returns
    -------
    labels : ndarray of shape ``shape`` (``0`` = unlabelled; uint8 when the classes are < 256,
        else the smallest unsigned type holding them), or Scribbles when ``sparse``.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        When the file is not a scribble file.
    """
    path = Path(os.fspath(path))
    if not path.is_file():
        raise FileNotFoundError(f"path: no scribble file at {str(path)!r}")
    try:
        with np.load(path, allow_pickle=False) as f:
            shape = tuple(int(n) for n in f["shape"])
            names = _AXES[3 - len(shape):] if len(shape) in (2, 3) else ()
            coords = np.stack([f[n].astype(np.int64) for n in names], axis=1) if names else None
            values = f["label"]
    except (KeyError, OSError, ValueError, EOFError) as err:
        raise ValueError(f"path {str(path)!r} is not a scribble file (arrays shape, label and "
                         f"z, y, x): {err}") from err
    if coords is None:
        raise ValueError(f"path {str(path)!r}: shape must have 2 or 3 axes, got {shape}")
    scribbles = Scribbles(coords, values, shape)
    return scribbles if sparse else scribbles.to_dense()
