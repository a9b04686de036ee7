"""Run the asv-style benchmark modules and write a results table.

Each ``benchmarks/bench_*.py`` module holds classes with an optional ``setup(self)``, methods
``time_*(self)`` (wall time, best of ``repeat`` runs, seconds), ``peakmem_*(self)`` (peak resident
memory of a fresh process running the method, bytes) and ``track_*(self)`` (returns a number: an
accuracy, a count, an energy; the class may set ``unit = "..."`` for it). ``params``/``param_names``
are not supported: write one method per case so the table reads plainly.

Usage::

    python benchmarks/run.py [NAME_FILTER ...] [--repeat N] [--quick]

writes ``benchmarks/results/<module>.json`` and ``benchmarks/results/README.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def _vm_hwm() -> int | None:
    """Peak resident set size (bytes) of this process since the last reset, or None."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset the kernel's resident-set high-water mark to the current size (Linux)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peakmem_child(path: str, cls_name: str, meth: str, queue) -> None:
    """Peak memory of ``meth`` alone: the high-water mark is reset after imports and setup.

    ``ru_maxrss`` never decreases and a spawned child may start from a large size, so on
    Linux the peak is read from ``VmHWM`` after ``echo 5 > /proc/self/clear_refs``; where
    that is unavailable it falls back to ``ru_maxrss``. Reports ``(peak, base)`` in bytes,
    ``base`` being the resident size when the method starts.
    """
    module = _load(Path(path))
    obj = getattr(module, cls_name)()
    if hasattr(obj, "setup"):
        obj.setup()
    if _reset_peak() and _vm_hwm() is not None:
        base = _vm_hwm()
        getattr(obj, meth)()
        queue.put((_vm_hwm(), base))
        return
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    getattr(obj, meth)()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((peak * 1024, base * 1024))


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("numpy", "scipy", "dask", "zarr", "sklearn", "skimage", "maxflow", "qimcore"):
        try:
            mod = importlib.import_module(name)
            out[name] = str(getattr(mod, "__version__", "?"))
        except ImportError:
            pass
    return out


def run_module(path: Path, repeat: int) -> list[dict]:
    module = _load(path)
    rows = []
    for cls_name, cls in vars(module).items():
        if not isinstance(cls, type) or cls.__module__ != module.__name__:
            continue
        methods = [m for m in dir(cls) if m.startswith(("time_", "peakmem_", "track_"))]
        if not methods:
            continue
        obj = cls()
        if hasattr(obj, "setup"):
            obj.setup()
        for meth in methods:
            row = {"benchmark": f"{path.stem}.{cls_name}.{meth}"}
            try:
                if meth.startswith("time_"):
                    times = []
                    for _ in range(getattr(cls, "repeat", repeat)):
                        t0 = time.perf_counter()
                        getattr(obj, meth)()
                        times.append(time.perf_counter() - t0)
                    row.update(value=min(times), unit="s", runs=len(times))
                elif meth.startswith("peakmem_"):
                    ctx = mp.get_context("spawn")
                    q = ctx.Queue()
                    p = ctx.Process(target=_peakmem_child, args=(str(path), cls_name, meth, q))
                    p.start()
                    peak, base = q.get()
                    p.join()
                    row.update(value=peak / 2**20, unit="MiB", baseline_MiB=base / 2**20)
                else:
                    row.update(value=float(getattr(obj, meth)()),
                               unit=getattr(cls, "unit", ""))
            except Exception as exc:  # report and carry on with the other benchmarks
                row.update(value=None, unit="", error=f"{type(exc).__name__}: {exc}")
            print(f"{row['benchmark']:70s} {row['value']!s:>14} {row['unit']}"
                  + (f"  ERROR {row['error']}" if "error" in row else ""), flush=True)
            rows.append(row)
    return rows


def write_table(all_rows: dict[str, list[dict]], meta: dict) -> None:
    lines = ["# Benchmark results", "",
             f"Run {meta['date']} on {meta['machine']} ({meta['cpus']} CPUs).", "",
             "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()), "",
             "| benchmark | value | unit |", "|---|---:|---|"]
    for name in sorted(all_rows):
        for row in all_rows[name]:
            val = row["value"]
            shown = "error: " + row["error"] if val is None else f"{val:.4g}"
            lines.append(f"| {row['benchmark']} | {shown} | {row['unit']} |")
    (RESULTS / "README.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("filters", nargs="*", help="only modules whose name contains one of these")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    RESULTS.mkdir(exist_ok=True)
    meta = {"date": dt.datetime.now().isoformat(timespec="seconds"),
            "machine": f"{platform.system()} {platform.machine()} {platform.processor()}".strip(),
            "cpus": os.cpu_count(), "versions": _versions()}
    all_rows = {}
    for path in sorted(HERE.glob("bench_*.py")):
        if args.filters and not any(f in path.stem for f in args.filters):
            continue
        print(f"== {path.stem}", flush=True)
        rows = run_module(path, args.repeat)
        all_rows[path.stem] = rows
        tmp = RESULTS / f".{path.stem}.json.tmp"
        tmp.write_text(json.dumps({"meta": meta, "results": rows}, indent=1))
        tmp.replace(RESULTS / f"{path.stem}.json")
    for old in RESULTS.glob("bench_*.json"):
        if old.stem not in all_rows:
            all_rows[old.stem] = json.loads(old.read_text())["results"]
    write_table(all_rows, meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
