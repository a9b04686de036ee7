"""qimcore.batch: grids, notebook parameters, resumable papermill sweeps, slab statistics."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dask.array as da
import nbformat
import numpy as np
import pandas as pd
import psutil
import pytest

from qimcore.batch import (
    main,
    notebook_parameters,
    porosity_by_slab,
    read_grid,
    run_batch,
    slab_statistics,
)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "sample_statistics.ipynb"
DATA = Path(__file__).resolve().parent / "data"


def _notebook(path: Path, parameters: str, body: str) -> Path:
    """A tiny notebook: a parameters cell and one code cell (fast: no imports)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, path)
    return path


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _done(output: Path) -> set[str]:
    return {p.parent.name for p in output.glob("run-*/run.json")
            if json.loads(p.read_text())["status"] == "done"}


# --- grids and parameters -------------------------------------------------------------------

def test_read_grid_yaml_and_csv(tmp_path):
    assert read_grid(DATA / "batch_grid.yaml")[0] == {"sample_name": "bone", "slab": 32}
    assert read_grid(DATA / "batch_grid.csv") == [
        {"run_id": "bone-16", "sample_name": "bone", "slab": 16},
        {"run_id": "shell-default", "sample_name": "shell"}]  # empty cell: notebook default
    path = tmp_path / "g.yml"
    path.write_text("grid:\n  a: [1, 2]\n  b: [x, 0.5]\nruns:\n  - {a: 3}\n")
    assert read_grid(path) == [{"a": 3}, {"a": 1, "b": "x"}, {"a": 1, "b": 0.5},
                               {"a": 2, "b": "x"}, {"a": 2, "b": 0.5}]


@pytest.mark.parametrize("name, text, match", [
    ("missing.yaml", None, "not found"),
    ("g.txt", "a,b\n", "yaml, .yml or .csv"),
    ("g.yaml", "runs: [1, 2", "could not be read"),
    ("g.yaml", "- {a: 1}\n", "runs:"),
    ("g.yaml", "runs:\n  - 3\n", "list of mappings"),
    ("g.yaml", "grid: {a: 1}\n", "list of values"),
    ("g.csv", "a,b\n", "no runs"),
])
def test_read_grid_rejects_bad_files(tmp_path, name, text, match):
    if text is not None:
        (tmp_path / name).write_text(text)
    with pytest.raises(ValueError, match=match):
        read_grid(tmp_path / name)


def test_notebook_parameters_of_case_study():
    params = notebook_parameters(NOTEBOOK)
    assert params == {"sample_name": "bone", "slab": 16, "chunks": 64,
                      "output_dir": "results/sample_statistics"}


def test_notebook_parameters_errors(tmp_path):
    with pytest.raises(ValueError, match="notebook"):
        notebook_parameters(tmp_path / "missing.ipynb")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("a = 1")]
    nbformat.write(nb, tmp_path / "untagged.ipynb")
    with pytest.raises(ValueError, match="parameters"):
        notebook_parameters(tmp_path / "untagged.ipynb")
    _notebook(tmp_path / "tuple.ipynb", "a, b = 1, 'x'\nc: int = 3\nd = e = f(2)\nprint(a)", "")
    assert notebook_parameters(tmp_path / "tuple.ipynb") == {"a": 1, "b": "x", "c": 3,
                                                             "d": None, "e": None}
    _notebook(tmp_path / "broken.ipynb", "a = (", "pass")
    with pytest.raises(ValueError, match="not valid Python"):
        notebook_parameters(tmp_path / "broken.ipynb")


