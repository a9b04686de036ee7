"""The real CT samples: pinned, verified, loadable."""

import hashlib

import numpy as np
import pytest

from qimcore import data
from qimcore.data._registry import SAMPLES


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_shape_and_content(name):
    vol = data.sample(name)
    assert isinstance(vol, np.ndarray)
    assert vol.shape == SAMPLES[name][2]
    assert vol.std() > 0


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_file_matches_pinned_sha256(name):
    digest = hashlib.sha256(data.sample_path(name).read_bytes()).hexdigest()
    assert digest == SAMPLES[name][1]


def test_unknown_sample_name():
    with pytest.raises(ValueError, match="name must be one of"):
        data.sample("teeth")


@pytest.mark.slow
def test_fetch_into_empty_folder_replaces_corrupt_file(tmp_path, monkeypatch):
    monkeypatch.setenv("QIMCORE_DATA", str(tmp_path))
    (tmp_path / "bone_128x128x128.tif").write_bytes(b"not a tiff")
    (path,) = data.fetch(["bone"])
    assert path.parent == tmp_path
    assert hashlib.sha256(path.read_bytes()).hexdigest() == SAMPLES["bone"][1]
    assert data.sample("bone").shape == (128, 128, 128)
