"""A numba cache locator that seeds each user's cache from one shared, read-only cache.

numba only uses a cache directory it can write to, so a cache compiled once at install time
(``python -m qimcore._warmup``) cannot serve users who may not write there (a hub's
unprivileged accounts). :class:`SharedCacheLocator` keeps each user's own writable cache
(numba's user-wide directory, ``~/.cache/numba``) and, before numba looks there, copies into it
the shared cache files of the same source file that are missing or newer. The shared files
are only read. Entries stay valid exactly as numba decides: the index holds the source file's
content hash and the machine's CPU.

Enabled through numba's own setting, e.g. in a kernel's environment::

    NUMBA_CACHE_LOCATOR_CLASSES=qimcore._numba_cache.SharedCacheLocator,\\
numba.core.caching.UserWideCacheLocator

This module must not import qimcore's submodules: numba imports it while they are compiled.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from numba.core.caching import UserWideCacheLocator

from ._files import atomic_file

__all__ = ["LOCATORS", "SharedCacheLocator", "shared_cache_dir"]

#: The value of ``NUMBA_CACHE_LOCATOR_CLASSES`` that uses the shared cache (numba's usual
#: locators follow, for functions outside qimcore and when no home folder is writable).
LOCATORS = ",".join([
    "numba.core.caching.UserProvidedCacheLocator",
    "qimcore._numba_cache.SharedCacheLocator",
    "numba.core.caching.InTreeCacheLocator",
    "numba.core.caching.UserWideCacheLocator",
    "numba.core.caching.IPythonCacheLocator",
    "numba.core.caching.ZipCacheLocator",
])


def shared_cache_dir() -> Path:
    """The shared cache: ``$QIMCORE_NUMBA_CACHE``, else ``<environment>/share/qimcore/numba``."""
    return Path(os.environ.get("QIMCORE_NUMBA_CACHE")
                or Path(sys.prefix) / "share" / "qimcore" / "numba")


def _seed(source: Path, target: Path) -> None:
    """Copy the cache files in ``source`` that ``target`` lacks or holds in an older copy."""
    for entry in os.scandir(source):
        if not entry.name.endswith((".nbi", ".nbc")):
            continue
        dest = target / entry.name
        try:
            if not dest.exists() or dest.stat().st_mtime < entry.stat().st_mtime:
                with atomic_file(dest) as tmp:  # another kernel never reads half a file
                    shutil.copy2(entry.path, tmp)
        except OSError:                          # unreadable or vanished: numba recompiles
            continue


class SharedCacheLocator(UserWideCacheLocator):
    """numba's user-wide cache, first filled from the shared cache of the same source file."""

    @classmethod
    def from_function(cls, py_func, py_file):
        self = super().from_function(py_func, py_file)
        if self is None:
            return None
        shared = shared_cache_dir() / cls.get_suitable_cache_subpath(py_file)
        if shared.is_dir() and shared.resolve() != Path(self.get_cache_path()).resolve():
            _seed(shared, Path(self.get_cache_path()))
        return self
