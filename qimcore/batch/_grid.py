"""Parameter grids (YAML/CSV) and the ``parameters`` cell of a notebook."""

from __future__ import annotations

import ast
import csv
import itertools
import json
import re
from os import PathLike
from pathlib import Path
from typing import Any

import yaml

#: Parameter the runner sets to each run's folder when the notebook declares it.
OUTPUT_PARAMETER = "output_dir"
#: Optional grid key naming a run's folder (default ``run-0000``, ``run-0001``, ...).
RUN_ID_KEY = "run_id"
_RESERVED = ("tables", "summary.csv")
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def notebook_parameters(notebook: str | PathLike) -> dict[str, Any]:
    """Names and default values assigned in a notebook's ``parameters`` cell.

    The first code cell tagged ``parameters`` (papermill's convention) is parsed with
    :mod:`ast`, never executed: every top-level ``name = value``, ``a, b = 1, 2`` or
    ``name: type = value`` assignment is a parameter. Defaults that are Python literals are returned as values,
    others as ``None``.

    Parameters
    ----------
    notebook : str or path
        A Jupyter notebook (``.ipynb``).

    Returns
    -------
    dict
        ``{name: default}`` in the order of the cell.

    Raises
    ------
    ValueError
        If ``notebook`` does not exist, is not valid notebook JSON, has no cell tagged
        ``parameters`` or that cell is not valid Python.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> cell = {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "outputs": [],
    ...         "execution_count": None, "source": 'sample_name = "nerves"\\nslab = 16'}
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "demo.ipynb"
    >>> _ = path.write_text(json.dumps({"cells": [cell], "metadata": {},
    ...                                 "nbformat": 4, "nbformat_minor": 5}))
    >>> notebook_parameters(path)
    {'sample_name': 'nerves', 'slab': 16}
    """
    path = Path(notebook)
    if path.suffix != ".ipynb" or not path.is_file():
        raise ValueError(f"notebook must be an existing .ipynb file, got {str(notebook)!r}")
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"notebook {str(notebook)!r} is not a readable notebook: {err}") from err
    for cell in cells:
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get(
                "tags", []):
            source = cell["source"]
            source = "".join(source) if isinstance(source, list) else source
            break
    else:
        raise ValueError(f"notebook {str(notebook)!r} has no code cell tagged 'parameters'")
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        raise ValueError(f"the parameters cell of notebook {str(notebook)!r} is not valid "
                         f"Python: {err}") from err
    params: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        try:
            default = ast.literal_eval(value)
        except ValueError:
            default = None
        for target in targets:
            if isinstance(target, ast.Name):
                params[target.id] = default
            elif isinstance(target, ast.Tuple):  # z_first, z_last = 50, 180
                values = default if isinstance(default, tuple) and len(default) == len(
                    target.elts) else (None,) * len(target.elts)
                params.update({t.id: v for t, v in zip(target.elts, values)
                               if isinstance(t, ast.Name)})
    return params


def read_grid(grid: str | PathLike) -> list[dict[str, Any]]:
    """Read the parameter sets of a batch from a YAML or CSV file.

    YAML files hold a mapping with ``runs:`` (a list of mappings, one per run) and/or
    ``grid:`` (a mapping of name to list of values; every combination is one run, the
    last name varying fastest). CSV files hold one run per row, one parameter per column;
    cells are parsed as YAML scalars (``3`` is an int, ``0.5`` a float, ``true`` a bool,
    anything else a string) and empty cells keep the notebook's default. A ``run_id`` key
    or column names the run's folder.

    Parameters
    ----------
    grid : str or path
        ``.yaml``/``.yml`` or ``.csv`` file.

    Returns
    -------
    list of dict
        One ``{name: value}`` mapping per run, in file order.

    Raises
    ------
    ValueError
        If ``grid`` is missing, unreadable, of another type, or holds no runs.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "grid.yaml"
    >>> _ = path.write_text("runs:\\n  - {sample_name: bone}\\n"
    ...                     "grid:\\n  sample_name: [shell]\\n  slab: [8, 16]\\n")
    >>> read_grid(path)
    [{'sample_name': 'bone'}, {'sample_name': 'shell', 'slab': 8}, {'sample_name': 'shell', 'slab': 16}]
    """
    path = Path(grid)
    if not path.is_file():
        raise ValueError(f"grid file not found: {str(grid)!r}")
    suffix = path.suffix.lower()
    try:
        if suffix in (".yaml", ".yml"):
            runs = _runs_from_yaml(yaml.safe_load(path.read_text(encoding="utf-8")))
        elif suffix == ".csv":
            with path.open(newline="", encoding="utf-8") as f:
                runs = [{k.strip(): yaml.safe_load(v) for k, v in row.items() if v and v.strip()}
                        for row in csv.DictReader(f)]
        else:
            raise ValueError("it must end in .yaml, .yml or .csv")
    except (OSError, ValueError, TypeError, yaml.YAMLError, csv.Error) as err:
        raise ValueError(f"grid file {str(grid)!r} could not be read: {err}") from err
    if not runs:
        raise ValueError(f"grid file {str(grid)!r} holds no runs")
    return runs


def _runs_from_yaml(doc: Any) -> list[dict[str, Any]]:
    if not isinstance(doc, dict) or not {"runs", "grid"} & doc.keys() or doc.keys() - {
            "runs", "grid"}:
        raise ValueError("a YAML grid is a mapping with 'runs:' (list of mappings) and/or "
                         "'grid:' (mapping of name to list of values)")
    runs = doc.get("runs") or []
    if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
        raise ValueError("'runs:' must be a list of mappings")
    runs = [dict(r) for r in runs]
    axes = doc.get("grid") or {}
    if not isinstance(axes, dict) or not all(isinstance(v, list) for v in axes.values()):
        raise ValueError("'grid:' must map each parameter name to a list of values")
    if axes:
        runs += [dict(zip(axes, values)) for values in itertools.product(*axes.values())]
    return runs


def plan_runs(runs: list[dict[str, Any]], parameters: dict[str, Any]
              ) -> list[tuple[str, dict[str, Any]]]:
    """Check grid keys against the notebook parameters and give every run its folder name."""
    planned, seen = [], set()
    for i, run in enumerate(runs):
        run = dict(run)
        run_id = str(run.pop(RUN_ID_KEY, f"run-{i:04d}"))
        if not _SAFE_ID.match(run_id) or run_id.endswith(".failed") or run_id in _RESERVED:
            raise ValueError(f"grid: run_id {run_id!r} must be letters, digits, '.', '_' or '-'")
        if run_id in seen:
            raise ValueError(f"grid: run_id {run_id!r} appears twice")
        seen.add(run_id)
        if OUTPUT_PARAMETER in run:
            raise ValueError(f"grid: {OUTPUT_PARAMETER!r} is set by the runner to each run's "
                             "folder; remove it from the grid")
        unknown = sorted(set(run) - set(parameters))
        if unknown:
            raise ValueError(f"grid: unknown parameter(s) {unknown} for this notebook; its "
                             f"parameters cell defines {sorted(parameters)}")
        try:
            json.dumps(run, allow_nan=False)
        except (TypeError, ValueError) as err:
            raise ValueError(f"grid: run {run_id!r} has a value that is not a plain number, "
                             f"string, bool, list or mapping: {err}") from err
        planned.append((run_id, run))
    return planned
