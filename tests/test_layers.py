"""Tests for qimcore.layers: growth-layer table, local thickness and bone morphometry."""

import dask.array as da
import numpy as np
import pandas as pd
import pytest
from scipy import ndimage as ndi

from qimcore.data.synthetic import concentric_layers, trabecular_lattice
from qimcore.layers import bone_table, layer_table, layer_thickness, local_thickness, shell_layers

LAYER_COLUMNS = ["layer", "thickness_mean", "thickness_std", "porosity"]
BONE_COLUMNS = ["bv_tv", "tb_th", "tb_sp"]


@pytest.fixture(scope="module")
def layers():
    return concentric_layers((56, 64, 64), thicknesses=(8.0, 12.0, 10.0),
                             porosities=(0.05, 0.2, 0.1), random_state=3)


def _brute_local_thickness(mask, sizes):
    """Paint every voxel's sphere (closer than the EDT), with the half-voxel correction."""
    padded = np.pad(mask, 1)
    edt = ndi.distance_transform_edt(padded, sampling=sizes)
    grid = np.indices(padded.shape).reshape(padded.ndim, -1).T * np.asarray(sizes)
    out = np.zeros(padded.size)
    for c in np.argwhere(padded):
        r = edt[tuple(c)]
        inside = ((grid - c * np.asarray(sizes)) ** 2).sum(axis=1) < r ** 2 * (1 - 1e-9)
        out[inside] = np.maximum(out[inside], 2 * r - 0.5 * min(sizes))
    return out.reshape(padded.shape)[(slice(1, -1),) * mask.ndim]


# ----------------------------------------------------------------------------- layer_table
@pytest.mark.parametrize("source", ["intensity", "mask", "probability"])
def test_layer_table_recovers_thickness_and_porosity(layers, source):
    volume, truth = layers
    if source == "intensity":
        table = layer_table(volume, truth["heights"])
    elif source == "mask":
        table = layer_table(truth["material"], truth["heights"])
    else:
        prob = truth["material"].astype(np.float32) * 0.8 + 0.1
        table = layer_table(volume, truth["heights"], material=prob)
    assert list(table.columns[:4]) == LAYER_COLUMNS
    assert table["layer"].tolist() == [0, 1, 2]
    np.testing.assert_allclose(table["thickness_mean"], truth["thickness"], atol=0.5)
    np.testing.assert_allclose(table["porosity"], truth["porosity"], atol=0.01)
    assert (table["thickness_std"] < 1.0).all()


def test_layer_table_exact_porosity_from_mask(layers):
    _, truth = layers
    table = layer_table(truth["material"], truth["heights"])
    np.testing.assert_allclose(table["porosity"], truth["porosity"], rtol=1e-12)
    assert table["intensity_mean"].isna().all()


def test_layer_table_units(layers):
    volume, truth = layers
    one = layer_table(volume, truth["heights"])
    scaled = layer_table(volume, truth["heights"], voxel_size=2.5)
    np.testing.assert_allclose(scaled["thickness_mean"], 2.5 * one["thickness_mean"], rtol=1e-6)
    np.testing.assert_allclose(scaled["volume"], 2.5 ** 3 * one["n_voxels"])
    np.testing.assert_allclose(scaled["porosity"], one["porosity"])


def test_layer_table_dask_equals_numpy():
    volume, truth = concentric_layers((30, 20, 20), thicknesses=(6.0, 8.0),
                                      porosities=(0.1, 0.2), radius=60.0, random_state=4)
    expected = layer_table(volume, truth["heights"])
    got = layer_table(da.from_array(volume, chunks=(7, 9, 5)), truth["heights"])
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-9)
    np.testing.assert_array_equal(got.attrs["threshold"], expected.attrs["threshold"])
    with_mat = layer_table(da.from_array(volume, chunks=(7, 9, 5)), truth["heights"],
                           material=da.from_array(truth["material"], chunks=(11, 13, 20)))
    np.testing.assert_allclose(with_mat["porosity"], truth["porosity"], rtol=1e-12)
    numpy_volume = layer_table(volume, truth["heights"],
                               material=da.from_array(truth["material"], chunks=(7, 9, 5)))
    pd.testing.assert_frame_equal(numpy_volume, with_mat, check_exact=False, rtol=1e-9)


