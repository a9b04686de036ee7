"""Interactive labelling in Jupyter: paint scribbles, see the segmentation update live.

:class:`Annotator` shows one slice of an image or volume on an ``ipycanvas`` canvas with the
labels and the current segmentation overlaid. Each finished stroke updates ``.labels`` (a
numpy array of the image's shape, ``0`` = unlabelled) and, when a segmenter is given, calls
``segmenter.propagate(labels)`` (e.g. a fitted :class:`qimcore.segment.DictionarySegmenter`)
and redraws the overlay. Start from an existing segmentation (``labels=``) or copy the
current result into the labels (button *accept*) to correct mistakes by painting over them.
Works in JupyterLab 4 and Notebook 7 (needs ``ipycanvas``).
"""

from __future__ import annotations

import io
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
from .view import class_colors, overlay_rgb

__all__ = ["Annotator"]

_ZOOMS = (0.5, 1, 2, 4, 8)


def _labels_dtype(n_classes: int) -> type:
    return np.uint8 if n_classes < 256 else np.uint16


def _read_labels(path: str | Path) -> np.ndarray:
    p = Path(path)
    if p.suffix == ".npy":
        return np.load(p)
    if p.suffix == ".zarr":
        import zarr

        return np.asarray(zarr.open_array(str(p), mode="r"))
    raise ValueError(f"path must end with .npy or .zarr, got {str(path)!r}")


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


