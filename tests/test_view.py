"""qimcore.view: overlays, matplotlib helpers and height-map meshes (napari: test_napari.py)."""

from __future__ import annotations

import sys

import dask.array as da
import matplotlib
import numpy as np
import pytest

from qimcore.view import (
    class_colors,
    heights_to_mesh,
    histogram,
    orthogonal_slices,
    overlay,
    overlay_rgb,
    show_curves,
    show_surfaces,
)

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


# --------------------------------------------------------------------------- overlays
def test_overlay_rgb_blends_segmentation_then_labels():
    image = np.array([[0.0, 1.0], [0.5, 0.0]])
    prob = np.zeros((2, 2, 2), np.float32)
    prob[0, 0] = 1                                        # row 0 -> class 1, row 1 -> class 2
    prob[1, 1] = 1
    labels = np.array([[0, 0], [0, 1]])
    c1, c2 = class_colors(2)
    rgb = overlay_rgb(image, labels, prob, opacity=0.25, label_opacity=1.0)
    assert rgb.dtype == np.float32 and rgb.shape == (2, 2, 3)
    np.testing.assert_allclose(rgb[0, 0], 0.25 * c1, atol=1e-6)
    np.testing.assert_allclose(rgb[0, 1], 0.75 + 0.25 * c1, atol=1e-6)
    np.testing.assert_allclose(rgb[1, 0], 0.75 * 0.5 + 0.25 * c2, atol=1e-6)
    np.testing.assert_allclose(rgb[1, 1], c1, atol=1e-6)  # labels drawn on top
    grey = overlay_rgb(image)
    assert (grey[..., 0] == grey[..., 2]).all() and grey.max() == 1 and grey.min() == 0
    fixed = overlay_rgb(image, vmin=0, vmax=2)
    assert fixed[0, 1, 0] == pytest.approx(0.5)


def test_overlay_rgb_rejects_bad_input():
    img = np.zeros((3, 4))
    with pytest.raises(ValueError, match="labels"):
        overlay_rgb(img, labels=np.zeros((4, 3), int))
    with pytest.raises(ValueError, match="labels"):
        overlay_rgb(img, labels=np.full((3, 4), 3), n_classes=2)
    with pytest.raises(ValueError, match="probabilities"):
        overlay_rgb(img, probabilities=np.zeros((2, 4, 3)))
    with pytest.raises(ValueError, match="opacity"):
        overlay_rgb(img, opacity=-0.1)
    with pytest.raises(ValueError, match="image"):
        overlay_rgb(np.zeros((2, 3, 4)))


def test_class_colors_are_distinct_and_cycle():
    colors = class_colors(12)
    assert len(np.unique(colors[:10], axis=0)) == 10 and (colors[10] == colors[0]).all()
    with pytest.raises(ValueError, match="n_classes"):
        class_colors(0)


# --------------------------------------------------------------------------- matplotlib
def test_orthogonal_slices_show_the_three_planes_of_a_dask_volume(rng):
    vol = rng.random((6, 7, 8)).astype(np.float32)
    labels = np.zeros(vol.shape, np.uint8)
    labels[2, 3, 4] = 2
    fig = orthogonal_slices(da.from_array(vol, chunks=(4, 5, 3)), (2, 3, 4), labels=labels)
    shapes = [ax.images[0].get_array().shape for ax in fig.axes]
    assert shapes == [(7, 8, 3), (6, 8, 3), (6, 7, 3)]
    for ax, (i, j) in zip(fig.axes, [(3, 4), (2, 4), (2, 3)]):
        assert np.allclose(ax.images[0].get_array()[i, j], class_colors(2)[1])
    with pytest.raises(ValueError, match="point"):
        orthogonal_slices(vol, (6, 0, 0))
    with pytest.raises(ValueError, match="volume"):
        orthogonal_slices(vol[0])


def test_overlay_surfaces_and_curves_draw_their_data():
    ax = overlay(np.zeros((4, 5)), probabilities=np.ones((1, 4, 5)))
    assert ax.images[0].get_array().shape == (4, 5, 3)
    h = np.array([[1, 2, 2], [3, 3, 4]])
    ax = show_surfaces(np.zeros((6, 3)), h)
    assert [line.get_ydata().tolist() for line in ax.lines] == h.tolist()
    with pytest.raises(ValueError, match="heights"):
        show_surfaces(np.zeros((6, 4)), h)
    ax = show_curves(np.zeros((5, 5)), [np.array([[0, 1], [2, 3]])], closed=False)
    assert ax.lines[0].get_xdata().tolist() == [1, 3]
    with pytest.raises(ValueError, match="curves"):
        show_curves(np.zeros((5, 5)), [np.zeros((3, 3))])


