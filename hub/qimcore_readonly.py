"""A jupyter-server contents manager that refuses every write under the shared data folders.

The single-user servers of the hub use it (``--ServerApp.contents_manager_class``), so saving,
uploading, creating, renaming, deleting or checkpointing anything inside ``data_samples/`` or
``shared_data/`` through Jupyter (file browser, editor, REST API) answers ``403 Forbidden``.
Paths are compared after resolving symbolic links, so ``notebooks/../data_samples/x`` or a
link to the same folder is refused too.

This works when the servers run as root. It does not stop code running in a kernel: that has
the file permissions of the server's Unix user. ``docs/hub.md`` says what protects the data
against kernel code in each deployment (0444/0555 files for non-root users, ``ReadOnlyPaths``
with SystemdSpawner, a read-only mount on a cluster).
"""

from __future__ import annotations

import os

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from tornado.web import HTTPError
from traitlets import List, Unicode, default


class ReadOnlyDataContentsManager(AsyncLargeFileManager):
    """``AsyncLargeFileManager`` with read-only folders (``read_only_dirs``)."""

    read_only_dirs = List(
        Unicode(), config=True,
        help="Folders (absolute, or relative to root_dir) in which nothing may be written. "
             "Default: $QIMCORE_READ_ONLY_DIRS (os.pathsep separated) or data_samples, shared_data.")

    @default("read_only_dirs")
    def _default_read_only_dirs(self) -> list[str]:
        env = os.environ.get("QIMCORE_READ_ONLY_DIRS")
        return env.split(os.pathsep) if env else ["data_samples", "shared_data"]

    def _read_only_roots(self) -> list[str]:
        roots = (os.path.join(self.root_dir, d) for d in self.read_only_dirs if d)
        return [os.path.realpath(r) for r in roots]

    def _refuse_writes(self, path: str) -> None:
        real = os.path.realpath(self._get_os_path(path.strip("/")))
        for root in self._read_only_roots():
            if real == root or real.startswith(root + os.sep):
                raise HTTPError(403, f"{path!r} is in a read-only shared data folder")

    async def save(self, model, path=""):
        self._refuse_writes(path)
        return await super().save(model, path)

    async def delete_file(self, path):
        self._refuse_writes(path)
        return await super().delete_file(path)

    async def rename_file(self, old_path, new_path):
        self._refuse_writes(old_path)
        self._refuse_writes(new_path)
        return await super().rename_file(old_path, new_path)

    async def copy(self, from_path, to_path=None):
        self._refuse_writes(to_path if to_path else os.path.dirname(from_path.strip("/")))
        return await super().copy(from_path, to_path)

    async def create_checkpoint(self, path):
        self._refuse_writes(path)
        return await super().create_checkpoint(path)

    async def restore_checkpoint(self, checkpoint_id, path):
        self._refuse_writes(path)
        return await super().restore_checkpoint(checkpoint_id, path)
