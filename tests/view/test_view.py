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
    monkeypatch.setenv("DISPLAY", ":99")
    with pytest.raises(ImportError, match="pip install"):
        qimcore.view.napari(np.zeros((2, 3, 4)))


def test_tracks_table_for_fibres_and_nerves():
    from types import SimpleNamespace

    from qimcore.view import _track_points, _track_table

    fibre = np.array([[0.0, 1, 2], [1, 1, 3], [2, 2, 3]])
    circle = np.stack([np.cos(np.linspace(0, 6, 8)), np.sin(np.linspace(0, 6, 8))], 1)
    nerve = SimpleNamespace(z=np.array([4, 5]), inner=np.stack([circle + 10, circle + 20]),
                            outer=np.stack([2 * circle + 10, 2 * circle + 20]))
    table = _track_table(_track_points([fibre, nerve]))
    assert table.shape == (5, 5)
    assert table[:, :2].tolist() == [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1]]
    assert (table[:3, 2:] == fibre).all()
    np.testing.assert_allclose(table[3:, 2:], [[4, 10, 10], [5, 20, 20]], atol=0.2)
    with pytest.raises(ValueError, match="tracks"):
        _track_points([np.zeros((3, 2))])
    with pytest.raises(ValueError, match="tracks"):
        _track_points([])


# --------------------------------------------------------------------------- browser 3D view
def test_napari_without_a_display_names_the_browser_viewer(monkeypatch):
    import qimcore.view

    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setitem(sys.modules, "napari", None)     # never reached: no Qt abort
    with pytest.raises(ValueError, match=r"view3d"):
        qimcore.view.napari(np.zeros((2, 3, 4)))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")   # Qt's own headless platform: allowed
    with pytest.raises(ImportError, match="pip install"):
        qimcore.view.napari(np.zeros((2, 3, 4)))