@pytest.mark.parametrize("grid, match", [
    ("runs:\n  - {sample_nam: bone}\n", r"unknown parameter\(s\) \['sample_nam'\]"),
    ("runs:\n  - {output_dir: x}\n", "output_dir"),
    ("runs:\n  - {run_id: a}\n  - {run_id: a}\n", "twice"),
    ("runs:\n  - {run_id: ../x}\n", "run_id"),
    ("runs:\n  - {sample_name: 2024-01-01}\n", "plain number"),
])
def test_bad_grid_fails_before_anything_runs(tmp_path, grid, match):
    (tmp_path / "g.yaml").write_text(grid)
    with pytest.raises(ValueError, match=match):
        run_batch(NOTEBOOK, tmp_path / "g.yaml", tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_cli_reports_bad_input(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path / "missing.ipynb"), str(DATA / "batch_grid.yaml"), "-o",
              str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert "notebook must be an existing .ipynb" in capsys.readouterr().err
    with pytest.raises(ValueError, match="workers"):
        run_batch(NOTEBOOK, DATA / "batch_grid.yaml", tmp_path / "out", workers=0)


# --- running --------------------------------------------------------------------------------

@pytest.mark.slow
def test_failed_run_is_recorded_and_others_finish(tmp_path):
    notebook = _notebook(tmp_path / "tiny.ipynb", "x = 1\noutput_dir = '.'",
                         "import os\nif x == 2:\n    raise ValueError(f'bad x {x}')\n"
                         "for name in ('result.csv', 'other.csv'):\n"
                         "    with open(os.path.join(output_dir, name), 'w') as f:\n"
                         "        f.write(f'y\\n{10 * x}\\n')")
    (tmp_path / "g.csv").write_text("x\n1\n2\n")
    out = tmp_path / "out"
    summary = run_batch(notebook, tmp_path / "g.csv", out, workers=2, progress=False)
    assert summary["status"].tolist() == ["done", "failed"]
    assert summary["error"][1] == "ValueError: bad x 2"
    assert (out / "run-0001.failed" / "tiny.ipynb").is_file()
    assert (out / "run-0000" / "tiny.ipynb").is_file()
    merged = pd.read_csv(out / "tables" / "result.csv")
    assert merged.to_dict("list") == {"run_id": ["run-0000"], "x": [1], "y": [10]}
    assert (out / "tables" / "other.csv").is_file()
    assert sorted(p.name for p in out.iterdir()) == [
        "run-0000", "run-0001.failed", "summary.csv", "tables"]

    # A rerun retries only the failed run (here with a kernel that does not exist, so that it
    # fails fast); a changed grid is refused before anything runs.
    before = _snapshot(out / "run-0000")
    assert main([str(notebook), str(tmp_path / "g.csv"), "-o", str(out), "--no-progress",
                 "--format", "parquet", "--kernel", "no-such-kernel"]) == 1
    assert _snapshot(out / "run-0000") == before
    retried = json.loads((out / "run-0001.failed" / "run.json").read_text())
    assert "no-such-kernel" in retried["error"]
    assert pd.read_parquet(out / "tables" / "result.parquet")["y"].tolist() == [10]
    (tmp_path / "g.csv").write_text("x\n5\n")
    with pytest.raises(ValueError, match="run-0000"):
        run_batch(notebook, tmp_path / "g.csv", out, progress=False)


@pytest.mark.slow
def test_sweep_killed_then_resumed(tmp_path):
    """4 runs of the real case-study notebook; SIGTERM after 2 finished; the rerun does the rest."""
    out = tmp_path / "out"
    grid = DATA / "batch_grid.yaml"
    cmd = [sys.executable, "-m", "qimcore.batch", str(NOTEBOOK), str(grid), "--output",
           str(out), "--workers", "2", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 150
    while len(_done(out)) < 2:
        assert proc.poll() is None, "the batch ended before it was killed"
        assert time.monotonic() < deadline, "no 2 finished runs in time"
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    finished = _done(out)
    assert len(finished) in (2, 3)  # a third may finish between the poll and the signal
    before = {run: _snapshot(out / run) for run in finished}
    assert set(before["run-0000"]) == {"log.txt", "run.json", "sample_statistics.ipynb",
                                      "slab_statistics.csv"}
    # the interrupted runs left no run folder, and no kernel is left running
    assert {p.name for p in out.glob("run-*")} == finished
    time.sleep(0.5)
    assert not [p for p in psutil.process_iter(["cwd"]) if p.info["cwd"] == str(tmp_path)]

    summary = run_batch(NOTEBOOK, grid, out, workers=2, progress=False)
    assert summary["status"].tolist() == ["done"] * 4
    assert {run: _snapshot(out / run) for run in finished} == before
    started = {run: json.loads((out / run / "run.json").read_text())["started"]
               for run in summary["run_id"]}
    assert min(started[r] for r in started if r not in finished) >= max(
        started[r] for r in finished)
    table = pd.read_csv(out / "run-0002" / "slab_statistics.csv")
    assert table["z_start"].tolist() == [0, 50, 100] and (table["sample"] == "fibres").all()
    merged = pd.read_csv(out / "tables" / "slab_statistics.csv")
    assert merged.groupby("run_id").size().to_dict() == {
        "run-0000": 4, "run-0001": 4, "run-0002": 3, "run-0003": 2}
    assert merged.columns[:3].tolist() == ["run_id", "sample_name", "slab"]


# --- slab statistics ------------------------------------------------------------------------

@pytest.fixture
def grey(rng):
    return rng.integers(0, 256, size=(23, 20, 17)).astype(np.uint8)


@pytest.mark.parametrize("slab", [None, 4, 23])
def test_porosity_by_slab_dask_equals_numpy(grey, slab):
    lazy = da.from_array(grey, chunks=(7, 9, 5))
    chunked = porosity_by_slab(lazy, threshold=100, slab=slab)
    memory = porosity_by_slab(grey, threshold=100, slab=slab or 7)
    pd.testing.assert_frame_equal(chunked, memory)
    z0, z1 = (int(v) for v in chunked.iloc[-1][["z_start", "z_stop"]])
    assert chunked.iloc[-1]["pore_voxels"] == np.count_nonzero(grey[z0:z1] < 100)
    assert chunked["voxels"].sum() == grey.size
    assert chunked.loc[0, "mean"] == grey[:chunked.loc[0, "z_stop"]].mean()  # integer sums


def test_porosity_by_slab_probabilities(rng):
    logits = rng.random((3, 11, 8, 9)).astype(np.float32)
    probabilities = logits / logits.sum(axis=0)
    lazy = da.from_array(probabilities, chunks=(1, 7, 9, 5))  # class axis is joined
    chunked = porosity_by_slab(lazy, pore_class=2, slab=5)
    memory = porosity_by_slab(probabilities, pore_class=2, slab=5)
    pd.testing.assert_frame_equal(chunked, memory, rtol=1e-12)
    pore = probabilities.argmax(axis=0) == 1
    assert chunked["pore_voxels"].tolist() == [pore[a:a + 5].sum() for a in (0, 5, 10)]
    np.testing.assert_allclose(chunked["mean"], [probabilities[1, a:a + 5].mean()
                                                 for a in (0, 5, 10)], rtol=1e-6)


def test_slab_statistics_custom_sums(grey):
    def func(block):
        return {"n": block.size, "sq": float((block.astype(np.float64) ** 2).sum()),
                "max_ok": int(block.max() <= 255)}

    table = slab_statistics(da.from_array(grey, chunks=(7, 9, 5)), func)
    assert table["z_stop"].tolist() == [7, 14, 21, 23]
    np.testing.assert_allclose(table["sq"].sum(), (grey.astype(np.float64) ** 2).sum())
    assert table["max_ok"].tolist() == [12, 12, 12, 12]  # 3 x 4 blocks per slab


def test_slab_statistics_errors(grey):
    with pytest.raises(TypeError, match="func"):
        slab_statistics(grey, "mean")
    with pytest.raises(TypeError, match="func"):
        slab_statistics(grey, lambda b: b.sum())
    with pytest.raises(TypeError, match="func"):
        slab_statistics(grey, lambda b: {"a": "x"})
    with pytest.raises(ValueError, match="slab"):
        slab_statistics(grey, lambda b: {"n": 1}, slab=0)
    with pytest.raises(ValueError, match="volume"):
        slab_statistics(grey[0], lambda b: {"n": 1})
    with pytest.raises(ValueError, match="threshold"):
        porosity_by_slab(grey)
    with pytest.raises(TypeError, match="threshold"):
        porosity_by_slab(grey, threshold="otsu")
    with pytest.raises(ValueError, match="pore_class"):
        porosity_by_slab(np.ones((2, 3, 3, 3), np.float32) / 2, pore_class=3)


def test_porosity_of_predict_proba_chunked_equals_in_memory(rng):
    """The out-of-core pipeline on a tiny volume: segment, then porosity per slab."""
    from qimcore.segment import DictionarySegmenter

    z, y, x = np.mgrid[:18, :16, :15]
    pores = (np.sin(z / 2.0) + np.sin(y / 3.0) + np.sin(x / 2.5)) > 0.6
    volume = np.where(pores, 60, 180) + rng.integers(-30, 30, size=pores.shape)
    labels = np.where(pores, 1, 2) * (rng.random(pores.shape) < 0.05)
    segmenter = DictionarySegmenter(patch_size=3, n_words=20, random_state=0).fit(volume)
    segmenter.propagate(labels)
    lazy = segmenter.predict_proba(da.from_array(volume, chunks=(7, 9, 5)))
    assert isinstance(lazy, da.Array)
    chunked = porosity_by_slab(lazy, pore_class=1, slab=6)
    memory = porosity_by_slab(segmenter.predict_proba(volume), pore_class=1, slab=6)
    pd.testing.assert_frame_equal(chunked, memory, rtol=1e-6)
    truth = [pores[a:a + 6].mean() for a in (0, 6, 12)]
    np.testing.assert_allclose(chunked["porosity"], truth, atol=0.05)


def test_all_finished_runs_are_skipped_and_tables_merged(tmp_path):
    """Run folders that are already complete: nothing executes; CSV and Parquet tables merge."""
    (tmp_path / "g.yaml").write_text("grid:\n  sample_name: [bone, shell]\n")
    out = tmp_path / "out"
    for i, name in enumerate(["bone", "shell"]):
        run = out / f"run-{i:04d}"
        run.mkdir(parents=True)
        (run / "run.json").write_text(json.dumps({
            "status": "done", "notebook": "sample_statistics.ipynb", "duration_s": 1.0,
            "parameters": {"sample_name": name}}))
        pd.DataFrame({"porosity": [0.1 * (i + 1)]}).to_parquet(run / "a.parquet")
        pd.DataFrame({"porosity": [0.5]}).to_csv(run / "a.csv", index=False)  # same table
        pd.DataFrame({"n": [i]}).to_csv(run / "b.csv", index=False)
    summary = run_batch(NOTEBOOK, tmp_path / "g.yaml", out, progress=False)
    assert summary["status"].tolist() == ["done", "done"]
    assert summary["notebook"][1] == "run-0001/sample_statistics.ipynb"
    a = pd.read_csv(out / "tables" / "a.csv")
    assert a.to_dict("list") == {"run_id": ["run-0000", "run-0001"],
                                 "sample_name": ["bone", "shell"], "porosity": [0.1, 0.2]}
    assert pd.read_csv(out / "tables" / "b.csv")["n"].tolist() == [0, 1]
    assert not (out / ".staging").exists()


def test_help_shows_defaults(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "runs at the same time (default: 1)" in text
    assert "format of the merged tables (default: csv)" in text
    assert "(default: None)" not in text


def test_locked_output_folder_is_refused(tmp_path):
    from qimcore.batch._lock import locked

    notebook = _notebook(tmp_path / "tiny.ipynb", "x = 1", "y = x")
    (tmp_path / "g.csv").write_text("x\n1\n")
    out = tmp_path / "out"
    out.mkdir()
    with locked(out), pytest.raises(BlockingIOError, match=f"{out.name}.* in use .*pid "):
        run_batch(notebook, tmp_path / "g.csv", out, progress=False)
    assert not (out / "summary.csv").exists()  # nothing ran