def test_layer_table_2d_curves():
    image = np.ones((12, 7), bool)
    image[5, :3] = False
    heights = np.array([[2] * 7, [4] * 7, [10] * 7])
    table = layer_table(image, heights, voxel_size=(2.0, 1.0))
    assert table["thickness_mean"].tolist() == [4.0, 12.0]
    assert table["porosity"].tolist() == [0.0, pytest.approx(3 / 42)]


def test_layer_thickness_tilted_planes():
    x = np.arange(20)
    heights = np.stack([np.broadcast_to(2 * x, (6, 20)) + z for z in (0, 5, 12)])
    thick = layer_thickness(heights)
    assert thick.shape == (2, 6, 20) and thick.dtype == np.float32
    np.testing.assert_allclose(thick[0], 5 / np.sqrt(5), rtol=1e-6)
    np.testing.assert_allclose(thick[1], 7 / np.sqrt(5), rtol=1e-6)
    # anisotropic voxels: slope dz * 2 / dx
    thick = layer_thickness(heights, voxel_size=(0.5, 1.0, 1.0))
    np.testing.assert_allclose(thick[0], 2.5 / np.sqrt(2), rtol=1e-6)


@pytest.mark.parametrize(("heights", "match"), [
    (np.stack([np.full((6, 5), 4), np.full((6, 5), 2)]), "ascending"),
    (np.stack([np.full((6, 4), 2), np.full((6, 4), 4)]), "shape"),
    (np.full((1, 6, 5), 2), "at least 2"),
    (np.stack([np.full((6, 5), 2), np.full((6, 5), 99)]), r"\[0, 10\]"),
])
def test_layer_table_rejects_bad_heights(heights, match):
    with pytest.raises(ValueError, match="heights") as err:
        layer_table(np.ones((10, 6, 5)), heights)
    assert err.match(match)


def test_layer_table_rejects_bad_input():
    heights = np.stack([np.full((6, 5), 2), np.full((6, 5), 4)])
    with pytest.raises(TypeError, match="heights"):
        layer_table(np.ones((10, 6, 5)), heights.astype(float))
    with pytest.raises(ValueError, match="material"):
        layer_table(np.ones((10, 6, 5)), heights, material=np.ones((10, 6, 4), bool))
    with pytest.raises(ValueError, match="volume_or_mask"):
        layer_table(np.ones((10, 6, 5)), heights)            # constant: no Otsu threshold
    with pytest.raises(ValueError, match="volume_or_mask"):
        layer_table(np.ones(10), heights)
    with pytest.raises(ValueError, match="volume_or_mask"):
        layer_table(np.full((10, 6, 5), np.nan), heights)


# ----------------------------------------------------------------------------- shell layers
def _tube(n_slices=16):
    """Two rolled layers: a dense ring 9 <= r < 15 and a ring 15 <= r < 21 of grey 0.5 holding
    a buried pore band (16 <= r < 19) in every 4th slice, around (24, 24)."""
    z, y, x = np.mgrid[:n_slices, :49, :49]
    r = np.hypot(y - 24, x - 24)
    vol = np.where((r > 8.5) & (r < 14.5), 1.0, 0.0)
    pores = (r > 15.5) & (r < 18.5) & (z % 4 == 0)
    vol = np.where((r > 14.5) & (r < 20.5) & ~pores, 0.5, vol)
    return vol.astype(np.float32)


def test_shell_layers_exact_on_axis_rays():
    # 4 axis-aligned rays sample voxel centres exactly: heights, thickness, porosity, volume
    res = shell_layers(_tube(), ["rising", "falling", "falling"], center=(24, 24),
                       radii=np.arange(24.0), n_angles=4, regions=("void", None, None, "void"),
                       voxel_size=(2.0, 0.5, 0.5), threshold=0.25)
    assert res.heights.shape == (3, 16, 4) and res.thickness.shape == (2, 16, 4)
    assert [np.unique(h).tolist() for h in res.heights] == [[9], [15], [21]]
    table = res.table
    assert list(table.columns[:4]) == LAYER_COLUMNS
    np.testing.assert_allclose(table["thickness_mean"], [3.0, 3.0])          # 6 samples of 0.5 µm
    np.testing.assert_allclose(table["porosity"], [0.0, 3 / 6 / 4])
    ring = np.pi * (np.array([14.5, 20.5]) ** 2 - np.array([8.5, 14.5]) ** 2) * 0.25 * 2.0 * 16
    np.testing.assert_allclose(table["volume"], ring)
    np.testing.assert_allclose(res.points[0, 0], [[24, 33], [33, 24], [24, 15], [15, 24]],
                               atol=1e-9)


