"""Kill the batch runner (SIGKILL) at the worst moments; run two sweeps on one folder.

Workers and their kernels must die with the runner, a rerun must start at once (the lock of
the dead sweep is taken over), finish every run exactly once and report one summary line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pandas as pd
import psutil
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture
def sweep(tmp_path: Path):
    """A notebook whose runs wait while ``hold`` exists, and a grid of 2 runs."""
    setup = _setup(tmp_path)
    yield setup
    setup[2].unlink(missing_ok=True)  # a failed test leaves no run waiting for ever


def _setup(tmp_path: Path, n_runs: int = 2) -> tuple[Path, Path, Path]:
    hold = tmp_path / "hold"
    hold.touch()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("x = 0\noutput_dir = '.'",
                                          metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(
                    "import os, time\n"
                    f"while os.path.exists({str(hold)!r}):\n    time.sleep(0.1)\n"
                    "with open(os.path.join(output_dir, 'result.csv'), 'w') as f:\n"
                    "    f.write(f'y\\n{2 * x}\\n')")]
    notebook = tmp_path / "wait.ipynb"
    nbformat.write(nb, notebook)
    grid = tmp_path / "grid.csv"
    grid.write_text("x\n" + "".join(f"{i}\n" for i in range(n_runs)))
    return notebook, grid, hold


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", ""))


def _cli(notebook: Path, grid: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "qimcore.batch", str(notebook), str(grid), "-o", str(out),
            "--no-progress", *extra]


def _wait_for(condition, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited in vain for {what}"
        time.sleep(0.1)


def _kernels(proc: psutil.Process) -> list[psutil.Process]:
    return [p for p in proc.children(recursive=True) if "ipykernel" in " ".join(p.cmdline())]


def _gone(procs: list[psutil.Process]) -> bool:
    for p in procs:
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            continue
    return True


def _check_finished(out: Path, n_runs: int) -> None:
    summary = pd.read_csv(out / "summary.csv")
    assert summary["status"].tolist() == ["done"] * n_runs
    merged = pd.read_csv(out / "tables" / "result.csv")
    assert merged["y"].tolist() == [2 * i for i in range(n_runs)]  # every run exactly once
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"run-{i:04d}" for i in range(n_runs)] + ["summary.csv", "tables"])


def test_sigkill_of_sweep_kills_workers_and_kernels(tmp_path, sweep):
    notebook, grid, hold = sweep
    out = tmp_path / "out"
    runner = subprocess.Popen(_cli(notebook, grid, out, "--workers", "2"), env=_env(),
                              start_new_session=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    parent = psutil.Process(runner.pid)
    _wait_for(lambda: len(_kernels(parent)) == 2, "two running kernels")
    family = parent.children(recursive=True)
    assert len(family) >= 4  # 2 workers, 2 kernels
    os.kill(runner.pid, signal.SIGKILL)  # the runner only, not its process group
    runner.wait()
    _wait_for(lambda: _gone(family), "workers and kernels to end with the runner", 60)

    hold.unlink()  # the rerun starts at once: the dead sweep's lock is taken over
    rerun = subprocess.run(_cli(notebook, grid, out), env=_env(), capture_output=True,
                           text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.strip().splitlines()[-1] == (
        f"2 done, 0 failed, 0 skipped; summary at {out / 'summary.csv'}")
    _check_finished(out, 2)


def test_second_sweep_on_same_folder_refused_at_once(tmp_path, sweep):
    notebook, grid, hold = sweep
    out = tmp_path / "out"
    first = subprocess.Popen(_cli(notebook, grid, out), env=_env(), start_new_session=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: len(_kernels(psutil.Process(first.pid))) == 1, "the first sweep's kernel")
    second = subprocess.run(_cli(notebook, grid, out), env=_env(), capture_output=True,
                            text=True, timeout=60)
    assert second.returncode == 2
    assert f"output folder {str(out)!r} is in use by another batch run (pid {first.pid}" \
        in second.stderr
    hold.unlink()
    stdout, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    assert stdout.strip().splitlines()[-1].startswith("2 done, 0 failed, 0 skipped; summary at")
    _check_finished(out, 2)
    again = subprocess.run(_cli(notebook, grid, out), env=_env(), capture_output=True,
                           text=True, timeout=60)
    assert again.stdout.strip().splitlines()[-1].startswith("0 done, 0 failed, 2 skipped;")


_KILLED_RUNNER = textwrap.dedent("""
    import os, signal, sys
    from qimcore.batch import _runner
    notebook, grid, out, where = sys.argv[1:]
    original = _runner._finish
    def finish(*args, **kwargs):
        if where == "after-publish":
            original(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)
    _runner._finish = finish
    _runner.run_batch(notebook, grid, out, progress=False)
""")


@pytest.mark.parametrize("where", ["before-publish", "after-publish"])
def test_runner_killed_while_publishing_a_run(tmp_path, sweep, where):
    """SIGKILL when a run's worker ended but before (or just after) its folder is published."""
    notebook, grid, hold = sweep
    hold.unlink()
    out = tmp_path / "out"
    killed = subprocess.run([sys.executable, "-c", _KILLED_RUNNER, str(notebook), str(grid),
                             str(out), where], env=_env(), capture_output=True, text=True,
                            timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    published = sorted(p.name for p in out.glob("run-*"))
    assert published == (["run-0000"] if where == "after-publish" else [])
    if published:
        json.loads((out / "run-0000" / "run.json").read_text())  # complete
    before = (out / "run-0000" / "run.json").read_bytes() if published else None
    rerun = subprocess.run(_cli(notebook, grid, out), env=_env(), capture_output=True,
                           text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    skipped = len(published)
    assert rerun.stdout.strip().splitlines()[-1].startswith(
        f"{2 - skipped} done, 0 failed, {skipped} skipped;")
    _check_finished(out, 2)
    if before is not None:
        assert (out / "run-0000" / "run.json").read_bytes() == before  # not run twice