class Annotator(w.VBox):
    """Paint labels on an image or volume and watch the segmentation follow.

    Parameters
    ----------
    image_or_volume : (Y, X) or (Z, Y, X) ndarray or dask array
        Shown slice by slice along axis 0 (a dask volume is read one slice at a time).
    n_classes : int
        Classes ``1..n_classes`` in the palette (>= 1).
    segmenter : object with ``propagate(labels) -> (C,) + shape probabilities``, optional
        Called after every stroke with the full label array; e.g. a
        :class:`qimcore.segment.DictionarySegmenter` already fitted to this image.
    labels : int array of the image's shape, keyword-only, optional
        Initial labels (e.g. an existing segmentation to correct); copied.
    brush_size : int, keyword-only
        Initial brush radius in pixels.
    opacity : float, keyword-only
        Initial opacity of the segmentation overlay, in [0, 1].
    zoom : float, keyword-only
        Initial display zoom, one of 0.5, 1, 2, 4, 8.
    live : bool, keyword-only
        Propagate after every stroke; when False (e.g. for a large volume, where
        ``propagate`` takes seconds) strokes only redraw and the *update* button propagates.

    Attributes
    ----------
    labels : ndarray
        Current labels, the image's shape, ``0`` = unlabelled, ``1..n_classes``; assigning
        an array copies it in (and updates).
    probabilities : (C,) + shape float32 ndarray or None
        Latest result of ``segmenter.propagate``.
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
    >>> ann  # doctest: +SKIP
    """

    def __init__(self, image_or_volume: Any, n_classes: int, segmenter: Any = None, *,
                 labels: Any = None, brush_size: int = 3, opacity: float = 0.5,
                 zoom: float = 1, live: bool = True) -> None:
        from ipycanvas import Canvas

        image = _validate.array(image_or_volume, "image_or_volume", ndim=(2, 3))
        _validate.positive(n_classes, "n_classes", integer=True)
        _validate.positive(brush_size, "brush_size", integer=True, allow_zero=True)
        if not 0 <= opacity <= 1:
            raise ValueError(f"opacity must be in [0, 1], got {opacity!r}")
        if zoom not in _ZOOMS:
            raise ValueError(f"zoom must be one of {_ZOOMS}, got {zoom!r}")
        if segmenter is not None and not callable(getattr(segmenter, "propagate", None)):
            raise TypeError("segmenter must have a propagate(labels) method, e.g. a fitted "
                            "qimcore.segment.DictionarySegmenter")
        self.image = image
        self.n_classes = int(n_classes)
        self.segmenter = segmenter
        self._labels = self._check_labels(labels, image.shape)
        self.probabilities: np.ndarray | None = None
        self.last_update_s = 0.0
        self._volume = image if image.ndim == 3 else image[None]
        self._editor = LabelEditor(self._labels if image.ndim == 3 else self._labels[None])
        self._callbacks: list[Callable[[Annotator], Any]] = []
        self._stroke: list[tuple[float, float]] = []
        lo, hi = da.compute(image.min(), image.max())
        self._range = (float(lo), float(hi))

        nz, ny, nx = self._volume.shape
        self._colors = class_colors(self.n_classes)
        self.canvas = Canvas(width=nx, height=ny)
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
        self.eraser = w.ToggleButton(value=False, description="eraser", icon="eraser")
        self.brush = w.IntSlider(value=brush_size, min=0, max=50, description="brush")
        self.opacity = w.FloatSlider(value=opacity, min=0, max=1, step=0.05,
                                     description="opacity")
        self.zoom = w.Dropdown(options=list(_ZOOMS), value=zoom, description="zoom",
                               layout=w.Layout(width="160px"))
        self.undo_button = w.Button(description="undo", icon="undo")
        self.accept_button = w.Button(
            description="accept", icon="check", disabled=segmenter is None,
            tooltip="copy the segmentation of this slice into the labels, to correct it")
        self.live = w.Checkbox(value=live, description="live", indent=False,
                               disabled=segmenter is None, layout=w.Layout(width="60px"))
        self.update_button = w.Button(description="update", icon="refresh",
                                      disabled=segmenter is None)
        self.status = w.Label()
        view = w.Box([self.canvas], layout=w.Layout(overflow="auto", max_height="80vh",
                                                    max_width="100%"))
        view.add_class("qimcore-annotator")
        pixelated = w.HTML("<style>.qimcore-annotator canvas {image-rendering: pixelated}</style>")
        super().__init__([
            w.HBox([self.classes, w.HTML(legend), self.eraser]),
            w.HBox([self.brush, self.opacity, self.zoom, self.undo_button]),
            w.HBox([self.live, self.update_button, self.accept_button]),
            self.slice, view, self.status, pixelated])

        self.canvas.on_mouse_down(self._mouse_down)
        self.canvas.on_mouse_move(self._mouse_move)
        self.canvas.on_mouse_up(self._mouse_up)
        self.canvas.on_mouse_out(self._mouse_up)
        self.slice.observe(lambda _: self.redraw(), names="value")
        self.opacity.observe(lambda _: self.redraw(), names="value")
        self.zoom.observe(lambda _: self._set_zoom(), names="value")
        self.undo_button.on_click(lambda _: self.undo())
        self.accept_button.on_click(lambda _: self.accept())
        self.update_button.on_click(lambda _: self.update(propagate=True))
        self._set_zoom()
        self.update()

    # ------------------------------------------------------------------ state
    def _check_labels(self, labels: Any, shape: tuple[int, ...]) -> np.ndarray:
        dtype = _labels_dtype(self.n_classes)
        if labels is None:
            return np.zeros(shape, dtype=dtype)
        lab = _validate.array(labels, "labels", allow_dask=False)
        if lab.shape != shape:
            raise ValueError(f"labels must have the image's shape {shape}, got {lab.shape}")
        if not np.issubdtype(lab.dtype, np.integer):
            raise TypeError(f"labels must be an integer array, got {lab.dtype}")
        if lab.min() < 0 or lab.max() > self.n_classes:
            raise ValueError(f"labels must lie in 0..{self.n_classes} (n_classes)")
        return lab.astype(dtype, copy=True)

    @property
    def labels(self) -> np.ndarray:
        """Current labels (the image's shape; 0 = unlabelled). Assigning copies and redraws."""
        return self._labels

    @labels.setter
    def labels(self, value: Any) -> None:
        self._labels[...] = self._check_labels(value, self._labels.shape)
        self.update()

    @property
    def index(self) -> int:
        """Slice shown (index along axis 0 of a volume; 0 for a 2D image)."""
        return int(self.slice.value)

    def on_update(self, callback: Callable[[Annotator], Any]) -> None:
        """Call ``callback(annotator)`` after every update (stroke, undo, accept, load).

        For example autosave: ``ann.on_update(lambda a: a.save("labels.npy"))``.
        """
        self._callbacks.append(callback)

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
        self.slice.value = index
        self.update()

    def undo(self) -> None:
        """Revert the last stroke (and show its slice)."""
        index = self._editor.undo()
        if index is not None:
            self.slice.value = index
            self.update()

    def accept(self) -> None:
        """Copy the segmentation of the shown slice into the labels, to paint corrections.

        One undoable step, like a stroke.
        """
        if self.probabilities is None:
            return
        self._editor.replace(self.index, 1 + np.argmax(self._plane(self.probabilities), axis=0))
        self.update()

    def save(self, path: str | Path) -> None:
        """Write the labels to ``path`` (``.npy`` or ``.zarr``)."""
        p = Path(path)
        if p.suffix == ".npy":
            np.save(p, self.labels)
        elif p.suffix == ".zarr":
            import zarr

            zarr.save_array(str(p), self.labels)
        else:
            raise ValueError(f"path must end with .npy or .zarr, got {str(path)!r}")

    @classmethod
    def load(cls, path: str | Path, image_or_volume: Any, n_classes: int | None = None,
             segmenter: Any = None, **kwargs: Any) -> Annotator:
        """An Annotator starting from labels saved with :meth:`save`.

        ``n_classes`` defaults to the largest saved label (at least 2); other keywords go
        to the constructor.
        """
        labels = _read_labels(path)
        if n_classes is None:
            n_classes = max(2, int(labels.max(initial=0)))
        return cls(image_or_volume, n_classes, segmenter, labels=labels, **kwargs)

    # ------------------------------------------------------------------ drawing
    def _plane(self, arr: np.ndarray) -> np.ndarray:
        return arr[:, self.index] if self.image.ndim == 3 else arr

    def update(self, *, propagate: bool | None = None) -> None:
        """Propagate the labels through the segmenter (if any) and redraw.

        ``propagate`` defaults to the *live* checkbox.
        """
        start = time.perf_counter()
        message = ""
        propagate = self.live.value if propagate is None else propagate
        if propagate and self.segmenter is not None and self.labels.any():
            try:
                self.probabilities = np.asarray(self.segmenter.propagate(self.labels))
            except ValueError as err:          # e.g. labels not yet usable by the segmenter
                message = f"segmenter: {err}"
        self.redraw()
        self.last_update_s = time.perf_counter() - start
        self.status.value = message or f"updated in {self.last_update_s:.2f} s"
        for callback in self._callbacks:
            callback(self)

    def redraw(self) -> None:
        """Draw the shown slice with its segmentation and labels."""
        plane = np.asarray(self._volume[self.index], dtype=np.float32)
        prob = None if self.probabilities is None else self._plane(self.probabilities)
        rgb = overlay_rgb(plane, self._editor.labels[self.index], prob,
                          opacity=self.opacity.value, n_classes=self.n_classes,
                          vmin=self._range[0], vmax=self._range[1])
        _put_rgb(self.canvas, rgb)

    def _set_zoom(self) -> None:
        _, ny, nx = self._volume.shape
        self.canvas.layout.width = f"{nx * self.zoom.value}px"
        self.canvas.layout.height = f"{ny * self.zoom.value}px"
        self.canvas.layout.min_width = self.canvas.layout.width

    def _mouse_down(self, x: float, y: float) -> None:
        self._stroke = [(y - 0.5, x - 0.5)]
        value = 0 if self.eraser.value else int(self.classes.value)
        color = self._colors[value - 1] if value else np.zeros(3)
        self.canvas.stroke_style = "rgb({},{},{})".format(*(int(255 * c) for c in color))
        self.canvas.fill_style = self.canvas.stroke_style
        self.canvas.line_width = 2 * self.brush.value + 1
        self.canvas.line_cap = "round"
        self.canvas.fill_circle(x, y, self.brush.value + 0.5)

    def _mouse_move(self, x: float, y: float) -> None:
        if not self._stroke:
            return
        (y0, x0), point = self._stroke[-1], (y - 0.5, x - 0.5)
        self._stroke.append(point)
        self.canvas.stroke_line(x0 + 0.5, y0 + 0.5, x, y)

    def _mouse_up(self, x: float, y: float) -> None:
        if not self._stroke:
            return
        points, self._stroke = self._stroke, []
        self.paint(points)
