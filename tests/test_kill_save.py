"""Kill ``qimcore.io.save`` (SIGKILL) at every step of replacing a volume: nothing is lost.

Each save runs in a child process that kills itself at an injected point (the
``QIMCORE_SAVE_KILL_AT`` hook, or a store that dies after writing one chunk); the parent then
loads the target and checks that it holds either the old or the new volume in full, and that no
leftover of the killed save remains on disk.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from qimcore.io import load, save

_CHILD = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    import dask.array as da
    from qimcore.io import save
    target, value, mid_write = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
    if mid_write:  # die after writing the first chunk of the new store
        def store(src, dst, **kwargs):
            dst[:2] = np.asarray(src[:2])
            os.kill(os.getpid(), signal.SIGKILL)
        da.store = store
    save(np.full((6, 20, 30), value, np.uint16), target, chunks=(2, 20, 30))
""")

#: (injected step, volume found afterwards): before the old store is set aside the old one
#: stays; from then on the new, complete one is in place or restored.
_STEPS = [("mid-write", 1), ("written", 1), ("aside", 2), ("renamed", 2), ("deleted", 2)]


def _killed_save(target, value, step):
    env = dict(os.environ, PYTHONPATH=os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if step != "mid-write":
        env["QIMCORE_SAVE_KILL_AT"] = step
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(target), str(value),
                           "1" if step == "mid-write" else "0"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize(("name", "step", "expected"), [
    (name, step, expected) for name in ("v.zarr", "v.ome.zarr", "v.npy")
    for step, expected in _STEPS if not (name == "v.npy" and step == "mid-write")])
def test_killed_save_loses_nothing(tmp_path, name, step, expected):
    target = tmp_path / name
    save(np.full((6, 20, 30), 1, np.uint16), target, chunks=(2, 20, 30))
    _killed_save(target, 2, step)
    out = load(target).compute()  # load restores a store that a kill left aside
    np.testing.assert_array_equal(out, np.full((6, 20, 30), expected, np.uint16))
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # leftovers removed


@pytest.mark.slow
def test_repeated_kills_then_save(tmp_path):
    target = tmp_path / "v.zarr"
    save(np.full((6, 20, 30), 1, np.uint16), target, chunks=(2, 20, 30))
    _killed_save(target, 2, "aside")  # target missing now, new copy in the temp folder
    assert not target.exists()
    _killed_save(target, 3, "mid-write")  # the next save restores 2 first, then dies
    _killed_save(target, 4, "written")
    np.testing.assert_array_equal(load(target).compute(), 2)
    save(np.full((6, 20, 30), 5, np.uint16), target)
    np.testing.assert_array_equal(load(target).compute(), 5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.zarr"]
