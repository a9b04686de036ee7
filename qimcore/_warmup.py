"""Compile qimcore's numba kernels into a cache every user can read: no wait on first use.

Run once per install (``make install`` does)::

    python -m qimcore._warmup [--cache-dir DIR] [--no-kernel-env]

1. In a fresh process with ``NUMBA_CACHE_DIR=DIR`` (default
   :func:`qimcore._numba_cache.shared_cache_dir`, ``<environment>/share/qimcore/numba``), runs
   each numba pipeline of the package on tiny synthetic data (segmentation 2D and 3D, layered
   surfaces, fibre orientation, nerve tracking), so that every kernel is compiled for the dtypes
   the pipelines use, and makes the cache readable by all (files ``a+r``, folders ``a+rx``).
2. Writes ``NUMBA_CACHE_LOCATOR_CLASSES`` (:data:`qimcore._numba_cache.LOCATORS`) and
   ``QIMCORE_NUMBA_CACHE`` (the cache's absolute path) into the environment's ``python3``
   Jupyter kernel spec, so that every kernel (JupyterLab, a hub user's server, also one running
   a copy of the interpreter, papermill batches) seeds its user's numba cache from the shared
   one (see :mod:`qimcore._numba_cache`). Users never write to the shared cache.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

from ._numba_cache import LOCATORS, shared_cache_dir

__all__ = ["compile_all", "main"]


def compile_all() -> None:
    """Run every numba pipeline once on tiny synthetic data (compiles or loads each kernel)."""
    import numpy as np

    from .data.synthetic import nerve_phantom
    from .fibres import orientation
    from .nerves import nerve_table, track_nerves
    from .segment import DictionarySegmenter
    from .surfaces import detect_surfaces

    rng = np.random.default_rng(0)
    for shape, size in (((24, 24), 5), ((12, 16, 16), 3)):
        image = rng.random(shape).astype(np.float32)
        labels = np.zeros(shape, np.uint8)
        labels.flat[[5, 100]] = [1, 2]
        seg = DictionarySegmenter(patch_size=size, n_words=4).fit(image)
        seg.propagate(labels)
        seg.predict_proba(image)
    for cost in (rng.random((8, 10)), rng.random((8, 6, 7)), rng.random((8, 6, 7)).astype(
            np.float32)):
        detect_surfaces(cost, n_surfaces=2, delta=1)
        detect_surfaces(cost, n_surfaces=1, delta=1, region_cost=np.stack([cost, 1 - cost]))
    orientation(rng.random((12, 12, 12)).astype(np.float32), 1.0, 2.0)
    volume, _ = nerve_phantom((8, 64, 64))
    nerve_table(track_nerves(volume))


def _share(path: Path) -> None:
    """Make ``path`` readable (and folders enterable) by every user."""
    for root, dirs, files in os.walk(path):
        for name in dirs + ["."]:
            p = Path(root) / name
            p.chmod(p.stat().st_mode | stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
                    | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        for name in files:
            p = Path(root) / name
            p.chmod(p.stat().st_mode | stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)


def _kernel_env(cache: Path) -> Path | None:
    """Point the environment's ``python3`` kernel spec at the shared cache; return its path."""
    spec = Path(sys.prefix) / "share" / "jupyter" / "kernels" / "python3" / "kernel.json"
    if not spec.exists():
        return None
    data = json.loads(spec.read_text())
    want = {"NUMBA_CACHE_LOCATOR_CLASSES": LOCATORS, "QIMCORE_NUMBA_CACHE": str(cache)}
    env = data.setdefault("env", {})
    if any(env.get(k) != v for k, v in want.items()):
        env.update(want)
        spec.write_text(json.dumps(data, indent=1) + "\n")
    return spec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qimcore._warmup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="shared numba cache (default: <environment>/share/qimcore/numba)")
    parser.add_argument("--no-kernel-env", action="store_true",
                        help="leave the python3 kernel spec unchanged")
    parser.add_argument("--compile-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.compile_only:            # the child process, with NUMBA_CACHE_DIR set
        compile_all()
        return 0
    cache = (args.cache_dir or shared_cache_dir()).resolve()
    cache.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    env.pop("NUMBA_CACHE_LOCATOR_CLASSES", None)
    subprocess.run([sys.executable, "-m", "qimcore._warmup", "--compile-only"], env=env,
                   check=True)
    _share(cache)
    n = sum(1 for _ in cache.rglob("*.nbc"))
    print(f"qimcore: {n} compiled numba kernels in {cache} ({time.perf_counter() - start:.0f} s)")
    if not args.no_kernel_env:
        spec = _kernel_env(cache)
        print(f"qimcore: kernels use the shared cache ({spec})" if spec else
              "qimcore: no python3 kernel spec in this environment; where kernels start, set "
              f"NUMBA_CACHE_LOCATOR_CLASSES={LOCATORS} QIMCORE_NUMBA_CACHE={cache}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
