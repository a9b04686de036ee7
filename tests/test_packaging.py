"""The package's metadata stays consistent: environment.yml mirrors pyproject.toml."""

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
# conda-forge spells a few packages differently from the package index
CONDA_NAMES = {"pymaxflow": "pymaxflow", "dask": "dask"}
NOT_PYTHON = {"python", "pip", "nodejs", "pyqt"}  # pyqt: napari[pyqt5] in pyproject


def _name(requirement: str) -> str:
    name = re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0]
    return CONDA_NAMES.get(name.lower(), name.lower()).replace("_", "-")


def _pyproject_names(extras=("test", "viewer")) -> set[str]:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = list(meta["dependencies"])
    for extra in extras:
        reqs += meta["optional-dependencies"][extra]
    return {_name(r) for r in reqs}


def _environment_names() -> set[str]:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    names = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            names |= {_name(d) for d in dep["pip"] if not d.startswith("-e")}
        else:
            names.add(_name(dep))
    return names - NOT_PYTHON


def test_environment_yml_matches_pyproject():
    assert _environment_names() == _pyproject_names()


def test_environment_yml_has_kernel_and_conda_forge():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    assert "ipykernel" in _environment_names()


def test_import_is_light():
    import subprocess
    import sys

    code = ("import sys, qimcore; import qimcore.data; "
            "heavy = {'napari', 'PyQt5', 'ipywidgets', 'papermill'} & set(sys.modules); "
            "print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
