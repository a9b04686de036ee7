"""An exclusive lock on a batch output folder, released when its process ends in any way."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

LOCK = ".qimcore-batch.lock"


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[Path]:
    """Hold an exclusive ``flock`` on ``folder/.qimcore-batch.lock`` for the ``with`` block.

    The operating system drops the lock when the process ends, also on SIGKILL, so the lock
    of a dead run is taken over at once; the file names the holder for the error message.

    Raises
    ------
    BlockingIOError
        When another live process holds the lock.
    """
    path = folder / LOCK
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = _holder(path)
            raise BlockingIOError(
                f"output folder {str(folder)!r} is in use by another batch run ({holder}); "
                "wait for it to end or choose another output folder") from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:  # the holder we waited for removed the file: lock anew
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since {stamp}\n".encode())
        yield path
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)


def _holder(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip() or "starting"
    except OSError:
        return "unknown process"