def test_shell_layers_smooth_across_slices_with_moving_centre():
    vol = _tube(12)
    shifted = np.stack([np.roll(s, k // 3, axis=1) for k, s in enumerate(vol)])  # tilted axis
    centres = np.stack([np.full(12, 24.0), 24.0 + np.arange(12) // 3], axis=1)
    res = shell_layers(shifted, ["rising", "falling", "falling"], center=centres,
                       radii=np.arange(24.0), n_angles=48, delta=(1, 2), voxel_size=0.5,
                       regions=("void", None, None, "void"), threshold=0.25)
    assert np.abs(np.diff(res.heights, axis=1)).max() <= 1                 # along z: delta 1
    assert (res.heights[0] == 9).all() and (res.heights[2] == 21).all()
    np.testing.assert_allclose(res.table["thickness_mean"], [3.0, 3.0], atol=0.1)
    np.testing.assert_allclose(res.table["porosity"], [0.0, 0.125], atol=0.005)
    ring = np.pi * np.array([14.5 ** 2 - 8.5 ** 2, 20.5 ** 2 - 14.5 ** 2]) * 0.5 ** 3 * 12
    np.testing.assert_allclose(res.table["volume"], ring, rtol=0.03)
    default = shell_layers(shifted, ["rising", "falling", "falling"], radii=np.arange(24.0),
                           n_angles=48, delta=(1, 2), regions=("void", None, None, "void"))
    np.testing.assert_allclose(default.centres, centres, atol=0.5)         # centre of mass


def test_shell_layers_bad_input():
    vol = _tube(4)
    with pytest.raises(ValueError, match="edges"):
        shell_layers(vol, ["rising", "up"])
    with pytest.raises(ValueError, match="edges"):
        shell_layers(vol, ["rising"])
    with pytest.raises(ValueError, match="regions"):
        shell_layers(vol, ["rising", "falling"], regions=("void", None))
    with pytest.raises(ValueError, match="voxel_size"):
        shell_layers(vol, ["rising", "falling"], voxel_size=(1.0, 1.0, 2.0))
    with pytest.raises(ValueError, match="slices"):
        shell_layers(vol, ["rising", "falling"], slices=[0, 9])
    with pytest.raises(ValueError, match="material"):
        shell_layers(vol, ["rising", "falling"], material=np.ones((4, 49, 48)))
    with pytest.raises(ValueError, match="volume"):
        shell_layers(vol[0], ["rising", "falling"])


# ----------------------------------------------------------------------------- local thickness
@pytest.mark.parametrize("sizes", [(1.0, 1.0, 1.0), (2.0, 1.0, 1.5)])
def test_local_thickness_equals_brute_force(rng, sizes):
    mask = ndi.gaussian_filter(rng.random((12, 13, 14)), 1.5) > 0.5
    got = local_thickness(mask, voxel_size=sizes)
    np.testing.assert_allclose(got, _brute_local_thickness(mask, sizes), atol=1e-4)
    assert got.dtype == np.float32 and (got[~mask] == 0).all() and (got[mask] > 0).all()


def test_local_thickness_2d(rng):
    mask = ndi.gaussian_filter(rng.random((25, 27)), 1.5) > 0.5
    np.testing.assert_allclose(local_thickness(mask), _brute_local_thickness(mask, (1.0, 1.0)),
                               atol=1e-4)


def test_local_thickness_dask_equals_numpy(rng):
    mask = ndi.gaussian_filter(rng.random((20, 23, 19)), 1.5) > 0.5
    expected = local_thickness(mask, voxel_size=2.0)
    got = local_thickness(da.from_array(mask, chunks=(7, 9, 5)), voxel_size=2.0,
                          max_thickness=2.0 * 2 * ndi.distance_transform_edt(mask).max())
    assert isinstance(got, da.Array)
    np.testing.assert_array_equal(got.compute(), expected)


@pytest.mark.parametrize("kind", ["plates", "rods"])
@pytest.mark.parametrize("thickness", [3, 5, 7, 9])
def test_bone_table_lattice_truth(kind, thickness):
    mask, truth = trabecular_lattice((40, 48, 48), kind=kind, thickness=thickness, spacing=24,
                                     random_state=thickness)
    table = bone_table(mask, voxel_size=1.0)
    assert list(table.columns[:3]) == ["bv_tv", "tb_th", "tb_th_std"]
    assert len(table) == 1
    assert abs(table["tb_th"][0] - truth["thickness"]) < 1.0
    assert abs(table["bv_tv"][0] - truth["bv_tv"]) <= 0.005 * truth["bv_tv"]
    assert table["tb_sp"][0] > table["tb_th"][0] if kind == "rods" else True


def test_bone_table_plate_spacing_and_units():
    mask = np.zeros((40, 40, 37), bool)
    for x0 in (0, 16, 32):                          # plates 5 thick, gaps 11 wide
        mask[..., x0:x0 + 5] = True
    table = bone_table(mask, voxel_size=2.0)
    assert abs(table["tb_th"][0] - 2 * 5) < 2.0
    assert abs(table["tb_sp"][0] - 2 * 11) < 2.0
    assert table["tv"][0] == 8.0 * mask.size and table["bv"][0] == 8.0 * mask.sum()


def test_bone_table_density_and_calibration():
    mask, _ = trabecular_lattice((20, 24, 24), kind="rods", thickness=5, spacing=12)
    intensity = np.where(mask, 120.0, 20.0)
    table = bone_table(mask, intensity=intensity)
    assert table["density"][0] == 120.0
    cal = bone_table(mask, intensity=intensity, calibration=((20, 0.0), (220, 1000.0)))
    assert cal["density"][0] == pytest.approx(500.0)
    assert "density" not in bone_table(mask).columns


def test_bone_table_roi():
    mask, truth = trabecular_lattice((20, 32, 32), kind="plates", thickness=4, spacing=16)
    roi = np.zeros_like(mask)
    roi[:, :16] = True
    table = bone_table(mask, roi=roi)
    assert table["bv_tv"][0] == pytest.approx(truth["bv_tv"])
    assert table["tv"][0] == roi.sum()


def test_bone_table_dask_equals_numpy(rng):
    mask = ndi.gaussian_filter(rng.random((20, 22, 18)), 1.5) > 0.5
    intensity = rng.random(mask.shape)
    expected = bone_table(mask, voxel_size=1.5, intensity=intensity)
    got = bone_table(da.from_array(mask, chunks=(7, 9, 5)), voxel_size=1.5,
                     intensity=da.from_array(intensity, chunks=(7, 9, 5)), max_thickness=40.0)
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-6)


def test_bone_table_bad_input():
    mask = np.zeros((8, 8, 8), bool)
    with pytest.raises(ValueError, match="mask is empty"):
        bone_table(mask)
    mask[2:5, 2:5, 2:5] = True
    with pytest.raises(TypeError, match="mask"):
        bone_table(mask.astype(np.float32) * 0.7)
    with pytest.raises(ValueError, match="roi"):
        bone_table(mask, roi=np.zeros_like(mask))
    with pytest.raises(ValueError, match="calibration"):
        bone_table(mask, intensity=np.ones(mask.shape), calibration=((1, 0), (1, 5)))
    with pytest.raises(ValueError, match="calibration"):
        bone_table(mask, calibration=((1, 0), (2, 5)))
    with pytest.raises(ValueError, match="intensity"):
        bone_table(mask, intensity=np.ones((8, 8, 7)))
    with pytest.raises(ValueError, match="max_thickness"):
        bone_table(da.from_array(mask, chunks=4))
    with pytest.raises(TypeError, match="mask"):
        local_thickness(np.full((5, 5), 0.3))


# ----------------------------------------------------------------------------- synthetic data
def test_synthetic_truth_is_consistent(layers):
    volume, truth = layers
    assert volume.dtype == np.float32
    assert (np.diff(truth["heights"], axis=0) >= 0).all()
    z = np.arange(volume.shape[0])[:, None, None]
    outside = (z < truth["heights"][0]) | (z >= truth["heights"][-1])
    assert not truth["material"][outside].any()
    with pytest.raises(ValueError, match="thicknesses"):
        concentric_layers(thicknesses=(5, 5), porosities=(0.1,))
    with pytest.raises(ValueError, match="kind"):
        trabecular_lattice(kind="foam")
