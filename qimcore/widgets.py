"""Interactive labelling in Jupyter: paint scribbles, see the segmentation update live.

:class:`Annotator` shows one slice of an image or volume on an ``ipycanvas`` canvas with the
labels and the current segmentation overlaid. Works in JupyterLab 4 and Notebook 7 (needs
``ipycanvas``), on a hub too (no display needed).

- **In memory** (a numpy image or volume): ``.labels`` is a numpy array of the image's shape and
  each stroke calls ``segmenter.propagate(labels)`` (e.g. a fitted
  :class:`qimcore.segment.DictionarySegmenter`) on the whole image.
- **Lazy** (a 3D dask volume of any size, e.g. ``qimcore.io.load("big.zarr")``): ``.labels`` is
  a :class:`SparseLabels` that stores only painted slices, one slice is read at a time, and the
  segmenter is used slice by slice (see :class:`Annotator`): a stroke updates the segmentation of
  the shown slice only (slices wider than 1024 pixels: first a preview at the display's
  resolution, then the full-resolution result from a background thread), and :meth:`Annotator.predict_volume` segments the whole volume in a
  background thread into a zarr store, with a progress bar, while painting goes on.

Both modes show an uncertainty overlay (``u = 1 - (p_first - p_second)``, magenta with opacity
``u**4``) and offer a *next slice* button that jumps to the slice whose segmentation is least
certain. Labels are saved and loaded in the package's one scribble format
(:func:`qimcore.segment.save_scribbles`, :class:`qimcore.segment.Scribbles`).
"""

from __future__ import annotations

import copy
import inspect
import io
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dask.array as da
import ipywidgets as w
import numpy as np
import PIL.Image

from . import _validate
from ._strokes import LabelEditor
from .segment import Scribbles, load_scribbles, save_scribbles
from .view import class_colors, overlay_rgb

__all__ = ["Annotator", "SparseLabels", "uncertainty"]

_ZOOMS = ("fit", 0.5, 1, 2, 4, 8)
_DISPLAY_MAX = 1024   # larger slices are sent to the browser subsampled by an integer step
_EXACT_DELAY_S = 0.5  # idle time after a stroke before a subsampled preview is made exact
_UNCERTAIN_RGB = np.array([1.0, 0.0, 1.0], np.float32)     # magenta


def _labels_dtype(n_classes: int) -> type:
    return np.uint8 if n_classes < 256 else np.uint16


def uncertainty(probabilities: Any) -> np.ndarray:
    """Per-pixel uncertainty ``1 - (p_first - p_second)`` of class probabilities.

    0 where one class has probability 1, 1 where the two most probable classes tie.

    Parameters
    ----------
    probabilities : (C, ...) array_like
        Class probabilities along axis 0 (C >= 1).

    Returns
    -------
    (...) float32 ndarray
        Values in [0, 1], the shape of one class.

    Examples
    --------
    >>> [round(float(u), 2) for u in uncertainty(np.array([[1.0, 0.5, 0.7], [0.0, 0.5, 0.3]]))]
    [0.0, 1.0, 0.6]
    """
    p = np.asarray(probabilities, dtype=np.float32)
    if p.ndim < 1 or len(p) == 0:
        raise ValueError(f"probabilities must have shape (C, ...) with C >= 1, got {p.shape}")
    if len(p) == 1:
        return np.zeros(p.shape[1:], np.float32)
    top2 = np.partition(p, len(p) - 2, axis=0)[-2:]
    return np.clip(1 - (top2[1] - top2[0]), 0, 1).astype(np.float32)


