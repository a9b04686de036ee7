"""Run a notebook over a parameter grid, one process per run, resumably."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections import deque
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path
from typing import Any

import pandas as pd

from .. import _validate
from ._grid import OUTPUT_PARAMETER, notebook_parameters, plan_runs, read_grid
from ._lock import locked
from ._tables import atomic_write_table

SUMMARY = "summary.csv"
RUN_FILE = "run.json"
TABLES = "tables"
_STAGING = ".staging"
_FAILED = ".failed"
# a worker ended by SIGTERM (the sweep stopping, or its process group signalled) was interrupted
_INTERRUPTED = (-signal.SIGTERM, 128 + signal.SIGTERM)


def run_batch(notebook: str | PathLike, grid: str | PathLike, output: str | PathLike, *,
              workers: int = 1, kernel_name: str | None = None, table_format: str = "csv",
              progress: bool = True) -> pd.DataFrame:
    """Execute ``notebook`` once per parameter set of ``grid`` with papermill.

    Every run executes in its own process (papermill's parallel kernels in one process race
    on ports), ``workers`` at a time. Run ``k`` works in a private staging folder that is
    renamed to ``output/<run_id>/`` once it finished, so a finished run folder is always
    complete: the executed notebook, the tables (CSV/Parquet files) the notebook wrote into its
    ``output_dir`` parameter (set by the runner when the notebook declares it) and
    ``run.json`` (parameters, status, timing). A run that raises is kept in
    ``output/<run_id>.failed/`` with its error and does not stop the others; a worker stopped
    by SIGTERM (the sweep being stopped) counts as interrupted, not failed, and its run is
    started again. Running the same command again skips finished runs and retries failed or interrupted ones.

    One sweep at a time works in ``output``: it holds a lock (``output/.qimcore-batch.lock``,
    dropped by the operating system when the sweep ends in any way, also when killed), and a
    second sweep on the same folder is refused at once. Workers and their kernels end with the
    sweep, also when it is killed with SIGKILL (Linux: the parent-death signal; elsewhere each
    worker watches its parent). Each attempt of a run has its own staging folder.

    After every run ``output/summary.csv`` is rewritten atomically (temp file + rename): one
    row per run of the grid with ``run_id``, ``status`` (``done``, ``failed`` or
    ``pending``), ``error``, ``duration_s``, ``notebook`` and the parameters. At the end the
    tables of all finished runs are merged by file name into ``output/tables/<name>.csv``
    (or ``.parquet``) with ``run_id`` and the parameters as leading columns.

    Parameters
    ----------
    notebook : str or path
        Notebook with a code cell tagged ``parameters``.
    grid : str or path
        YAML or CSV file of parameter sets, see :func:`read_grid`.
    output : str or path
        Output folder (created).
    workers : int, optional
        Runs executed at the same time.
    kernel_name : str, optional
        Jupyter kernel; default the notebook's own.
    table_format : {"csv", "parquet"}, optional
        Format of the merged tables.
    progress : bool, optional
        Show a progress bar.

    Returns
    -------
    pandas.DataFrame
        The summary table; its ``attrs`` hold the counts of this sweep: ``done``, ``failed``,
        ``skipped`` (finished before) and ``path`` (of ``summary.csv``).

    Raises
    ------
    ValueError
        Before anything runs: missing notebook, unreadable grid, a grid key that is not a
        parameter of the notebook, or a finished run whose parameters differ from the grid's.
    BlockingIOError
        When another sweep is running on ``output``.

    Examples
    --------
    >>> run_batch("analysis.ipynb", "grid.yaml", "results", workers=2)  # doctest: +SKIP
    """
    workers = _validate.positive(workers, "workers", integer=True)
    table_format = _validate.choice(table_format, "table_format", ("csv", "parquet"))
    notebook = Path(notebook).resolve()
    parameters = notebook_parameters(notebook)
    runs = plan_runs(read_grid(grid), parameters)
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise ValueError(f"output must be a folder, got the file {str(output)!r}")
    for run_id, params in runs:  # a changed grid is refused before anything is written
        _finished(output / run_id, params)
    output.mkdir(parents=True, exist_ok=True)
    with locked(output):
        return _sweep(notebook, runs, output, OUTPUT_PARAMETER in parameters, workers,
                      kernel_name, table_format, progress)


def _sweep(notebook: Path, runs: list, output: Path, has_output: bool, workers: int,
           kernel_name: str | None, table_format: str, progress: bool) -> pd.DataFrame:
    """Execute the unfinished ``runs`` while this process holds the lock on ``output``."""
    records = {run_id: _finished(output / run_id, params) for run_id, params in runs}
    staging_root = output / _STAGING
    shutil.rmtree(staging_root, ignore_errors=True)  # leftovers of a killed sweep
    todo = deque((run_id, params) for run_id, params in runs if records[run_id] is None)
    skipped = len(runs) - len(todo)
    for run_id, _ in runs:
        if records[run_id] is None and (output / f"{run_id}{_FAILED}").is_dir():
            records[run_id] = _read_record(output / f"{run_id}{_FAILED}")

    from tqdm.auto import tqdm

    bar = tqdm(total=len(runs), initial=skipped, desc="runs", unit="run", disable=not progress)
    running: dict[str, tuple[subprocess.Popen, Path, dict[str, Any], float]] = {}
    try:
        while todo or running:
            while todo and len(running) < workers:
                run_id, params = todo.popleft()
                staging = staging_root / f"{run_id}.{os.getpid()}-{secrets.token_hex(4)}"
                running[run_id] = _start(notebook, staging, params, has_output,
                                         kernel_name) + (params, time.time())
            for run_id in [r for r, (proc, *_) in running.items() if proc.poll() is not None]:
                proc, staging, params, started = running.pop(run_id)
                if proc.returncode in _INTERRUPTED:  # stopped, e.g. with the sweep: not a failure
                    shutil.rmtree(staging, ignore_errors=True)
                    todo.appendleft((run_id, params))
                    continue
                records[run_id] = _finish(output, run_id, staging, params, started,
                                          proc.returncode, notebook.name)
                _write_summary(output, runs, records)
                bar.update()
            time.sleep(0.05)
    finally:
        bar.close()
        _stop([proc for proc, *_ in running.values()])
        shutil.rmtree(staging_root, ignore_errors=True)
    _write_summary(output, runs, records)
    _merge_tables(output, runs, records, table_format)
    summary = pd.read_csv(output / SUMMARY)
    statuses = summary["status"].tolist()
    summary.attrs.update(done=statuses.count("done") - skipped, failed=statuses.count("failed"),
                         skipped=skipped, path=str(output / SUMMARY))
    return summary


def _start(notebook: Path, staging: Path, params: dict[str, Any], has_output: bool,
           kernel_name: str | None) -> tuple[subprocess.Popen, Path]:
    staging.mkdir(parents=True)
    params = dict(params)
    if has_output:
        params[OUTPUT_PARAMETER] = str(staging.resolve())
    spec = {"notebook": str(notebook), "output_notebook": str(staging / notebook.name),
            "parameters": params, "kernel_name": kernel_name,
            "error_file": str(staging / "error.txt"), "parent": os.getpid()}
    (staging / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    with (staging / "log.txt").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "qimcore.batch._worker",
                                 str(staging / "spec.json")],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return proc, staging


def _finish(output: Path, run_id: str, staging: Path, params: dict[str, Any], started: float,
            returncode: int, notebook_name: str) -> dict[str, Any]:
    error_file = staging / "error.txt"
    ok = returncode == 0
    error = "" if ok else (error_file.read_text(encoding="utf-8") if error_file.exists()
                           else f"worker exited with status {returncode}")
    for name in ("spec.json", "error.txt"):
        (staging / name).unlink(missing_ok=True)
    record = {"run_id": run_id, "status": "done" if ok else "failed", "error": error,
              "started": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
              "duration_s": round(time.time() - started, 3), "notebook": notebook_name,
              "parameters": params}
    (staging / RUN_FILE).write_text(json.dumps(record, indent=1), encoding="utf-8")
    final = output / (run_id if ok else f"{run_id}{_FAILED}")
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)  # atomic: a run folder is complete or absent
    if ok:
        shutil.rmtree(output / f"{run_id}{_FAILED}", ignore_errors=True)
    return record


def _read_record(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _finished(folder: Path, params: dict[str, Any]) -> dict[str, Any] | None:
    record = _read_record(folder)
    if record is None or record.get("status") != "done":
        return None
    if record.get("parameters") != params:
        raise ValueError(f"grid: run {folder.name!r} in {str(folder.parent)!r} finished with "
                         f"parameters {record.get('parameters')}, the grid now gives {params}; "
                         "use another output folder or give runs a run_id")
    return record


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()  # the worker stops its kernel on SIGTERM
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _write_summary(output: Path, runs: list, records: dict[str, Any]) -> None:
    rows = []
    for run_id, params in runs:
        record = records.get(run_id) or {}
        rows.append({"run_id": run_id, "status": record.get("status", "pending"),
                     "error": record.get("error", ""), "duration_s": record.get("duration_s"),
                     "notebook": (f"{run_id}/{record['notebook']}"
                                  if record.get("status") == "done" else ""), **params})
    atomic_write_table(pd.DataFrame(rows, dtype=object), output / SUMMARY)  # 3 stays 3, not 3.0


def _merge_tables(output: Path, runs: list, records: dict[str, Any], table_format: str) -> None:
    merged: dict[str, list[pd.DataFrame]] = {}
    for run_id, params in runs:
        if (records.get(run_id) or {}).get("status") != "done":
            continue
        files = {f.stem: f for f in sorted((output / run_id).glob("*.csv"))}
        files.update({f.stem: f for f in sorted((output / run_id).glob("*.parquet"))})
        for stem, path in sorted(files.items()):  # a table saved in both formats counts once
            table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
            for i, (name, value) in enumerate({"run_id": run_id, **params}.items()):
                if name not in table.columns:
                    table.insert(i, name, pd.Series([value] * len(table), dtype=object))
            merged.setdefault(stem, []).append(table)
    if merged:
        (output / TABLES).mkdir(exist_ok=True)
    for name, tables in merged.items():
        atomic_write_table(pd.concat(tables, ignore_index=True),
                      output / TABLES / f"{name}.{table_format}")
