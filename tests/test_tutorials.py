"""The course notebooks in tutorials/: shape of the files (nbval runs them top to bottom in CI)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

TUTORIALS = sorted((Path(__file__).resolve().parents[1] / "tutorials").glob("*.ipynb"))


def test_three_to_five_numbered_tutorials():
    assert 3 <= len(TUTORIALS) <= 5
    assert [p.name[:3] for p in TUTORIALS] == [f"{i:02d}_" for i in range(1, len(TUTORIALS) + 1)]


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_is_clean_and_parametrised(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    first = nb["cells"][0]
    assert first["cell_type"] == "code" and "parameters" in first["metadata"].get("tags", [])
    assert nb["cells"][1]["cell_type"] == "markdown"  # a title right after the parameters
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
            source = "".join(cell["source"])
            assert not re.search(r"\bqimcore\._|from qimcore\.\w*\._", source), source