class SparseLabels:
    """Labels of a ``(Z, Y, X)`` volume that store only the slices painted on.

    Reads behave like a numpy array of ``shape`` (``0`` = unlabelled); only the indexed
    slices are built, so ``labels[z]`` of a 16 GB volume costs one slice.

    Parameters
    ----------
    shape : (Z, Y, X) tuple of int
    dtype : numpy dtype
        Integer dtype of the labels.

    Attributes
    ----------
    slices : list of int
        Sorted indices of the slices holding labels.
    nbytes : int
        Bytes held (the stored slices).

    Examples
    --------
    >>> lab = SparseLabels((1000, 64, 64))
    >>> lab.plane(7, create=True)[3, 4] = 2
    >>> lab.slices, int(lab[7, 3, 4]), lab[:, 3, 4].shape, lab.nbytes
    ([7], 2, (1000,), 4096)
    >>> [c.tolist() for c in lab.nonzero()]
    [[7], [3], [4]]
    """

    def __init__(self, shape: tuple[int, ...], dtype: Any = np.uint8) -> None:
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"shape must be 3 positive ints (Z, Y, X), got {shape!r}")
        if not np.issubdtype(np.dtype(dtype), np.integer):
            raise TypeError(f"dtype must be an integer dtype, got {dtype!r}")
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self._planes: dict[int, np.ndarray] = {}

    ndim = 3

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def slices(self) -> list[int]:
        return sorted(z for z, p in self._planes.items() if p.any())

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes for p in self._planes.values())

    def plane(self, z: int, *, create: bool = False) -> np.ndarray:
        """Slice ``z``: the stored (writable) array, or read-only zeros when not painted.

        With ``create=True`` a missing slice is added (zeros) and returned writable.
        """
        z = int(z)
        if not -self.shape[0] <= z < self.shape[0]:
            raise IndexError(f"slice {z} is out of range for {self.shape[0]} slices")
        z %= self.shape[0]
        if z in self._planes:
            return self._planes[z]
        if create:
            return self._planes.setdefault(z, np.zeros(self.shape[1:], self.dtype))
        zeros = np.broadcast_to(np.zeros((), self.dtype), self.shape[1:])
        return zeros

    def prune(self) -> None:
        """Drop stored slices that hold no label any more (after erasing)."""
        for z in [z for z, p in self._planes.items() if not p.any()]:
            del self._planes[z]

    def __getitem__(self, key: Any) -> Any:
        key = key if isinstance(key, tuple) else (key,)
        first, rest = key[0], key[1:]
        if isinstance(first, (int, np.integer)):
            return np.array(self.plane(first)[rest])
        zs = np.arange(self.shape[0])[first]
        if zs.ndim != 1:
            raise IndexError(f"unsupported index {key!r} for SparseLabels")
        parts = [np.asarray(self.plane(z)[rest]) for z in zs]
        if not parts:
            return np.zeros((0,) + np.zeros(self.shape[1:], bool)[rest].shape, self.dtype)
        return np.stack(parts)

    def __setitem__(self, key: Any, value: Any) -> None:
        key = key if isinstance(key, tuple) else (key,)
        zs = np.atleast_1d(np.arange(self.shape[0])[key[0]])
        values = np.broadcast_to(np.asarray(value), (len(zs),) + self.shape[1:]) \
            if len(key) == 1 else None
        for i, z in enumerate(zs):
            plane = self.plane(z, create=True)
            if values is not None:
                plane[...] = values[i]
            else:
                v = np.asarray(value)
                plane[key[1:]] = v[i] if v.ndim and len(zs) > 1 else v
        self.prune()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        dense = np.zeros(self.shape, self.dtype)
        for z, p in self._planes.items():
            dense[z] = p
        return dense if dtype is None else dense.astype(dtype)

    def any(self) -> bool:
        """True when any voxel is labelled."""
        return any(p.any() for p in self._planes.values())

    def max(self) -> int:
        """Largest label (0 when nothing is painted)."""
        return max((int(p.max()) for p in self._planes.values()), default=0)

    def nonzero(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(z, y, x)`` int64 coordinates of the labelled voxels, sorted by slice."""
        parts = [(np.full(len(y), z), y, x) for z in self.slices
                 for y, x in [np.nonzero(self._planes[z])]]
        if not parts:
            return tuple(np.zeros(0, np.int64) for _ in range(3))
        return tuple(np.concatenate(c).astype(np.int64) for c in zip(*parts))

    def to_scribbles(self) -> Scribbles:
        """The labelled voxels as :class:`qimcore.segment.Scribbles` (no dense volume built)."""
        z, y, x = self.nonzero()
        values = [self._planes[s][self._planes[s] > 0] for s in self.slices]
        return Scribbles(np.stack([z, y, x], axis=1),
                         np.concatenate(values) if values else np.zeros(0, self.dtype), self.shape)

    @classmethod
    def from_scribbles(cls, scribbles: Scribbles, dtype: Any = np.uint8) -> SparseLabels:
        """Labels holding :class:`qimcore.segment.Scribbles` of a 3D volume, slice by slice."""
        if scribbles.ndim != 3:
            raise ValueError(f"scribbles must be of a 3D volume, got shape {scribbles.shape}")
        out = cls(scribbles.shape, np.promote_types(dtype, scribbles.values.dtype))
        z, y, x = scribbles.coords.T
        for s in np.unique(z):
            pick = z == s
            out.plane(s, create=True)[y[pick], x[pick]] = scribbles.values[pick]
        return out

    def save(self, path: str | Path) -> None:
        """Write a scribble file (:func:`qimcore.segment.save_scribbles`), slice by slice."""
        save_scribbles(path, self.to_scribbles())

    @classmethod
    def load(cls, path: str | Path) -> SparseLabels:
        """Read a scribble file (:func:`qimcore.segment.load_scribbles`) without a dense volume."""
        return cls.from_scribbles(load_scribbles(path, sparse=True))


class _EditablePlanes:
    """What :class:`LabelEditor` edits: ``[z]`` gives a writable slice, created on demand."""

    def __init__(self, labels: SparseLabels) -> None:
        self._labels = labels

    def __getitem__(self, z: int) -> np.ndarray:
        return self._labels.plane(z, create=True)


def _put_rgb(canvas: Any, rgb: np.ndarray) -> None:
    """Draw an RGB float image at (0, 0), losslessly and fast.

    ``Canvas.put_image_data`` sends RGB as lossy JPEG and RGBA as PNG at zlib level 6 (0.3 s
    for a noisy 512² slice); this sends the same draw command with an RGB PNG at level 1.
    """
    from ipycanvas.canvas import COMMANDS

    buffer = io.BytesIO()
    PIL.Image.fromarray((rgb * 255 + 0.5).astype(np.uint8)).save(buffer, "PNG", compress_level=1)
    canvas._canvas_manager.send_draw_command(canvas, COMMANDS["putImageData"], [0, 0],
                                             [buffer.getvalue()])


def _n_labelled_classes(labels: np.ndarray) -> int:
    return int(np.count_nonzero(np.bincount(labels.ravel())[1:]))


class _SliceModels:
    """A segmenter used slice by slice on a lazy volume, through its public methods only.

    A copy of the ``template`` (``fit``, ``propagate``, ``predict_proba``, e.g. a
    :class:`qimcore.segment.DictionarySegmenter`) is fitted to each slice that holds labels of at
    least two classes, on its first stroke, and propagates that slice's labels: the live update.
    Any slice is predicted by the average of ``predict_proba`` over these per-slice models (the
    background prediction), so every labelled slice contributes: :attr:`models` holds those
    whose last propagation was at full resolution. When the template's ``propagate`` takes a
    ``step`` (a preview on the grid ``[::step, ::step]``), :attr:`previews` is True.
    """

    def __init__(self, template: Any) -> None:
        self.template = template
        self.models: dict[int, Any] = {}
        self.previews = "step" in inspect.signature(template.propagate).parameters
        self._unpublished: dict[int, Any] = {}    # fitted, only previews propagated yet
        self._lock = threading.Lock()

    def propagate(self, z: int, image: np.ndarray, labels: np.ndarray, step: int = 1
                  ) -> np.ndarray | None:
        """Probabilities ``(C, Y, X)`` of slice ``z``, or on ``[::step, ::step]`` with ``step >
        1`` (None: fewer than two classes labelled)."""
        if _n_labelled_classes(labels) < 2:
            with self._lock:
                self.models.pop(z, None)
                self._unpublished.pop(z, None)
            return None
        model = self.models.get(z) or self._unpublished.get(z)
        if model is None:
            model = copy.deepcopy(self.template).fit(image)
        extra = {"step": step} if step > 1 else {}
        probabilities = np.asarray(model.propagate(labels, **extra), dtype=np.float32)
        with self._lock:
            if step == 1:
                self.models[z] = model
                self._unpublished.pop(z, None)
            elif z not in self.models:
                self._unpublished[z] = model
        return probabilities

    def predict(self, image: np.ndarray, n_classes: int) -> np.ndarray | None:
        with self._lock:
            models = list(self.models.values())
        if not models:
            return None
        total = np.zeros((n_classes,) + image.shape, np.float32)
        for model in models:
            p = np.asarray(model.predict_proba(image), dtype=np.float32)
            total[:len(p)] += p
        return total / len(models)


class Annotator(w.VBox):
    """Paint labels on an image or volume and watch the segmentation follow.

    Parameters
    ----------
    image_or_volume : (Y, X) or (Z, Y, X) ndarray or dask array
        Shown slice by slice along axis 0. A 3D dask array is used lazily: one slice is read
        at a time, labels are stored sparsely and the segmenter works slice by slice.
    n_classes : int
        Classes ``1..n_classes`` in the palette (>= 1).
    segmenter : object, optional
        In memory: any object with ``propagate(labels) -> (C,) + shape probabilities``, called
        after every stroke with the full label array, e.g. a
        :class:`qimcore.segment.DictionarySegmenter` fitted to this image. Lazy volume: an
        object with ``fit(image)``, ``propagate(labels)`` and ``predict_proba(image)`` (e.g. an
        unfitted ``DictionarySegmenter``), used as a template: a copy is fitted to each slice
        painted with two classes (on its first stroke there) and propagates that slice's labels;
        :meth:`predict_volume` averages the slice models' ``predict_proba``. On slices shown
        subsampled (wider than 1024 pixels), if ``propagate`` takes a ``step`` (as
        ``DictionarySegmenter.propagate``), a stroke first shows a preview propagated at the
        display's pixels only; the full-resolution result replaces it in a background thread
        once painting pauses for 0.5 s (at once on *update*, *accept* and *predict volume*).
    labels : int array of the image's shape, keyword-only, optional
        Initial labels (e.g. an existing segmentation to correct); copied. For a lazy volume a
        :class:`SparseLabels` (or an array, stored slice by slice).
    brush_size : int, keyword-only
        Initial brush radius in pixels.
    opacity : float, keyword-only
        Initial opacity of the segmentation overlay, in [0, 1].
    zoom : "fit" or float, keyword-only
        Initial display zoom: ``"fit"`` fits the slice to the width of the notebook and 65 % of
        the window's height; or one of 0.5, 1, 2, 4, 8. Slices wider than 1024 pixels are
        sent to the browser subsampled (every 2nd, 3rd... pixel); labels and segmentation keep
        the full resolution.
    live : bool, keyword-only
        Propagate after every stroke; when False strokes only redraw and the *update* button
        propagates.

    Attributes
    ----------
    labels : ndarray or SparseLabels
        Current labels, the image's shape, ``0`` = unlabelled, ``1..n_classes``; assigning
        an array copies it in (and updates).
    probabilities : float32 ndarray or None
        Latest segmentation: ``(C,) + shape`` in memory; for a lazy volume ``(C, Y, X)`` of the
        shown slice, at full resolution (while a preview is shown, the one before it).
    prediction : zarr.Group or None
        Arrays ``labels`` (uint8, ``1..C``, 0 = not yet predicted) and ``uncertainty`` (uint8,
        ``round(255 * uncertainty)``) of :meth:`predict_volume`.
    slice_uncertainty : (Z,) float64 ndarray
        Mean uncertainty of each slice's segmentation (NaN where unknown); *next slice* picks
        its largest value among unlabelled slices.
    last_update_s : float
        Seconds spent in the last update (propagate + redraw), shown in the status line.

    Examples
    --------
    >>> ann = Annotator(np.zeros((3, 16, 16)), n_classes=2)
    >>> ann.paint([(8, 2), (8, 12)], value=1, radius=0, index=1)   # as a mouse stroke
    >>> int((ann.labels[1, 8] == 1).sum()), int(ann.labels.sum()) > 0
    (11, True)
    >>> ann.undo(); int(ann.labels.sum())
    0
    >>> big = Annotator(da.zeros((10_000, 64, 64), chunks=(1, 64, 64)), n_classes=2)
    >>> big.paint([(5, 5)], value=2, radius=1, index=9_000)
    >>> type(big.labels).__name__, big.labels.slices, big.labels.nbytes
    ('SparseLabels', [9000], 4096)
    >>> ann  # doctest: +SKIP
    """

    def __init__(self, image_or_volume: Any, n_classes: int, segmenter: Any = None, *,
                 labels: Any = None, brush_size: int = 3, opacity: float = 0.5,
                 zoom: float | str = "fit", live: bool = True) -> None:
        from ipycanvas import Canvas

        image = _validate.array(image_or_volume, "image_or_volume", ndim=(2, 3))
        _validate.positive(n_classes, "n_classes", integer=True)
        _validate.positive(brush_size, "brush_size", integer=True, allow_zero=True)
        if not 0 <= opacity <= 1:
            raise ValueError(f"opacity must be in [0, 1], got {opacity!r}")
        if zoom not in _ZOOMS:
            raise ValueError(f"zoom must be one of {_ZOOMS}, got {zoom!r}")
        self.lazy = isinstance(image, da.Array) and image.ndim == 3
        if isinstance(image, da.Array) and not self.lazy:
            image = np.asarray(image)
        needs = ("fit", "propagate", "predict_proba") if self.lazy else ("propagate",)
        if segmenter is not None and not all(callable(getattr(segmenter, m, None))
                                             for m in needs):
            raise TypeError(f"segmenter must have the methods {', '.join(needs)}, e.g. a "
                            f"{'' if self.lazy else 'fitted '}"
                            "qimcore.segment.DictionarySegmenter")
        self.image = image
        self.n_classes = int(n_classes)
        self.segmenter = segmenter
        self._models = _SliceModels(segmenter) if self.lazy and segmenter is not None else None
        self._labels = self._check_labels(labels, image.shape)
        self.probabilities: np.ndarray | None = None
        self._prob_index = -1
        self.prediction: Any = None
        self.last_update_s = 0.0
        self._volume = image if image.ndim == 3 else image[None]
        nz, ny, nx = self._volume.shape
        self.slice_uncertainty = np.full(nz, np.nan)
        editable = _EditablePlanes(self._labels) if self.lazy else (
            self._labels if image.ndim == 3 else self._labels[None])
        self._editor = LabelEditor(editable)
        self._callbacks: list[Callable[[Annotator], Any]] = []
        self._stroke: list[tuple[float, float]] = []
        self._plane_cache: tuple[int, np.ndarray] = (-1, np.zeros(0))
        self._preview: tuple[int, np.ndarray] | None = None   # (slice, display-grid probabilities)
        self._exact_timer: threading.Timer | None = None
        self._exact_version = 0
        self._exact_lock = threading.Lock()
        self._quiet = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self.lazy:   # a lazy volume may not fit in memory: grey range of the middle slice
            mid = self._read_plane(nz // 2)
            lo, hi = np.percentile(mid, [0.1, 99.9])
        else:
            lo, hi = da.compute(image.min(), image.max())
        self._range = (float(lo), float(hi))

        self._colors = class_colors(self.n_classes)
        self._step = -(-max(ny, nx) // _DISPLAY_MAX)     # image pixels per canvas pixel
        self.canvas = Canvas(width=-(-nx // self._step), height=-(-ny // self._step))
        self.slice = w.IntSlider(value=nz // 2, min=0, max=nz - 1, description="slice",
                                 continuous_update=False,
                                 layout=w.Layout(display=None if nz > 1 else "none"))
        self.classes = w.ToggleButtons(
            options=[(f"{k}", k) for k in range(1, self.n_classes + 1)], value=1,
            description="class", style={"button_width": "42px"})
        legend = "".join(
            f'<span style="background:rgb({",".join(str(int(255 * c)) for c in col)});'
            f'padding:0 8px;margin-right:4px;color:white">{k}</span>'
            for k, col in enumerate(self._colors, start=1))
        no_seg = segmenter is None
        self.eraser = w.ToggleButton(value=False, description="eraser", icon="eraser")
        self.brush = w.IntSlider(value=brush_size, min=0, max=50, description="brush")
        self.opacity = w.FloatSlider(value=opacity, min=0, max=1, step=0.05,
                                     description="opacity")
        self.zoom = w.Dropdown(options=list(_ZOOMS), value=zoom, description="zoom",
                               layout=w.Layout(width="160px"))
        self.undo_button = w.Button(description="undo", icon="undo")
        self.accept_button = w.Button(
            description="accept", icon="check", disabled=no_seg,
            tooltip="copy the segmentation of this slice into the labels, to correct it")
        self.live = w.Checkbox(value=live, description="live", indent=False,
                               disabled=no_seg, layout=w.Layout(width="60px"))
        self.update_button = w.Button(description="update", icon="refresh", disabled=no_seg)
        self.show_uncertainty = w.Checkbox(value=False, description="uncertainty", indent=False,
                                           disabled=no_seg, layout=w.Layout(width="110px"))
        self.next_button = w.Button(
            description="next slice", icon="forward", disabled=no_seg or nz == 1,
            tooltip="go to the unlabelled slice where the segmentation is least certain")
        self.predict_button = w.Button(
            description="predict volume", icon="cubes", disabled=no_seg,
            tooltip="segment every slice in the background into a zarr store",
            layout=w.Layout(display=None if self.lazy else "none"))
        self.progress = w.IntProgress(value=0, min=0, max=nz, description="volume",
                                      layout=w.Layout(display="none"))
        self.status = w.Label()
        view = w.Box([self.canvas], layout=w.Layout(overflow="auto", max_height="80vh",
                                                    width="100%"))
        view.add_class("qimcore-annotator")
        pixelated = w.HTML("<style>.qimcore-annotator canvas {image-rendering: pixelated}</style>")
        super().__init__([
            w.HBox([self.classes, w.HTML(legend), self.eraser]),
            w.HBox([self.brush, self.opacity, self.zoom, self.undo_button]),
            w.HBox([self.live, self.update_button, self.accept_button, self.show_uncertainty,
                    self.next_button, self.predict_button]),
            self.status, self.progress, self.slice, view, pixelated])

        self.canvas.on_mouse_down(self._mouse_down)
        self.canvas.on_mouse_move(self._mouse_move)
        self.canvas.on_mouse_up(self._mouse_up)
        self.canvas.on_mouse_out(self._mouse_up)
        self.slice.observe(lambda _: self._show_slice(), names="value")
        self.opacity.observe(lambda _: self.redraw(), names="value")
        self.show_uncertainty.observe(lambda _: self.redraw(), names="value")
        self.zoom.observe(lambda _: self._set_zoom(), names="value")
        self.undo_button.on_click(lambda _: self.undo())
        self.accept_button.on_click(lambda _: self.accept())
        self.update_button.on_click(lambda _: self.update(propagate=True))
        self.next_button.on_click(lambda _: self.next_slice())
        self.predict_button.on_click(lambda _: self.predict_volume())
        self._set_zoom()
        self.update()

    # ------------------------------------------------------------------ state
    def _check_labels(self, labels: Any, shape: tuple[int, ...]) -> np.ndarray | SparseLabels:
        dtype = _labels_dtype(self.n_classes)
        if self.lazy:
            out = SparseLabels(shape, dtype)
            if labels is None:
                return out
            if isinstance(labels, Scribbles):
                labels = SparseLabels.from_scribbles(labels)
            if tuple(labels.shape) != shape:
                raise ValueError(f"labels must have the image's shape {shape}, got "
                                 f"{tuple(labels.shape)}")
            slices = labels.slices if isinstance(labels, SparseLabels) else range(shape[0])
            for z in slices:
                plane = self._check_plane(np.asarray(labels[z]))
                if plane.any():
                    out.plane(z, create=True)[...] = plane
            return out
        if labels is None:
            return np.zeros(shape, dtype=dtype)
        lab = _validate.array(np.asarray(labels), "labels", allow_dask=False)
        if lab.shape != shape:
            raise ValueError(f"labels must have the image's shape {shape}, got {lab.shape}")
        return self._check_plane(lab).astype(dtype, copy=True)

    def _check_plane(self, lab: np.ndarray) -> np.ndarray:
        if not np.issubdtype(lab.dtype, np.integer):
            raise TypeError(f"labels must be an integer array, got {lab.dtype}")
        if lab.size and (lab.min() < 0 or lab.max() > self.n_classes):
            raise ValueError(f"labels must lie in 0..{self.n_classes} (n_classes)")
        return lab

    @property
    def labels(self) -> np.ndarray | SparseLabels:
        """Current labels (the image's shape; 0 = unlabelled). Assigning copies and redraws."""
        return self._labels

    @labels.setter
    def labels(self, value: Any) -> None:
        new = self._check_labels(value, self._labels.shape)
        if self.lazy:
            self._labels._planes = new._planes
        else:
            self._labels[...] = new
        self.update()

    @property
    def index(self) -> int:
        """Slice shown (index along axis 0 of a volume; 0 for a 2D image)."""
        return int(self.slice.value)

    def on_update(self, callback: Callable[[Annotator], Any]) -> None:
        """Call ``callback(annotator)`` after every update (stroke, undo, accept, load).

        For example autosave: ``ann.on_update(lambda a: a.save("scribbles.npz"))``.
        """
        self._callbacks.append(callback)

    def _label_plane(self, z: int) -> np.ndarray:
        return self._labels.plane(z) if self.lazy else self._editor.labels[z]

    def _read_plane(self, z: int) -> np.ndarray:
        if self._plane_cache[0] != z:
            self._plane_cache = (z, np.asarray(self._volume[z], dtype=np.float32))
        return self._plane_cache[1]

    # ------------------------------------------------------------------ editing
    def paint(self, points: Any, *, value: int | None = None, radius: int | None = None,
              index: int | None = None) -> None:
        """Apply one stroke and update, as a mouse stroke does.

        Parameters
        ----------
        points : (n, 2) array_like
            ``(y, x)`` pixel positions of the stroke.
        value : int, optional
            Class to paint, 0 to erase (default: the palette's class, or 0 with the eraser on).
        radius : int, optional
            Brush radius (default: the brush slider).
        index : int, optional
            Slice (default: the one shown).
        """
        if value is None:
            value = 0 if self.eraser.value else int(self.classes.value)
        if not 0 <= value <= self.n_classes:
            raise ValueError(f"value must be in 0..{self.n_classes}, got {value!r}")
        index = self.index if index is None else int(index)
        if not 0 <= index < self._volume.shape[0]:
            raise ValueError(f"index must be in 0..{self._volume.shape[0] - 1}, got {index!r}")
        self._editor.paint(index, points, self.brush.value if radius is None else radius, value)
        self._after_edit(index)

    def _after_edit(self, index: int) -> None:
        if self.lazy:
            self._labels.prune()
        self._quiet = True           # the update below redraws: no second one for the slice
        try:
            self.slice.value = index
        finally:
            self._quiet = False
        self._update(None, preview=True)

    def undo(self) -> None:
        """Revert the last stroke (and show its slice)."""
        index = self._editor.undo()
        if index is not None:
            self._after_edit(index)

    def accept(self) -> None:
        """Copy the segmentation of the shown slice into the labels, to paint corrections.

        One undoable step, like a stroke.
        """
        self._make_exact()
        prob = self._shown_probabilities()
        if prob is None:
            return
        self._editor.replace(self.index, 1 + np.argmax(prob, axis=0))
        self._after_edit(self.index)

    def save(self, path: str | Path) -> None:
        """Write the labels as a scribble file (``.npz``, :func:`qimcore.segment.save_scribbles`)."""
        if Path(path).suffix != ".npz":
            raise ValueError(f"path must end with .npz (the scribble format), got {str(path)!r}")
        if self.lazy:
            self._labels.save(path)
        else:
            save_scribbles(path, self._labels)

    @classmethod
    def load(cls, path: str | Path, image_or_volume: Any, n_classes: int | None = None,
             segmenter: Any = None, **kwargs: Any) -> Annotator:
        """An Annotator starting from a scribble file (:func:`qimcore.segment.load_scribbles`).

        ``n_classes`` defaults to the largest saved label (at least 2); other keywords go
        to the constructor. For a lazy (3D dask) volume the file is read slice by slice.
        """
        lazy = isinstance(image_or_volume, da.Array) and image_or_volume.ndim == 3
        labels = SparseLabels.load(path) if lazy else load_scribbles(path)
        if n_classes is None:
            n_classes = max(2, int(labels.max()))
        return cls(image_or_volume, n_classes, segmenter, labels=labels, **kwargs)

    # ------------------------------------------------------------------ segmentation
    def update(self, *, propagate: bool | None = None) -> None:
        """Propagate the labels through the segmenter (if any) and redraw.

        ``propagate`` defaults to the *live* checkbox. For a lazy volume only the shown slice
        is segmented, at full resolution.
        """
        self._update(propagate, preview=False)

    def _update(self, propagate: bool | None, *, preview: bool) -> None:
        """:meth:`update`; with ``preview`` a slice shown subsampled gets the display-grid
        preview now and its full-resolution result in the background (:meth:`_schedule_exact`)."""
        start = time.perf_counter()
        message = ""
        propagate = self.live.value if propagate is None else propagate
        if propagate and self.segmenter is not None and self._labels.any():
            try:
                if self.lazy:
                    message = self._segment_slice(self.index, preview and self._step > 1)
                else:
                    self.probabilities = np.asarray(self.segmenter.propagate(self._labels))
                    self.slice_uncertainty = self._slice_scores(self.probabilities)
            except ValueError as err:          # e.g. labels not yet usable by the segmenter
                message = f"segmenter: {err}"
        self.redraw()
        self.last_update_s = time.perf_counter() - start
        self.status.value = message or f"updated in {self.last_update_s:.2f} s"
        for callback in self._callbacks:
            callback(self)

    def _segment_slice(self, z: int, preview: bool) -> str:
        """Segment slice ``z`` (preview or full resolution); a status message or ""."""
        self._cancel_exact()
        image, labels = self._read_plane(z), self._labels.plane(z)
        if preview and self._models.previews and _n_labelled_classes(labels) >= 2:
            prob = self._models.propagate(z, image, labels, self._step)
            self._preview = None if prob is None else (z, prob)
            self._schedule_exact(z)
            return ""
        self._preview = None
        self.probabilities, self._prob_index = self._models.propagate(z, image, labels), z
        return "" if self.probabilities is not None else \
            "paint two classes on this slice to segment it"

    def _cancel_exact(self) -> None:
        with self._exact_lock:
            self._exact_version += 1
            if self._exact_timer is not None:
                self._exact_timer.cancel()
                self._exact_timer = None

    def _schedule_exact(self, z: int) -> None:
        """Replace the preview of slice ``z`` by the full-resolution result in a thread, after
        ``_EXACT_DELAY_S`` without a new stroke (a newer stroke discards a running one)."""
        image, labels = self._read_plane(z), self._labels.plane(z).copy()

        def run() -> None:
            try:
                prob = self._models.propagate(z, image, labels)
            except ValueError:
                return
            with self._exact_lock:
                if version != self._exact_version:
                    return
                self._exact_timer = None
                self.probabilities, self._prob_index, self._preview = prob, z, None
            if self.index == z:
                self.redraw()
                self.status.value = "full resolution"

        with self._exact_lock:
            version = self._exact_version
            self._exact_timer = threading.Timer(_EXACT_DELAY_S, run)
            self._exact_timer.daemon = True
            self._exact_timer.start()

    def _make_exact(self) -> None:
        """Compute a pending full-resolution result now (for accept and predict_volume)."""
        if self._preview is not None and self._models is not None:
            self._segment_slice(self._preview[0], preview=False)

    def _slice_scores(self, probabilities: np.ndarray) -> np.ndarray:
        u = uncertainty(probabilities)
        return u.reshape(len(u), -1).mean(axis=1) if self.image.ndim == 3 else np.array(
            [u.mean()])

    def _shown_probabilities(self) -> np.ndarray | None:
        """Probabilities ``(C, Y, X)`` of the shown slice, or None."""
        if not self.lazy:
            if self.probabilities is None:
                return None
            return self.probabilities[:, self.index] if self.image.ndim == 3 \
                else self.probabilities
        if self._prob_index == self.index and self.probabilities is not None:
            return self.probabilities
        return self._stored_probabilities(self.index)

    def _stored_probabilities(self, z: int) -> np.ndarray | None:
        """One-hot probabilities of slice ``z`` from :attr:`prediction`, if predicted."""
        if self.prediction is None or np.isnan(self.slice_uncertainty[z]):
            return None
        seg = np.asarray(self.prediction["labels"][z])
        return (seg[None] == np.arange(1, self.n_classes + 1)[:, None, None]).astype(np.float32)

    def _show_slice(self) -> None:
        if self._quiet:
            return
        if self.lazy and self.segmenter is not None and self.index in self._models.models:
            self._update(True, preview=True)    # a slice with its own model: live result
        else:
            self.redraw()

    def next_slice(self) -> int | None:
        """Show the unlabelled slice whose segmentation is least certain and return its index.

        Uses :attr:`slice_uncertainty` (from the whole-volume result in memory, or from
        :meth:`predict_volume` for a lazy volume); None (and a hint in the status line) when
        no slice has a result yet.
        """
        scores = self.slice_uncertainty.copy()
        labelled = self._labels.slices if self.lazy else [
            z for z in range(len(scores)) if self._label_plane(z).any()]
        unlabelled = scores.copy()
        unlabelled[labelled] = np.nan
        pick = unlabelled if np.isfinite(unlabelled).any() else scores
        if not np.isfinite(pick).any():
            self.status.value = ("no segmentation yet: paint two classes"
                                 + (", then 'predict volume'" if self.lazy else ""))
            return None
        z = int(np.nanargmax(pick))
        self.slice.value = z
        self.status.value = f"slice {z}: mean uncertainty {pick[z]:.2f}"
        return z

    def predict_volume(self, store: str | Path | None = None, *, background: bool = True
                       ) -> Any:
        """Segment every slice of a lazy volume into a zarr store, in a background thread.

        Each slice is read, predicted by the slice models (see the class) and written as
        ``labels`` (uint8, ``1..C``) and ``uncertainty`` (uint8, ``round(255 * u)``) arrays of
        the group; :attr:`slice_uncertainty` and the progress bar follow. Painting goes on
        meanwhile; a new call stops the running one. Memory: a few slices.

        Parameters
        ----------
        store : str or path, optional
            Zarr folder to (over)write (default: a new temporary folder).
        background : bool, keyword-only
            Run in a thread and return at once (False: return when done).

        Returns
        -------
        zarr.Group
            Also kept as :attr:`prediction`.
        """
        import tempfile

        import zarr

        if not self.lazy or self._models is None:
            raise ValueError("predict_volume needs a lazy (dask) volume and a segmenter; in "
                             "memory the segmentation already covers the whole image")
        self._make_exact()
        if not self._models.models:
            self.status.value = "paint two classes on a slice first"
            return None
        self.stop()
        path = Path(store) if store is not None else Path(tempfile.mkdtemp(suffix=".zarr"))
        group = zarr.open_group(str(path), mode="w")
        nz, ny, nx = self._volume.shape
        chunks = (1, min(ny, 1024), min(nx, 1024))
        for name in ("labels", "uncertainty"):
            group.create_array(name, shape=(nz, ny, nx), chunks=chunks, dtype=np.uint8,
                               fill_value=0)
        self.prediction = group
        self.slice_uncertainty = np.full(nz, np.nan)
        self.progress.value = 0
        self.progress.layout.display = None
        stop = self._stop = threading.Event()
        if background:
            self._thread = threading.Thread(target=self._predict_all, args=(group, stop),
                                            daemon=True)
            self._thread.start()
        else:
            self._predict_all(group, stop)
        return group

    def _predict_all(self, group: Any, stop: threading.Event) -> None:
        nz = self._volume.shape[0]
        start = time.perf_counter()
        try:
            for z in range(nz):
                if stop.is_set():
                    return
                plane = np.asarray(self._volume[z], dtype=np.float32)
                prob = self._models.predict(plane, self.n_classes)
                if prob is None:
                    return
                u = uncertainty(prob)
                group["labels"][z] = (1 + np.argmax(prob, axis=0)).astype(np.uint8)
                group["uncertainty"][z] = (255 * u + 0.5).astype(np.uint8)
                self.slice_uncertainty[z] = float(u.mean())
                self.progress.value = z + 1
            self.progress.description = f"{time.perf_counter() - start:.0f} s"
        except Exception as err:  # noqa: BLE001 - shown to the user, the thread must not die silently
            self.status.value = f"volume prediction stopped: {err!r}"

    def stop(self) -> None:
        """Stop a running :meth:`predict_volume` and wait for its thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    # ------------------------------------------------------------------ drawing
    def redraw(self) -> None:
        """Draw the shown slice with its segmentation (or uncertainty) and labels."""
        sub = (slice(None, None, self._step),) * 2
        plane = self._read_plane(self.index)[sub]
        preview = self._preview
        if preview is not None and preview[0] == self.index:
            prob = preview[1]
        else:
            prob = self._shown_probabilities()
            prob = None if prob is None else prob[(slice(None), *sub)]
        show_u = self.show_uncertainty.value and prob is not None
        rgb = overlay_rgb(plane, self._label_plane(self.index)[sub], None if show_u else prob,
                          opacity=self.opacity.value, n_classes=self.n_classes,
                          vmin=self._range[0], vmax=self._range[1])
        if show_u:     # opacity u**4: dictionary probabilities are soft, the worst stand out
            a = (self.opacity.value * uncertainty(prob) ** 4)[..., None]
            rgb = ((1 - a) * rgb + a * _UNCERTAIN_RGB).astype(np.float32)
        _put_rgb(self.canvas, rgb)

    def _set_zoom(self) -> None:
        _, ny, nx = self._volume.shape
        layout = self.canvas.layout
        if self.zoom.value == "fit":     # the notebook's width and 65 % of the window height
            layout.width = f"min(100%, calc(65vh * {nx / ny:.6g}))"
            layout.height = "auto"
            layout.min_width = "0"       # a flex item may shrink below the canvas' own width
            return
        layout.width = f"{nx * self.zoom.value}px"
        layout.height = f"{ny * self.zoom.value}px"
        layout.min_width = layout.width

    # The mouse reports canvas pixels (centre of pixel i at i + 0.5); canvas pixel i shows
    # image pixel i * step. The stroke is drawn at once in the browser, then sent in pixels.
    def _mouse_down(self, x: float, y: float) -> None:
        self._stroke = [(y - 0.5, x - 0.5)]
        value = 0 if self.eraser.value else int(self.classes.value)
        color = self._colors[value - 1] if value else np.zeros(3)
        self.canvas.stroke_style = "rgb({},{},{})".format(*(int(255 * c) for c in color))
        self.canvas.fill_style = self.canvas.stroke_style
        self.canvas.line_width = (2 * self.brush.value + 1) / self._step
        self.canvas.line_cap = "round"
        self.canvas.fill_circle(x, y, (self.brush.value + 0.5) / self._step)

    def _mouse_move(self, x: float, y: float) -> None:
        if not self._stroke:
            return
        (y0, x0), point = self._stroke[-1], (y - 0.5, x - 0.5)
        self._stroke.append(point)
        self.canvas.stroke_line(x0 + 0.5, y0 + 0.5, x, y)

    def _mouse_up(self, x: float, y: float) -> None:
        if not self._stroke:
            return
        points, self._stroke = np.asarray(self._stroke) * self._step, []
        self.paint(points)
