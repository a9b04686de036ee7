"""Viewing: label/probability overlays, orthogonal slices, surfaces, histograms, 3D views.

The matplotlib helpers draw into a given ``ax`` (or a new figure) and return it; the colour
compositing (:func:`overlay_rgb`) is pure numpy and is shared with
:class:`qimcore.widgets.Annotator`. Two 3D viewers show a volume with its labels, surfaces
and tracks: :func:`view3d` in the notebook, in the browser (k3d's WebGL widget: works on a
hub, no display needed; ``pip install 'qimcore[widgets]'``), and :func:`napari` on a desktop
(``pip install 'qimcore[viewer]'``). Both are imported lazily. :func:`heights_to_mesh` turns
surfaces from :func:`qimcore.surfaces.detect_surfaces` into triangle meshes for the viewers
and :func:`qimcore.io.save_mesh`.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import dask.array as da
import numpy as np

from . import _units, _validate
from .surfaces import heights_to_mesh  # the mesh of detected surfaces, re-exported

if TYPE_CHECKING:
    import k3d.plot
    import matplotlib.axes
    import matplotlib.figure
    import napari as _napari

__all__ = [
    "class_colors",
    "downsample",
    "heights_to_mesh",
    "histogram",
    "napari",
    "orthogonal_slices",
    "overlay",
    "overlay_rgb",
    "show_curves",
    "show_surfaces",
    "track_lines",
    "view3d",
]

# Tableau-like palette; class k (1-based) gets _PALETTE[(k - 1) % len].
_PALETTE = np.array([
    [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
    [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
], dtype=np.float32) / 255


def class_colors(n_classes: int) -> np.ndarray:
    """RGB colours of classes ``1..n_classes``, as used by every overlay.

    Returns
    -------
    (n_classes, 3) float32 ndarray
        Row ``k - 1`` is the colour of class ``k``, values in [0, 1].

    Examples
    --------
    >>> class_colors(2).shape
    (2, 3)
    """
    _validate.positive(n_classes, "n_classes", integer=True)
    return _PALETTE[np.arange(n_classes) % len(_PALETTE)]


def _normalise(image: np.ndarray, vmin: float | None, vmax: float | None) -> np.ndarray:
    img = np.asarray(image, dtype=np.float32)
    lo = float(img.min()) if vmin is None else vmin
    hi = float(img.max()) if vmax is None else vmax
    return np.clip((img - lo) / (hi - lo), 0, 1) if hi > lo else np.zeros_like(img)


def overlay_rgb(image: Any, labels: Any = None, probabilities: Any = None, *,
                opacity: float = 0.5, label_opacity: float = 1.0, n_classes: int | None = None,
                vmin: float | None = None, vmax: float | None = None) -> np.ndarray:
    """Grey image with the segmentation and the labels blended on top, as RGB.

    The segmentation (argmax of ``probabilities``) is blended with ``opacity``, then the
    labels (pixels > 0) with ``label_opacity``.

    Parameters
    ----------
    image : (Y, X) ndarray
        Grey values, scaled to [vmin, vmax] (default: the image's range).
    labels : (Y, X) int ndarray, optional
        ``0`` = unlabelled, ``1..C`` = classes.
    probabilities : (C, Y, X) ndarray, optional
        Class probabilities; drawn as the colour of the most probable class.
    opacity, label_opacity : float, keyword-only
        Blending weights in [0, 1] of the segmentation and of the labels.
    n_classes : int, keyword-only, optional
        Number of classes (default from ``probabilities`` or ``labels.max()``).
    vmin, vmax : float, keyword-only, optional
        Grey range.

    Returns
    -------
    (Y, X, 3) float32 ndarray
        RGB in [0, 1].

    Examples
    --------
    >>> rgb = overlay_rgb(np.zeros((2, 2)), labels=np.array([[0, 1], [0, 0]]))
    >>> rgb[0, 0].tolist(), (rgb[0, 1] == class_colors(1)[0]).all()
    ([0.0, 0.0, 0.0], np.True_)
    """
    img = _validate.array(image, "image", ndim=2, allow_dask=False)
    for value, name in ((opacity, "opacity"), (label_opacity, "label_opacity")):
        if not 0 <= value <= 1:
            raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    grey = _normalise(img, vmin, vmax)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    if n_classes is None:
        n_classes = max(1, len(probabilities) if probabilities is not None
                        else int(np.max(labels, initial=0)) if labels is not None else 1)
    colors = np.vstack([np.zeros((1, 3), np.float32), class_colors(n_classes)])
    if probabilities is not None:
        prob = _validate.array(probabilities, "probabilities", ndim=3, allow_dask=False)
        if prob.shape[1:] != img.shape:
            raise ValueError(f"probabilities must have shape (C,) + {img.shape}, got {prob.shape}")
        seg = colors[1 + np.argmax(prob, axis=0)]
        rgb = (1 - opacity) * rgb + opacity * seg
    if labels is not None:
        lab = _validate.array(labels, "labels", ndim=2, allow_dask=False)
        if lab.shape != img.shape:
            raise ValueError(f"labels must have the image's shape {img.shape}, got {lab.shape}")
        if lab.min() < 0 or lab.max() > n_classes:
            raise ValueError(f"labels must lie in 0..{n_classes}")
        drawn = lab > 0
        rgb[drawn] = (1 - label_opacity) * rgb[drawn] + label_opacity * colors[lab[drawn]]
    return rgb.astype(np.float32)


def _axes(ax: Any) -> matplotlib.axes.Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots()[1]


def overlay(image: Any, labels: Any = None, probabilities: Any = None, *, opacity: float = 0.5,
            ax: Any = None, **kwargs: Any) -> matplotlib.axes.Axes:
    """Show a 2D image with its labels and segmentation overlaid (see :func:`overlay_rgb`).

    Parameters
    ----------
    image : (Y, X) ndarray
    labels : (Y, X) int ndarray, optional
    probabilities : (C, Y, X) ndarray, optional
    opacity : float, keyword-only
        Opacity of the segmentation overlay.
    ax : matplotlib Axes, keyword-only, optional
        Where to draw (a new figure when None).
    **kwargs
        Passed to :func:`overlay_rgb`.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> ax = overlay(np.eye(4), labels=np.eye(4, dtype=int))
    >>> ax.images[0].get_array().shape
    (4, 4, 3)
    """
    ax = _axes(ax)
    ax.imshow(overlay_rgb(image, labels, probabilities, opacity=opacity, **kwargs),
              interpolation="nearest")
    ax.set_axis_off()
    return ax


def orthogonal_slices(volume: Any, point: Sequence[int] | None = None, *, labels: Any = None,
                      probabilities: Any = None, opacity: float = 0.5, voxel_size: Any = 1.0,
                      fig: Any = None) -> matplotlib.figure.Figure:
    """Three orthogonal slices (z, y and x planes) through ``point``, with overlays.

    Only the three planes are read, so a dask volume stays lazy.

    Parameters
    ----------
    volume : (Z, Y, X) ndarray or dask array
    point : (z, y, x) ints, optional
        Voxel the planes pass through (default the centre).
    labels : (Z, Y, X) int ndarray, optional
    probabilities : (C, Z, Y, X) ndarray, optional
    opacity : float, keyword-only
        Opacity of the segmentation.
    voxel_size : float or (z, y, x) floats, keyword-only
        Voxel size in micrometres, for the aspect ratio of each panel.
    fig : matplotlib Figure, keyword-only, optional

    Returns
    -------
    matplotlib.figure.Figure
        With three axes titled ``z = ..``, ``y = ..``, ``x = ..``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> fig = orthogonal_slices(np.zeros((4, 5, 6)), (1, 2, 3))
    >>> [ax.get_title() for ax in fig.axes]
    ['z = 1', 'y = 2', 'x = 3']
    """
    vol = _validate.array(volume, "volume", ndim=3)
    if point is None:
        point = tuple(s // 2 for s in vol.shape)
    if len(point) != 3 or not all(0 <= int(p) < s for p, s in zip(point, vol.shape)):
        raise ValueError(f"point must be 3 indices (z, y, x) inside {vol.shape}, got {point!r}")
    dz, dy, dx = _units.voxel_size(voxel_size, 3)
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(12, 4))
    axes = fig.subplots(1, 3)
    n_classes = None if probabilities is None else len(probabilities)
    if n_classes is None and labels is not None:
        n_classes = max(1, int(np.max(labels)))
    for axis, (ax, aspect) in enumerate(zip(axes, (dy / dx, dz / dx, dz / dy))):
        index = [slice(None)] * 3
        index[axis] = int(point[axis])
        plane = np.asarray(vol[tuple(index)])
        lab = None if labels is None else np.asarray(labels[tuple(index)])
        prob = None if probabilities is None else np.asarray(
            probabilities[(slice(None), *index)])
        ax.imshow(overlay_rgb(plane, lab, prob, opacity=opacity, n_classes=n_classes),
                  interpolation="nearest", aspect=aspect)
        ax.set_title(f"{'zyx'[axis]} = {int(point[axis])}")
    return fig


def show_surfaces(image: Any, heights: Any, *, ax: Any = None, **kwargs: Any
                  ) -> matplotlib.axes.Axes:
    """Draw surfaces (curves) ``heights`` on a 2D ``(Z, X)`` slice.

    Parameters
    ----------
    image : (Z, X) ndarray
        A slice across the surfaces, e.g. ``volume[:, y, :]``.
    heights : (n_surfaces, X) int ndarray
        Surface ``i`` passes through ``(heights[i, x], x)``, as from
        :func:`qimcore.surfaces.detect_surfaces` on a 2D cost (or ``heights[:, :, y]``...).
    ax : matplotlib Axes, keyword-only, optional
    **kwargs
        Passed to ``ax.plot``.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> ax = show_surfaces(np.zeros((5, 3)), np.array([[1, 2, 1]]))
    >>> ax.lines[0].get_ydata().tolist()
    [1, 2, 1]
    """
    img = _validate.array(image, "image", ndim=2, allow_dask=False)
    h = _validate.array(heights, "heights", ndim=2, allow_dask=False)
    if h.shape[1] != img.shape[1]:
        raise ValueError(f"heights must have shape (n_surfaces, {img.shape[1]}), got {h.shape}")
    ax = _axes(ax)
    ax.imshow(img, cmap="gray", interpolation="nearest")
    colors = class_colors(len(h))
    for i, row in enumerate(h):
        ax.plot(np.arange(len(row)), row, color=colors[i], **kwargs)
    return ax


def show_curves(image: Any, curves: Sequence[Any], *, closed: bool = True, ax: Any = None,
                **kwargs: Any) -> matplotlib.axes.Axes:
    """Draw curves of ``(y, x)`` points (e.g. nerve boundaries) on a 2D image.

    Parameters
    ----------
    image : (Y, X) ndarray
    curves : sequence of (n, 2) arrays
        Points ``(y, x)`` in pixels.
    closed : bool, keyword-only
        Join the last point to the first.
    ax : matplotlib Axes, keyword-only, optional
    **kwargs
        Passed to ``ax.plot``.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> ax = show_curves(np.zeros((5, 5)), [np.array([[1, 1], [1, 3], [3, 3]])])
    >>> ax.lines[0].get_xdata().tolist()
    [1, 3, 3, 1]
    """
    img = _validate.array(image, "image", ndim=2, allow_dask=False)
    ax = _axes(ax)
    ax.imshow(img, cmap="gray", interpolation="nearest")
    for curve in curves:
        c = _validate.array(curve, "curves", ndim=2, allow_dask=False)
        if c.shape[1] != 2:
            raise ValueError(f"curves must hold (n, 2) arrays of (y, x) points, got {c.shape}")
        if closed:
            c = np.vstack([c, c[:1]])
        ax.plot(c[:, 1], c[:, 0], **kwargs)
    return ax


def histogram(image: Any, labels: Any = None, *, bins: int = 256, ax: Any = None,
              log: bool = False) -> matplotlib.axes.Axes:
    """Grey-value histogram, one curve per class when ``labels`` is given.

    Dask input is reduced chunk by chunk (``dask.array.histogram``).

    Parameters
    ----------
    image : ndarray or dask array
    labels : int array of the image's shape, optional
        Voxels with label ``k > 0`` go in the histogram of class ``k``.
    bins : int, keyword-only
    ax : matplotlib Axes, keyword-only, optional
    log : bool, keyword-only
        Logarithmic counts.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.lines[i]`` holds the counts (y) over bin centres (x) of curve ``i``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> ax = histogram(np.array([0, 0, 1, 1, 1]), bins=2)
    >>> ax.lines[0].get_ydata().tolist()
    [2, 3]
    """
    img = _validate.array(image, "image")
    _validate.positive(bins, "bins", integer=True)
    lo, hi = (float(v) for v in da.compute(img.min(), img.max()))
    edges = np.linspace(lo, hi if hi > lo else lo + 1, bins + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    hist = da.histogram if isinstance(img, da.Array) else np.histogram
    ax = _axes(ax)
    if labels is None:
        counts = np.asarray(hist(img, bins=edges)[0])
        ax.plot(centres, counts, color="k", label="all")
    else:
        if labels.shape != img.shape:
            raise ValueError(f"labels must have the image's shape {img.shape}, "
                             f"got {labels.shape}")
        n_classes = int(np.max(labels))
        colors = class_colors(max(n_classes, 1))
        for k in range(1, n_classes + 1):
            counts = np.asarray(hist(img[labels == k], bins=edges)[0])
            ax.plot(centres, counts, color=colors[k - 1], label=f"class {k}")
        ax.legend()
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("grey value")
    ax.set_ylabel("count")
    return ax


def _track_points(tracks: Sequence[Any]) -> list[np.ndarray]:
    """``(n, 3)`` float64 (z, y, x) points of each track; a nerve gives its axon centre line."""
    out = []
    for track in tracks:
        if hasattr(track, "inner") and hasattr(track, "z"):   # qimcore.nerves.NerveTrack
            centre = np.asarray(track.inner, dtype=np.float64).mean(axis=1)
            pts = np.column_stack([np.asarray(track.z, dtype=np.float64), centre])
        else:
            pts = _validate.array(track, "tracks", ndim=2, allow_dask=False).astype(np.float64)
        if pts.shape[1] != 3:
            raise ValueError(f"tracks must hold (n, 3) (z, y, x) arrays, got {pts.shape}")
        out.append(pts)
    if not out:
        raise ValueError("tracks is empty")
    return out


def _track_table(tracks: list[np.ndarray]) -> np.ndarray:
    """napari Tracks data ``[id, t, z, y, x]``; ``t`` is the point's index along its track."""
    return np.vstack([np.column_stack([np.full(len(p), i), np.arange(len(p)), p])
                      for i, p in enumerate(tracks)])


def _volume_labels(labels: Any, shape: tuple[int, ...]) -> Any:
    """``labels`` checked to be an integer volume of ``shape`` (numpy or dask)."""
    lab = _validate.array(labels, "labels", ndim=3)
    if lab.shape != shape:
        raise ValueError(f"labels must have the volume's shape {shape}, got {lab.shape}")
    if not np.issubdtype(lab.dtype, np.integer):
        raise TypeError(f"labels must be an integer array, got {lab.dtype}")
    return lab


def _surface_meshes(surfaces: Any, shape: tuple[int, ...]) -> list[tuple[Any, Any]]:
    """Meshes ``(vertices, faces)`` of ``surfaces``: height maps over ``shape`` or meshes."""
    if isinstance(surfaces, np.ndarray):
        if surfaces.ndim != 3 or surfaces.shape[1:] != shape[1:]:
            raise ValueError(f"surfaces must be heights (n_surfaces,) + {shape[1:]}, "
                             f"got {surfaces.shape}")
        return [heights_to_mesh(h) for h in surfaces]
    return list(surfaces)


def napari(volume: Any, labels: Any = None, surfaces: Any = None, tracks: Any = None, *,
           probabilities: Any = None, voxel_size: Any = 1.0, show: bool = True,
           viewer: Any = None) -> _napari.Viewer:
    """Open a napari viewer with the volume and its labels, surfaces and tracks.

    Parameters
    ----------
    volume : (Z, Y, X) ndarray or dask array
        Shown as an image layer ``"volume"`` (dask stays lazy).
    labels : (Z, Y, X) int array, optional
        Labels layer ``"labels"``.
    surfaces : (n_surfaces, Y, X) int ndarray or sequence of (vertices, faces), optional
        Height maps from :func:`qimcore.surfaces.detect_surfaces` (meshed with
        :func:`heights_to_mesh`) or meshes; one surface layer ``"surface i"`` each.
    tracks : sequence of (n, 3) (z, y, x) arrays or of ``NerveTrack``, optional
        One tracks layer ``"tracks"``; a nerve is drawn by its axon centre line. The layer's
        time axis (the viewer's first axis) is the point index along each track; the viewer
        starts at the last one, showing whole tracks.
    probabilities : (C, Z, Y, X) array, keyword-only, optional
        One image layer ``"probability k"`` per class.
    voxel_size : float or (z, y, x) floats, keyword-only
        Layer scale in micrometres.
    show : bool, keyword-only
        Show the window (False for scripts and tests).
    viewer : napari.Viewer, keyword-only, optional
        Add the layers to this viewer instead of a new one.

    Returns
    -------
    napari.Viewer

    Examples
    --------
    >>> viewer = napari(np.zeros((8, 8, 8)), labels=np.ones((8, 8, 8), int))  # doctest: +SKIP
    """
    vol = _validate.array(volume, "volume", ndim=3)
    scale = _units.voxel_size(voxel_size, 3)
    if viewer is None and not _has_display():
        raise ValueError(
            "qimcore.view.napari needs a desktop display, and there is none here ($DISPLAY "
            "and $WAYLAND_DISPLAY are unset, e.g. on a JupyterHub): use "
            "qimcore.view.view3d(volume, labels=..., surfaces=..., tracks=...) for a 3D view "
            "in the notebook, in the browser")
    try:
        import napari as napari_module
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError("qimcore.view.napari needs napari: "
                          "pip install 'qimcore[viewer]'") from err
    if viewer is None:
        viewer = napari_module.Viewer(show=show)
    viewer.add_image(vol, name="volume", scale=scale)
    if probabilities is not None:
        if tuple(probabilities.shape[1:]) != vol.shape:
            raise ValueError(f"probabilities must have shape (C,) + {vol.shape}")
        for k in range(len(probabilities)):
            viewer.add_image(probabilities[k], name=f"probability {k + 1}", scale=scale,
                             colormap="magma", blending="additive", visible=False)
    if labels is not None:
        lab = _volume_labels(labels, vol.shape)
        viewer.add_labels(lab, name="labels", scale=scale, opacity=0.5)
    if surfaces is not None:
        meshes = _surface_meshes(surfaces, vol.shape)
        colors = class_colors(max(len(meshes), 1))
        for i, (verts, faces) in enumerate(meshes):
            viewer.add_surface((np.asarray(verts, np.float32), np.asarray(faces)),
                               name=f"surface {i}", scale=scale, opacity=0.7,
                               colormap=_solid_colormap(colors[i]))
    if tracks is not None:
        table = _track_table(_track_points(tracks))
        viewer.add_tracks(table, name="tracks", scale=(1.0, *scale), tail_length=len(table),
                          tail_width=3)
        viewer.dims.set_point(0, table[:, 1].max())     # time = index along track: show all
    return viewer


def _solid_colormap(color: np.ndarray) -> Any:
    from napari.utils.colormaps import Colormap

    rgba = np.append(color, 1.0)
    return Colormap(np.stack([rgba, rgba]), name=f"qimcore_{'_'.join(f'{c:.3f}' for c in color)}")


def _has_display() -> bool:
    """False on Linux without X11/Wayland display, where Qt would abort the process."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                or os.environ.get("QT_QPA_PLATFORM", "").startswith(("offscreen", "minimal")))


# ----------------------------------------------------------------------------- browser 3D view
def downsample(volume: Any, max_voxels: int, *, labels: bool = False
               ) -> tuple[np.ndarray, int]:
    """A small in-memory copy of a (possibly huge, lazy) volume for 3D display.

    The volume is reduced by the smallest integer factor ``f`` (the same along each axis)
    that leaves at most ``max_voxels`` voxels: the mean of each ``f × f × f`` block for grey
    values, the voxel at the centre of each block for labels. A dask volume is reduced chunk
    by chunk (never loaded whole); trailing voxels that do not fill a block are dropped.

    Parameters
    ----------
    volume : (Z, Y, X) ndarray or dask array
    max_voxels : int
        Upper bound on the number of voxels returned (>= 1).
    labels : bool, keyword-only
        Pick voxels (integer labels) instead of averaging.

    Returns
    -------
    small : (Z // f, Y // f, X // f) ndarray
        float32 block means, or the labels' dtype.
    factor : int
        ``f``; voxel ``(i, j, k)`` of ``small`` covers ``volume[f*i:f*i+f, ...]``.

    Examples
    --------
    >>> small, f = downsample(np.arange(64.0).reshape(4, 4, 4), 8)
    >>> f, small.shape, float(small[0, 0, 0])
    (2, (2, 2, 2), 10.5)
    """
    vol = _validate.array(volume, "volume", ndim=3)
    _validate.positive(max_voxels, "max_voxels", integer=True)
    f = max(1, math.floor((math.prod(vol.shape) / max_voxels) ** (1 / 3)))
    while f > 1 and math.prod(s // (f - 1) for s in vol.shape) <= max_voxels:
        f -= 1
    while math.prod(s // f for s in vol.shape) > max_voxels:
        f += 1
    if min(vol.shape) < f:
        raise ValueError(f"volume {vol.shape} cannot be reduced to {max_voxels} voxels with "
                         "the same factor along each axis: raise max_voxels")
    trimmed = vol[tuple(slice(0, s // f * f) for s in vol.shape)]
    if labels:
        small = trimmed[f // 2::f, f // 2::f, f // 2::f]
        return np.asarray(small), f
    if f == 1:
        return np.asarray(trimmed, dtype=np.float32), 1
    lazy = da.asarray(trimmed)
    lazy = lazy.rechunk(tuple(max(f, c // f * f) for c in lazy.chunksize))
    small = da.coarsen(np.mean, lazy.astype(np.float32), {0: f, 1: f, 2: f})
    return np.asarray(small.compute(), dtype=np.float32), f


def track_lines(tracks: Sequence[Any], values: Any = None, *, voxel_size: Any = 1.0
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertices, segments and per-vertex values of tracks, for a line drawing (x, y, z order).

    Parameters
    ----------
    tracks : sequence of (n, 3) (z, y, x) arrays or of ``NerveTrack``
        Fibre centre lines, or nerves (drawn by their axon centre line).
    values : sequence of float, optional
        One value per track (e.g. a column of :func:`qimcore.nerves.nerve_table`), given to
        each of its vertices; default the track's index.
    voxel_size : float or (z, y, x) floats, keyword-only
        Scales the coordinates (micrometres).

    Returns
    -------
    vertices : (N, 3) float32 ndarray
        ``(x, y, z)`` points of all tracks, one after the other.
    segments : (S, 2) uint32 ndarray
        Vertex index pairs joining consecutive points of the same track.
    attribute : (N,) float32 ndarray
        The track's value at each vertex.

    Examples
    --------
    >>> v, s, a = track_lines([np.array([[0, 1, 2], [1, 1, 2]]), np.zeros((1, 3))], [5, 7])
    >>> v.tolist(), s.tolist(), a.tolist()
    ([[2.0, 1.0, 0.0], [2.0, 1.0, 1.0], [0.0, 0.0, 0.0]], [[0, 1]], [5.0, 5.0, 7.0])
    """
    points = _track_points(tracks)
    if values is None:
        values = np.arange(len(points))
    vals = np.asarray(values, dtype=np.float64)
    if vals.shape != (len(points),):
        raise ValueError(f"values must hold one number per track ({len(points)}), "
                         f"got shape {vals.shape}")
    scale = np.asarray(_units.voxel_size(voxel_size, 3), dtype=np.float64)
    counts = np.array([len(p) for p in points])
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    segments = np.concatenate([np.stack([s + np.arange(c - 1), s + np.arange(1, c)], 1)
                               for s, c in zip(starts, counts)]).astype(np.uint32)
    vertices = (np.vstack(points) * scale)[:, ::-1].astype(np.float32)
    return vertices, segments.reshape(-1, 2), np.repeat(vals, counts).astype(np.float32)


def _k3d_colormap(colors: Any) -> list[float]:
    """k3d colour map ``[v, r, g, b, ...]`` from a matplotlib name or (n, 3) RGB rows."""
    if isinstance(colors, str):
        import matplotlib

        colors = matplotlib.colormaps[colors](np.linspace(0, 1, 32))[:, :3]
    rgb = np.asarray(colors, dtype=np.float64)
    v = np.linspace(0, 1, len(rgb))
    return np.column_stack([v, rgb]).ravel().tolist()


def _hex(color: np.ndarray) -> int:
    r, g, b = (int(round(255 * c)) for c in color[:3])
    return (r << 16) + (g << 8) + b


def _bounds(shape: tuple[int, ...], factor: int, scale: np.ndarray) -> list[float]:
    """k3d bounds ``[x0, x1, y0, y1, z0, z1]`` of the voxel edges (centre of voxel i at i)."""
    out = []
    for axis in (2, 1, 0):
        out += [-0.5 * scale[axis], (shape[axis] * factor - 0.5) * scale[axis]]
    return out


def view3d(volume: Any, labels: Any = None, surfaces: Any = None, tracks: Any = None, *,
           probabilities: Any = None, track_values: Any = None, track_colormap: str = "viridis",
           voxel_size: Any = 1.0, max_voxels: int = 2**22, opacity: float = 0.5,
           height: int = 560) -> k3d.plot.Plot:
    """3D view in the notebook (browser, WebGL): volume, labels, surfaces and tracks.

    Runs wherever the notebook runs, a hub included (no display, no GPU needed: k3d renders
    in the browser). Volumes larger than ``max_voxels`` are shown downsampled
    (:func:`downsample`, chunk by chunk for dask), so a huge volume costs a small transfer.
    Objects can be hidden, recoloured and clipped from the plot's menu.

    Parameters
    ----------
    volume : (Z, Y, X) ndarray or dask array
        Grey values, drawn by volume rendering (object ``"volume"``; fainter when other
        objects are shown, so that they stay visible; its opacity is in the plot's panel).
    labels : (Z, Y, X) int array, optional
        Classes ``1..C`` as coloured voxels (object ``"labels"``; class colours of
        :func:`class_colors`).
    surfaces : (n_surfaces, Y, X) int ndarray or sequence of (vertices, faces), optional
        Height maps from :func:`qimcore.surfaces.detect_surfaces` or ``(z, y, x)`` meshes
        from :func:`qimcore.surfaces.deform_mesh`; one mesh ``"surface i"`` each.
    tracks : sequence of (n, 3) (z, y, x) arrays or of ``NerveTrack``, optional
        Fibre or nerve centre lines, one line object ``"tracks"`` (see :func:`track_lines`).
    probabilities : (C, Z, Y, X) array, keyword-only, optional
        One volume ``"probability k"`` per class, in the class colour; only the last class is
        visible at first.
    track_values : sequence of float, keyword-only, optional
        One value per track colouring it, e.g. ``nerve_table(tracks)["axon_diameter"]`` or
        ``fibre_table(tracks)["theta"]``; a pandas Series names the colour bar.
    track_colormap : str, keyword-only
        Matplotlib colour map of ``track_values``.
    voxel_size : float or (z, y, x) floats, keyword-only
        Voxel size in micrometres (the plot's units).
    max_voxels : int, keyword-only
        Largest volume sent to the browser; larger volumes are downsampled.
    opacity : float, keyword-only
        Opacity of labels and surfaces.
    height : int, keyword-only
        Plot height in pixels.

    Returns
    -------
    k3d.plot.Plot
        A notebook widget: the cell shows it; ``plot.objects`` lists what is drawn.

    Examples
    --------
    >>> plot = view3d(np.random.rand(32, 32, 32), surfaces=np.full((1, 32, 32), 16))
    >>> [o.name for o in plot.objects]
    ['volume', 'surface 0']
    """
    try:
        import k3d
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError("qimcore.view.view3d needs k3d: pip install 'qimcore[widgets]'"
                          ) from err
    vol = _validate.array(volume, "volume", ndim=3)
    if not 0 <= opacity <= 1:
        raise ValueError(f"opacity must be in [0, 1], got {opacity!r}")
    scale = np.asarray(_units.voxel_size(voxel_size, 3), dtype=np.float64)
    small, f = downsample(vol, max_voxels)
    bounds = _bounds(small.shape, f, scale)
    lo, hi = (float(v) for v in np.percentile(small, [1, 99.5]))
    plot = k3d.plot(height=height, grid_visible=False, menu_visibility=True,
                    axes=["x (µm)", "y (µm)", "z (µm)"])
    alone = labels is None and surfaces is None and tracks is None and probabilities is None
    plot += k3d.volume(small, color_range=[lo, hi if hi > lo else lo + 1],
                       color_map=_k3d_colormap("gray"), opacity_function=[0, 0, 1, 1],
                       bounds=bounds, name="volume", alpha_coef=10.0 if alone else 2.0,
                       compression_level=1)
    if probabilities is not None:
        if tuple(probabilities.shape[1:]) != vol.shape:
            raise ValueError(f"probabilities must have shape (C,) + {vol.shape}, got "
                             f"{tuple(probabilities.shape)}")
        colors = class_colors(len(probabilities))
        for k in range(len(probabilities)):
            p, _ = downsample(probabilities[k], max_voxels)
            plot += k3d.volume(p, color_range=[0, 1], bounds=bounds,
                               color_map=_k3d_colormap([[0, 0, 0], colors[k]]),
                               opacity_function=[0, 0, 1, 1], alpha_coef=10.0,
                               name=f"probability {k + 1}", visible=k == len(probabilities) - 1,
                               compression_level=1)
    if labels is not None:
        lab = _volume_labels(labels, vol.shape)
        small_lab, _ = downsample(lab, max_voxels, labels=True)
        if small_lab.min() < 0 or small_lab.max() > 255:
            raise ValueError("labels must lie in 0..255 for the 3D view")
        n = max(1, int(small_lab.max()))
        plot += k3d.voxels(small_lab.astype(np.uint8),
                           color_map=[_hex(c) for c in class_colors(n)], outlines=False,
                           opacity=opacity, bounds=bounds, name="labels", compression_level=1)
    if surfaces is not None:
        meshes = _surface_meshes(surfaces, vol.shape)
        colors = class_colors(max(len(meshes), 1))
        for i, (verts, faces) in enumerate(meshes):
            v = _validate.array(verts, "surfaces", ndim=2, allow_dask=False)
            plot += k3d.mesh((v * scale)[:, ::-1].astype(np.float32),
                             np.asarray(faces, dtype=np.uint32), color=_hex(colors[i]),
                             opacity=opacity, side="double", flat_shading=False,
                             name=f"surface {i}")
    if tracks is not None:
        vertices, segments, values = track_lines(tracks, track_values, voxel_size=voxel_size)
        lo, hi = float(values.min()), float(values.max())
        width = 0.008 * float(np.linalg.norm(np.subtract(bounds[1::2], bounds[::2])))
        plot += k3d.lines(vertices, segments, indices_type="segment", attribute=values,
                          color_map=_k3d_colormap(track_colormap),
                          color_range=[lo, hi if hi > lo else lo + 1], width=width,
                          shader="mesh", name=getattr(track_values, "name", None) or "tracks")
        plot.colorbar_object_id = plot.objects[-1].id
    plot.camera = _oblique_camera(bounds)
    plot.camera_auto_fit = False
    return plot


def _oblique_camera(bounds: list[float]) -> list[float]:
    """k3d camera (position, target, up) looking at the box obliquely, z (slices) up."""
    lo, hi = np.asarray(bounds[::2]), np.asarray(bounds[1::2])
    centre, diagonal = (lo + hi) / 2, float(np.linalg.norm(hi - lo))
    direction = np.array([1.0, -1.4, 0.9]) / np.linalg.norm([1.0, -1.4, 0.9])
    return [*(centre + 1.2 * diagonal * direction), *centre, 0.0, 0.0, 1.0]