@pytest.mark.parametrize("shape", [(12, 17, 9), (30, 31, 32)])
@pytest.mark.parametrize("max_voxels", [8, 27, 500, 10**6])
def test_downsample_block_means_numpy_and_dask_agree(rng, shape, max_voxels):
    from qimcore.view import downsample

    vol = rng.random(shape).astype(np.float32)
    small, f = downsample(vol, max_voxels)
    assert small.size <= max_voxels and small.dtype == np.float32
    if f > 1:        # the smallest factor: one less would not fit
        assert np.prod([s // (f - 1) for s in shape]) > max_voxels
    assert small.shape == tuple(s // f for s in shape)
    brute = np.array([[[vol[f * i:f * i + f, f * j:f * j + f, f * k:f * k + f].mean()
                        for k in range(small.shape[2])] for j in range(small.shape[1])]
                      for i in range(small.shape[0])])
    np.testing.assert_allclose(small, brute, rtol=1e-5)
    lazy, f2 = downsample(da.from_array(vol, chunks=(5, 7, 4)), max_voxels)   # uneven chunks
    assert f2 == f and isinstance(lazy, np.ndarray)
    np.testing.assert_allclose(lazy, small, rtol=1e-5)
    labels = (vol * 4).astype(np.uint8)
    picked, _ = downsample(da.from_array(labels, chunks=5), max_voxels, labels=True)
    c = f // 2
    assert picked.dtype == np.uint8 and (picked == labels[c::f, c::f, c::f][
        tuple(slice(0, s) for s in small.shape)]).all()


def test_downsample_rejects_bad_input():
    from qimcore.view import downsample

    with pytest.raises(ValueError, match="max_voxels"):
        downsample(np.zeros((4, 4, 4)), 0)
    with pytest.raises(ValueError, match="max_voxels"):
        downsample(np.zeros((1, 100, 100)), 100)      # factor 3 > 1 slice
    with pytest.raises(ValueError, match="volume"):
        downsample(np.zeros((4, 4)), 10)


def test_track_lines_join_points_within_each_track_only():
    from types import SimpleNamespace

    import pandas as pd

    from qimcore.view import track_lines

    fibre = np.array([[0.0, 1, 2], [1, 1, 3], [2, 2, 3]])
    circle = np.stack([np.cos(np.linspace(0, 2 * np.pi, 9)[:-1]),
                       np.sin(np.linspace(0, 2 * np.pi, 9)[:-1])], 1)
    nerve = SimpleNamespace(z=np.array([4, 5]), inner=np.stack([circle + 10, circle + 20]))
    values = pd.Series([3.5, 7.0], name="axon_diameter")
    v, seg, attr = track_lines([fibre, nerve], values, voxel_size=(2, 1, 1))
    assert seg.tolist() == [[0, 1], [1, 2], [3, 4]] and seg.dtype == np.uint32
    assert attr.tolist() == [3.5, 3.5, 3.5, 7.0, 7.0]
    assert v[:3].tolist() == [[2, 1, 0], [3, 1, 2], [3, 2, 4]]       # (x, y, 2 z)
    np.testing.assert_allclose(v[3:], [[10, 10, 8], [20, 20, 10]], atol=1e-5)
    assert track_lines([fibre])[2].tolist() == [0, 0, 0]             # default: track index
    with pytest.raises(ValueError, match="values"):
        track_lines([fibre, nerve], [1.0])


k3d = pytest.importorskip("k3d", reason="k3d is not installed (pip install k3d)")


def test_view3d_sends_downsampled_volume_labels_meshes_and_tracks():
    from qimcore.view import view3d

    vol = da.from_array(np.arange(40 * 20 * 10, dtype=np.float32).reshape(40, 20, 10),
                        chunks=(7, 20, 10))
    labels = np.zeros((40, 20, 10), np.uint8)
    labels[:20] = 1
    labels[30:] = 2
    heights = np.full((2, 20, 10), 5)
    heights[1] = 30
    tetra = (np.array([[0, 0, 0], [0, 0, 4], [0, 4, 0], [4, 0, 0]], float),
             np.array([[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]]))
    tracks = [np.array([[0, 0, 0], [39, 19, 9]], float), np.array([[5, 5, 5], [6, 6, 6]], float)]
    plot = view3d(vol, labels, heights, tracks, voxel_size=(2, 1, 1), max_voxels=1000,
                  track_values=np.array([1.0, 2.0]))
    names = [o.name for o in plot.objects]
    assert names == ["volume", "labels", "surface 0", "surface 1", "tracks"]
    volume, voxels, s0, _, lines = plot.objects
    assert volume.volume.shape == (20, 10, 5)                        # factor 2: 1000 voxels
    np.testing.assert_allclose(volume.volume[0, 0, 0], np.mean(np.asarray(vol)[:2, :2, :2]))
    assert list(volume.model_matrix[[0, 1, 2], [0, 1, 2]]) == [10, 20, 80]   # x, y, 2 z extent
    assert (voxels.voxels[:10] == 1).all() and (voxels.voxels[15:] == 2).all()
    assert not voxels.voxels[10:15].any()
    assert s0.vertices.shape == (200, 3) and (s0.vertices[:, 2] == 10).all()   # z = 2 * 5
    assert lines.indices.tolist() == [[0, 1], [2, 3]]
    assert lines.attribute.tolist() == [1, 1, 2, 2] and plot.colorbar_object_id == lines.id
    mesh = view3d(np.zeros((8, 8, 8)), surfaces=[tetra]).objects[1]
    assert mesh.vertices[:, ::-1].tolist() == tetra[0].tolist()      # (z, y, x) -> (x, y, z)
    prob = np.stack([np.full((8, 8, 8), 0.25), np.full((8, 8, 8), 0.75)]).astype(np.float32)
    objs = view3d(np.zeros((8, 8, 8)), probabilities=prob).objects
    assert [(o.name, o.visible) for o in objs[1:]] == [("probability 1", False),
                                                        ("probability 2", True)]


def test_view3d_rejects_bad_input():
    from qimcore.view import view3d

    vol = np.zeros((4, 5, 6))
    with pytest.raises(ValueError, match="labels"):
        view3d(vol, labels=np.zeros((4, 5, 5), int))
    with pytest.raises(TypeError, match="labels"):
        view3d(vol, labels=np.zeros((4, 5, 6)))
    with pytest.raises(ValueError, match="surfaces"):
        view3d(vol, surfaces=np.zeros((1, 5, 5), int))
    with pytest.raises(ValueError, match="probabilities"):
        view3d(vol, probabilities=np.zeros((2, 4, 5, 5)))
    with pytest.raises(ValueError, match="opacity"):
        view3d(vol, opacity=2)
