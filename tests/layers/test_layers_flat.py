"""qimcore.layers flat layers: layer_table and layer_thickness on synthetic truth."""

import dask.array as da
import numpy as np
import pandas as pd
import pytest
from skimage.filters import threshold_otsu

from qimcore.data.synthetic import concentric_layers, layer_family
from qimcore.layers import layer_table, layer_thickness

LAYER_COLUMNS = ["layer", "thickness_mean", "thickness_std", "porosity"]


@pytest.fixture(scope="module")
def layers():
    return concentric_layers((56, 64, 64), thicknesses=(8.0, 12.0, 10.0),
                             porosities=(0.05, 0.2, 0.1), random_state=3)


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


# ----------------------------------------------------------------------------- phantom family
@pytest.mark.parametrize("seed", range(10))
def test_porosity_per_layer_across_family(seed):
    """Layers of different grey (up to 30 % of the range), pores 0-30 %: within 1.5 pp."""
    volume, truth = layer_family(random_state=seed)
    table = layer_table(volume, truth["heights"])
    assert np.abs(table["porosity"] - truth["porosity"]).max() <= 0.015
    np.testing.assert_allclose(table["thickness_mean"], truth["thickness"], atol=0.6)
    thresholds = table.attrs["threshold"]
    assert thresholds.shape == (len(table),)
    assert ((thresholds > 0) & (thresholds < truth["grey"])).all()


@pytest.mark.parametrize("seed", range(3))
def test_one_threshold_for_all_layers_fails_where_per_layer_does_not(seed):
    """Few pores and alternating grey values: one Otsu split cuts between the layers."""
    volume, truth = layer_family(random_state=seed, contrast=0.3, porosity=(0.0, 0.05),
                                 alternating=True, n_layers=2)
    z = np.arange(volume.shape[0])[:, None, None]
    inside = (z >= truth["heights"][0]) & (z < truth["heights"][-1])
    one = layer_table(volume, truth["heights"], threshold=threshold_otsu(volume[inside]))
    assert np.abs(one["porosity"] - truth["porosity"]).max() > 0.3
    table = layer_table(volume, truth["heights"])
    assert np.abs(table["porosity"] - truth["porosity"]).max() <= 0.015


def test_layers_without_pores_read_zero():
    volume, truth = layer_family(random_state=5, porosity=0.0, contrast=0.3, noise=0.1)
    table = layer_table(volume, truth["heights"])
    assert (truth["porosity"] == 0).all() and table["porosity"].max() <= 0.005


def test_per_layer_thresholds_given():
    volume, truth = layer_family(random_state=1, n_layers=3)
    grey = truth["grey"]
    table = layer_table(volume, truth["heights"], threshold=grey / 2)
    np.testing.assert_allclose(table["porosity"], truth["porosity"], atol=0.015)
    np.testing.assert_array_equal(table.attrs["threshold"], grey / 2)
    with pytest.raises(ValueError, match="threshold"):
        layer_table(volume, truth["heights"], threshold=[0.5, 0.5])


@pytest.mark.parametrize("seed", range(4))
def test_layer_family_draws_within_ranges(seed):
    kwargs = {"n_layers": (2, 3), "porosity": (0.05, 0.2), "contrast": (0.1, 0.2)}
    volume, truth = layer_family(random_state=seed, shape=(48, 40, 40), **kwargs)
    again, _ = layer_family(random_state=seed, shape=(48, 40, 40), **kwargs)
    np.testing.assert_array_equal(volume, again)
    params = truth["params"]
    n = len(truth["thickness"])
    assert 2 <= n <= 3 and truth["heights"].shape == (n + 1, 40, 40)
    assert ((truth["porosity"] > 0.04) & (truth["porosity"] < 0.21)).all()
    assert 0.1 <= params["contrast"] <= 0.2
    assert np.isclose(truth["grey"].max() - truth["grey"].min(), params["contrast"])
    assert truth["heights"].max() < volume.shape[0]
    with pytest.raises(ValueError, match="porosity"):
        layer_family(porosity=(0.3, 0.1))
