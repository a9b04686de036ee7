"""napari plugin commands (declared in ``napari.yaml``): reader, sample data and widgets.

Only napari imports this module. Type hints name napari classes as strings, resolved by
magicgui when the widgets are built, so that importing it never imports napari.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import napari

__all__ = ["get_reader", "sample_bone", "sample_fibres", "sample_nerves", "sample_shell",
           "segment_widget", "surfaces_widget"]

_SUFFIXES = (".tif", ".tiff", ".zarr", ".h5", ".hdf5", ".npy", ".nii", ".nii.gz")
_SLICE_SUFFIXES = (".tif", ".tiff", ".png", ".dcm")


def _readable(path: Any) -> bool:
    if isinstance(path, list | tuple):
        return len(path) > 0 and all(_readable(p) for p in path)
    if not isinstance(path, str | Path):
        return False
    name = str(path).split("::")[0].rstrip("/").lower()
    if name.endswith(_SUFFIXES):
        return True
    p = Path(name)
    return p.is_dir() and any(f.suffix.lower() in _SLICE_SUFFIXES for f in p.iterdir())


def get_reader(path: Any) -> Callable[[Any], list[tuple]] | None:
    """napari reader hook: a reader for paths :func:`qimcore.io.load` opens, else None.

    Examples
    --------
    >>> get_reader("notes.txt") is None, callable(get_reader("scan.tif"))
    (True, True)
    """
    return _read if _readable(path) else None


def _read(path: Any) -> list[tuple]:
    from .io import load

    paths = list(path) if isinstance(path, list | tuple) else [path]
    return [(load(p), {"name": Path(str(p).split("::")[0].rstrip("/")).name}, "image")
            for p in paths]


def _sample(name: str) -> list[tuple]:
    from .data import sample

    return [(sample(name), {"name": name}, "image")]


def sample_nerves() -> list[tuple]:
    """The nerves CT sample as an image layer."""
    return _sample("nerves")


def sample_fibres() -> list[tuple]:
    """The fibres CT sample as an image layer."""
    return _sample("fibres")


def sample_shell() -> list[tuple]:
    """The shell CT sample as an image layer."""
    return _sample("shell")


def sample_bone() -> list[tuple]:
    """The bone CT sample as an image layer."""
    return _sample("bone")


def segment_widget(image: napari.layers.Image, scribbles: napari.layers.Labels,
                   patch_size: int = 7, n_words: int = 1000
                   ) -> napari.types.LayerDataTuple:
    """Dictionary segmentation of ``image`` from the ``scribbles`` labels (1..C)."""
    from .segment import DictionarySegmenter

    data = np.asarray(image.data, dtype=np.float32)
    seg = DictionarySegmenter(patch_size=patch_size, n_words=n_words).fit(data)
    labels = seg.propagate(np.asarray(scribbles.data)).argmax(axis=0) + 1
    return (labels.astype(np.uint8), {"name": "segmentation", "scale": image.scale}, "labels")


def surfaces_widget(volume: napari.layers.Image, n_surfaces: int = 1, delta: int = 1,
                    min_distance: int = 1, sigma: float = 1.0, dark_to_bright: bool = True
                    ) -> list[napari.types.LayerDataTuple]:
    """Smooth surfaces along z at the strongest z edges (graph-cut, exact optimum)."""
    from .surfaces import HeightGrid, detect_surfaces, edge_cost

    data = np.asarray(volume.data, dtype=np.float32)
    grid = HeightGrid(data.shape)
    polarity = "dark-to-bright" if dark_to_bright else "bright-to-dark"
    heights = detect_surfaces(edge_cost(grid.sample(data), sigma, polarity),
                              n_surfaces=n_surfaces, delta=delta, min_distance=min_distance)
    return [(grid.mesh(h), {"name": f"surface {i}", "scale": volume.scale}, "surface")
            for i, h in enumerate(heights)]
