"""A new user's first nerves run against a warm run (issue #18: goal within 1.3x).

Runs ``notebooks/nerves.ipynb`` (nbconvert, a fresh kernel each time) three times, as three
users would on a hub, each with its own empty home folder (so its own numba cache):

- ``cold``: no shared cache, every numba kernel compiles on first use (before the fix);
- ``first``: a new user after ``python -m qimcore._warmup`` built the shared cache (read-only
  to users, seeded into the user's cache by :mod:`qimcore._numba_cache`);
- ``warm``: the same user's second run.

The shared cache is built once in ``setup`` (in a temporary folder; its time is reported).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from qimcore._numba_cache import LOCATORS

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "nerves.ipynb"


def _run_notebook(home: Path, shared: Path) -> float:
    env = dict(os.environ, HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"),
               NUMBA_CACHE_LOCATOR_CLASSES=LOCATORS, QIMCORE_NUMBA_CACHE=str(shared),
               PYTHONPATH=str(REPO), MPLBACKEND="Agg")
    env.pop("NUMBA_CACHE_DIR", None)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook",
                    "--execute", "--ExecutePreprocessor.timeout=600", "--output-dir",
                    str(home), "--output", "nerves_run.ipynb", str(NOTEBOOK)],
                   env=env, cwd=REPO / "notebooks", check=True, capture_output=True)
    return time.perf_counter() - start


class FirstRun:
    unit = "seconds"
    repeat = 1

    def setup(self):
        self._tmp = tempfile.TemporaryDirectory()
        tmp = Path(self._tmp.name)
        empty, shared = tmp / "no-shared-cache", tmp / "shared"
        empty.mkdir()
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "qimcore._warmup", "--cache-dir", str(shared),
                        "--no-kernel-env"], check=True, capture_output=True,
                       env=dict(os.environ, PYTHONPATH=str(REPO)))
        self.warmup = time.perf_counter() - start
        for name in ("cold_user", "new_user"):
            (tmp / name).mkdir()
        self.cold = _run_notebook(tmp / "cold_user", empty)
        self.first = _run_notebook(tmp / "new_user", shared)
        self.warm = _run_notebook(tmp / "new_user", shared)

    def track_install_warmup_s(self):
        return self.warmup

    def track_nerves_notebook_cold_no_shared_cache_s(self):
        return self.cold

    def track_nerves_notebook_new_user_first_run_s(self):
        return self.first

    def track_nerves_notebook_warm_run_s(self):
        return self.warm

    def track_first_over_warm_ratio(self):
        return self.first / self.warm

    def track_cold_over_warm_ratio(self):
        return self.cold / self.warm
