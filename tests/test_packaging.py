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


def _requirements(extras) -> list[str]:
    """Requirements of the core plus ``extras``, self-references (``qimcore[...]``) expanded."""
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs, todo, seen = list(meta["dependencies"]), list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for req in meta["optional-dependencies"][extra]:
            if req.startswith("qimcore["):
                todo += req[len("qimcore["):-1].split(",")
            else:
                reqs.append(req)
    return reqs


def _pyproject_names(extras=("all", "test")) -> set[str]:
    return {_name(r) for r in _requirements(extras)}


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


def test_core_installs_algorithms_only():
    core = _pyproject_names(extras=())
    servers = {"jupyterhub", "jupyterlab", "notebook", "papermill", "dask-jobqueue", "distributed",
               "napari", "ipywidgets", "ipykernel", "jupyterhub-nativeauthenticator"}
    assert core & servers == set()


def test_extras_cover_their_parts():
    assert "papermill" in _pyproject_names(extras=("batch",))
    assert "ipycanvas" in _pyproject_names(extras=("widgets",))
    assert {"jupyterhub", "jupyterlab", "papermill", "ipywidgets"} <= _pyproject_names(("hub",))
    assert _pyproject_names(("all",)) >= _pyproject_names(("hub", "viewer"))
