"""The shared numba cache: compiled once, read by every user without writing to it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qimcore._numba_cache import LOCATORS

REPO = Path(__file__).resolve().parents[1]
KERNEL = '''
from numba import njit


@njit(cache=True)
def twice(x):
    return 2 * x
'''
CALL = ("import json, kernel; kernel.twice(3.0); s = kernel.twice.stats; "
        "print(json.dumps([s.cache_hits and sum(s.cache_hits.values()), "
        "s.cache_misses and sum(s.cache_misses.values()), str(s.cache_path)]))")


def _files(path: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(path)): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in path.rglob("*") if p.is_file()}


def _run(src: Path, env: dict) -> tuple[int, int, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(src), str(REPO)]), **env)
    for name in ("NUMBA_CACHE_DIR", "NUMBA_CACHE_LOCATOR_CLASSES", "QIMCORE_NUMBA_CACHE"):
        if name not in env or not env[name]:
            env.pop(name, None)
    out = subprocess.run([sys.executable, "-c", CALL], env=env, capture_output=True,
                         text=True, check=True)
    hits, misses, path = json.loads(out.stdout)
    return hits or 0, misses or 0, path


@pytest.mark.slow
def test_users_load_the_shared_cache_and_never_write_it(tmp_path):
    src, shared = tmp_path / "src", tmp_path / "shared"
    src.mkdir()
    (src / "kernel.py").write_text(KERNEL)
    # the install: compiles into the shared cache
    assert _run(src, {"NUMBA_CACHE_DIR": str(shared)})[:2] == (0, 1)
    before = _files(shared)
    assert any(name.endswith(".nbc") for name in before)

    def user(name):
        home = tmp_path / name
        return _run(src, {"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"),
                          "NUMBA_CACHE_LOCATOR_CLASSES": LOCATORS,
                          "QIMCORE_NUMBA_CACHE": str(shared), "NUMBA_CACHE_DIR": ""})

    hits, misses, path = user("alice")                # a new user: loaded, not compiled
    assert (hits, misses) == (1, 0) and path.startswith(str(tmp_path / "alice"))
    assert user("alice")[:2] == (1, 0) and user("bob")[:2] == (1, 0)
    assert _files(shared) == before                  # the shared cache is only read
    (src / "kernel.py").write_text(KERNEL.replace("2 * x", "3 * x"))   # a changed source:
    assert user("alice")[:2] == (0, 1)               # recompiled in the user's own cache
    assert _files(shared) == before
