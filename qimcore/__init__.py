"""qimcore: quantitative 3D X-ray CT image analysis on chunked volumes.

Submodules are imported lazily, so ``import qimcore`` stays fast and never pulls in
napari, Qt, ipywidgets or papermill::

    import qimcore
    vol = qimcore.data.sample("nerves")
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = (
    "batch",
    "data",
    "fibres",
    "io",
    "layers",
    "nerves",
    "segment",
    "surfaces",
    "view",
    "widgets",
)

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
