"""Fill a hub user's folder: copies of the notebooks and links to the shared data.

Run by the hub before each server start, in the hub's process or (hub as root) as the user's
own account: ``python qimcore_seed.py '<json>'``, so that links a user planted in their folder
cannot make the hub write anywhere else. Standard library only.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path


def seed_home(home: str, sources: dict[str, str], links: dict[str, str]) -> None:
    """Copy every ``*.ipynb`` of each source folder into ``home/<name>/`` unless a file of that
    name is already there (a user's edits stay theirs), and make ``home/<link>`` symbolic links
    to the shared folders.

    Parameters
    ----------
    home : str
        The user's folder (it exists).
    sources : dict of str to str
        Sub-folder name in ``home`` -> folder of the repository whose notebooks are copied.
    links : dict of str to str
        Link name in ``home`` -> shared folder it points to.
    """
    root = Path(home)
    for name, folder in sources.items():
        src = Path(folder)
        for path in sorted(src.rglob("*.ipynb")) if src.is_dir() else ():
            target = root / name / path.relative_to(src)
            if ".ipynb_checkpoints" not in path.parts and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
    for name, target in links.items():
        link = root / name
        if not link.is_symlink() and not link.exists() and Path(target).is_dir():
            link.symlink_to(target, target_is_directory=True)


if __name__ == "__main__":
    seed_home(**json.loads(sys.argv[1]))
