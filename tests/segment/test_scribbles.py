"""Tests for the scribble format: qimcore.segment.Scribbles, save_scribbles, load_scribbles."""

from __future__ import annotations

import numpy as np
import pytest

from qimcore.segment import DictionarySegmenter, Scribbles, load_scribbles, save_scribbles


def test_roundtrip_dense_3d(tmp_path, rng):
    labels = (rng.random((6, 7, 8)) > 0.9) * rng.integers(1, 4, (6, 7, 8))
    save_scribbles(tmp_path / "s.npz", labels)
    back = load_scribbles(tmp_path / "s.npz")
    assert back.dtype == np.uint8 and back.shape == labels.shape
    assert (back == labels).all()


@pytest.mark.parametrize("largest, dtype", [(255, np.uint8), (300, np.uint16),
                                            (70_000, np.uint32), (10**12, np.uint64)])
def test_every_class_roundtrips_exactly(tmp_path, largest, dtype):
    labels = np.zeros((5, 9), np.int64)
    labels[1, 2], labels[3, 8], labels[4, 0] = 1, largest, largest - 1
    save_scribbles(tmp_path / "s", labels)  # .npz appended
    back = load_scribbles(tmp_path / "s.npz")
    assert back.dtype == dtype and (back == labels).all()
    sparse = load_scribbles(tmp_path / "s.npz", sparse=True)
    assert isinstance(sparse, Scribbles) and sparse.shape == (5, 9) and len(sparse) == 3
    assert sparse.n_classes == largest
    assert sorted(map(tuple, sparse.coords.tolist())) == [(1, 2), (3, 8), (4, 0)]


def test_sparse_save_equals_dense_save(tmp_path):
    s = Scribbles([(0, 1, 2), (3, 3, 3)], [2, 5], shape=(4, 5, 6))
    save_scribbles(tmp_path / "a.npz", s)
    save_scribbles(tmp_path / "b.npz", s.to_dense())
    a, b = np.load(tmp_path / "a.npz"), np.load(tmp_path / "b.npz")
    assert sorted(a.files) == sorted(b.files) == ["label", "shape", "x", "y", "z"]
    for name in a.files:
        assert (a[name] == b[name]).all()
    assert (np.asarray(s) == s.to_dense()).all() and np.asarray(s).shape == (4, 5, 6)


def test_save_replaces_atomically_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "s.npz"
    save_scribbles(path, Scribbles([(0, 0)], [1], (3, 3)))
    save_scribbles(path, Scribbles([(1, 1)], [2], (3, 3)))
    assert load_scribbles(path).tolist() == [[0, 0, 0], [0, 2, 0], [0, 0, 0]]
    assert [p.name for p in tmp_path.iterdir()] == ["s.npz"]


def test_empty_scribbles_roundtrip(tmp_path):
    save_scribbles(tmp_path / "e.npz", np.zeros((3, 4), np.uint8))
    s = load_scribbles(tmp_path / "e.npz", sparse=True)
    assert len(s) == 0 and s.n_classes == 0 and s.shape == (3, 4)


@pytest.mark.parametrize("args, error, match", [
    (([(0, 0), (0, 0)], [1, 2], (3, 3)), ValueError, "repeat"),
    (([(0, 3)], [1], (3, 3)), ValueError, "inside"),
    (([(0, -1)], [1], (3, 3)), ValueError, "inside"),
    (([(0, 0)], [0], (3, 3)), ValueError, "values"),
    (([(0, 0)], [1.5], (3, 3)), TypeError, "values"),
    (([(0.0, 0.0)], [1], (3, 3)), TypeError, "coords"),
    (([(0, 0, 0)], [1], (3, 3)), ValueError, "coords"),
    (([(0,)], [1], (3,)), ValueError, "shape"),
])
def test_bad_scribbles(args, error, match):
    with pytest.raises(error, match=match):
        Scribbles(*args)


def test_bad_dense_labels_and_files(tmp_path):
    with pytest.raises(ValueError, match="labels"):
        save_scribbles(tmp_path / "s.npz", -np.ones((3, 3), int))
    with pytest.raises(TypeError, match="labels"):
        save_scribbles(tmp_path / "s.npz", np.ones((3, 3)))
    with pytest.raises(TypeError, match="labels"):
        save_scribbles(tmp_path / "s.npz", None)
    with pytest.raises(FileNotFoundError, match="path"):
        load_scribbles(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not a scribble file"):
        load_scribbles(tmp_path / "other.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="not a scribble file"):
        load_scribbles(tmp_path / "text.npz")
    np.savez(tmp_path / "out.npz", shape=np.array([3, 3]), label=np.array([1], np.uint8),
             y=np.array([5]), x=np.array([0]))
    with pytest.raises(ValueError, match="inside"):
        load_scribbles(tmp_path / "out.npz")


def test_propagate_takes_scribbles(rng):
    image = rng.random((15, 16)).astype(np.float32)
    labels = np.zeros(image.shape, np.uint8)
    labels.flat[rng.choice(labels.size, 12, replace=False)] = np.arange(12) % 3 + 1
    seg = DictionarySegmenter(3, 8).fit(image)
    dense = seg.propagate(labels)
    sparse = seg.propagate(Scribbles.from_dense(labels))
    np.testing.assert_array_equal(dense, sparse)
    with pytest.raises(ValueError, match="shape"):
        seg.propagate(Scribbles([(0, 0), (1, 1)], [1, 2], (15, 17)))