def test_histogram_counts_per_class_numpy_and_dask():
    image = np.array([[0, 0, 1, 1], [2, 2, 2, 3]], np.float32)
    labels = np.array([[1, 1, 1, 0], [2, 2, 2, 2]])
    for img in (image, da.from_array(image, chunks=(1, 3))):
        ax = histogram(img, labels=labels, bins=4)
        assert [line.get_ydata().tolist() for line in ax.lines] == [[2, 1, 0, 0],
                                                                     [0, 0, 3, 1]]
        assert histogram(img, bins=4).lines[0].get_ydata().tolist() == [2, 2, 3, 1]
    with pytest.raises(ValueError, match="labels"):
        histogram(image, labels=labels[0])


# --------------------------------------------------------------------------- meshes
def test_heights_to_mesh_grid_orientation_and_area():
    heights = np.full((4, 5), 3)
    verts, faces = heights_to_mesh(heights)
    assert verts.shape == (20, 3) and faces.shape == (2 * 3 * 4, 3)
    assert verts.dtype == np.float32 and (verts[:, 0] == 3).all()
    assert verts[faces].reshape(-1, 3).min(0).tolist() == [3, 0, 0]
    tri = verts[faces].astype(np.float64)
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    assert (normals[:, 0] > 0).all() and np.allclose(normals[:, 1:], 0)   # all towards +z
    assert 0.5 * np.linalg.norm(normals, axis=1).sum() == pytest.approx(3 * 4)
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), 1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    n_border = 2 * (3 + 4)
    assert (counts <= 2).all() and (counts == 1).sum() == n_border        # a manifold sheet


def test_heights_to_mesh_several_surfaces_and_voxel_size(rng):
    heights = np.stack([rng.integers(0, 5, (3, 4)), rng.integers(5, 9, (3, 4))])
    verts, faces = heights_to_mesh(heights, voxel_size=(2.0, 1.0, 0.5))
    assert verts.shape == (24, 3) and faces.shape == (24, 3)
    assert (verts[:12, 0] == 2 * heights[0].ravel()).all()
    assert (verts[12:, 0] == 2 * heights[1].ravel()).all()
    assert verts[:, 2].max() == 1.5 and faces[12:].min() == 12
    with pytest.raises(ValueError, match="heights"):
        heights_to_mesh(np.zeros((1, 4), int))
    with pytest.raises(ValueError, match="heights"):
        heights_to_mesh(np.zeros(4, int))


def test_mesh_round_trips_through_save_mesh(tmp_path):
    try:
        from qimcore.io import load_mesh, save_mesh
    except ImportError:
        pytest.skip("qimcore.io.save_mesh is not available yet")
    verts, faces = heights_to_mesh(np.array([[1, 2, 3], [2, 3, 4]]))
    save_mesh(tmp_path / "surface.ply", verts, faces)
    v2, f2 = load_mesh(tmp_path / "surface.ply")
    assert np.allclose(v2, verts) and (np.asarray(f2) == faces).all()


def test_napari_without_napari_gives_an_install_hint(monkeypatch):
    import qimcore.view

    monkeypatch.setitem(sys.modules, "napari", None)
    with pytest.raises(ImportError, match="pip install"):
        qimcore.view.napari(np.zeros((2, 3, 4)))


def test_tracks_table_for_fibres_and_nerves():
    from types import SimpleNamespace

    from qimcore.view import _track_table

    fibre = np.array([[0.0, 1, 2], [1, 1, 3], [2, 2, 3]])
    circle = np.stack([np.cos(np.linspace(0, 6, 8)), np.sin(np.linspace(0, 6, 8))], 1)
    nerve = SimpleNamespace(z=np.array([4, 5]), inner=np.stack([circle + 10, circle + 20]),
                            outer=np.stack([2 * circle + 10, 2 * circle + 20]))
    table = _track_table([fibre, nerve])
    assert table.shape == (5, 5)
    assert table[:, :2].tolist() == [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1]]
    assert (table[:3, 2:] == fibre).all()
    np.testing.assert_allclose(table[3:, 2:], [[4, 10, 10], [5, 20, 20]], atol=0.2)
    with pytest.raises(ValueError, match="tracks"):
        _track_table([np.zeros((3, 2))])
    with pytest.raises(ValueError, match="tracks"):
        _track_table([])
