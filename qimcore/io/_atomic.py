"""Replace a file or folder so that a kill at any moment loses neither the old nor the new data.

A save of ``dir/name`` writes into ``dir/.name.<pid>-<hex>.tmp/name``, renames an existing
``dir/name`` aside to ``dir/.name.<pid>-<hex>.old``, renames the new copy in and only then deletes
the old one. :func:`recover` (run by every save and load of ``dir/name``) finishes the work of a
killed save: when ``dir/name`` is missing it renames the newest complete copy back (the new
one if it was complete, else the old one set aside), and it deletes the leftovers of saves whose
process is gone. Leftovers of a live process (a save running now) are never touched.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

#: Attribute written last into every zarr store saved by qimcore: the store is complete.
COMPLETE = "qimcore"

#: Test hook: ``QIMCORE_SAVE_KILL_AT=<step>`` makes a save SIGKILL itself at ``step``.
_KILL_HOOK = "QIMCORE_SAVE_KILL_AT"


def _leftover_re(name: str) -> re.Pattern:
    return re.compile(rf"^\.{re.escape(name)}\.(\d+)-[0-9a-f]+\.(tmp|old)$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    elif p.exists() or p.is_symlink():
        p.unlink()


def _checkpoint(step: str) -> None:
    if os.environ.get(_KILL_HOOK) == step:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def is_complete(path: Path) -> bool:
    """Whether ``path`` is a file, or a zarr folder whose root carries the completeness mark."""
    if not path.is_dir():
        return path.is_file()
    for meta in ("zarr.json", ".zattrs"):
        try:
            attrs = json.loads((path / meta).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        attrs = attrs.get("attributes", {}) if meta == "zarr.json" else attrs
        if isinstance(attrs, dict) and (attrs.get(COMPLETE) or {}).get("complete") is True:
            return True
    return False


def recover(target: Path) -> None:
    """Restore ``target`` from a killed save if it is missing; delete leftovers of dead saves."""
    parent = target.parent
    if not parent.is_dir():
        return
    pattern = _leftover_re(target.name)
    dead: dict[str, list[Path]] = {"tmp": [], "old": []}
    for entry in parent.iterdir():
        match = pattern.match(entry.name)
        if match and not _alive(int(match.group(1))):
            dead[match.group(2)].append(entry)
    if not (dead["tmp"] or dead["old"]):
        return
    if not (target.exists() or target.is_symlink()):
        new = [t / target.name for t in dead["tmp"] if is_complete(t / target.name)]
        candidates = sorted(new, key=lambda p: p.stat().st_mtime) or \
            sorted(dead["old"], key=lambda p: p.stat().st_mtime)
        if candidates:
            os.replace(candidates[-1], target)
    for entry in dead["tmp"] + dead["old"]:
        if entry.exists():
            _remove(entry)


def replace(target: Path, write: Callable[[Path], None]) -> None:
    """Write a new ``target`` with ``write(path)`` and swap it in, never losing the old one.

    ``write`` fills the path it gets (a file or a folder named like ``target``); a zarr folder
    must end complete (see :func:`is_complete`). On any error the old ``target`` stays and the
    temporary copy is removed.
    """
    token = f"{os.getpid()}-{secrets.token_hex(4)}"
    tmp = target.parent / f".{target.name}.{token}.tmp"
    aside = target.parent / f".{target.name}.{token}.old"
    tmp.mkdir()
    try:
        write(tmp / target.name)
        _checkpoint("written")
        had_old = target.exists() or target.is_symlink()
        if had_old:
            os.replace(target, aside)
            _checkpoint("aside")
        try:
            os.replace(tmp / target.name, target)
        except OSError:
            if had_old:
                os.replace(aside, target)
            raise
        _checkpoint("renamed")
        if had_old:
            _remove(aside)
            _checkpoint("deleted")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
