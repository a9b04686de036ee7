"""qimcore.layers.bone_table: BoneJ metrics on lattices and on the bone phantom family."""

import dask.array as da
import numpy as np
import pandas as pd
import pytest
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu

from qimcore.data.synthetic import bone_family, bone_phantom, trabecular_lattice
from qimcore.layers import bone_table, local_thickness


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


def test_trabecular_lattice_rejects_bad_kind():
    with pytest.raises(ValueError, match="kind"):
        trabecular_lattice(kind="foam")


@pytest.mark.parametrize("seed", range(6))
def test_tb_th_across_bone_family(seed):
    """Tilted plates and rods 3-10 voxels, partial volume and noise, smoothed + Otsu mask."""
    volume, truth = bone_family(random_state=seed, shape=(48, 48, 48), noise=(0.05, 0.2))
    smooth = ndi.gaussian_filter(volume, 1.0)
    row = bone_table(smooth > threshold_otsu(smooth))
    assert abs(row["tb_th"][0] - truth["thickness"]) <= 1.5
    ideal = bone_table(truth["mask"])                  # the segmentation's share of the error
    assert abs(row["tb_th"][0] - ideal["tb_th"][0]) <= 1.5


def test_bone_phantom_truth():
    volume, truth = bone_phantom((24, 32, 32), "plates", thickness=4.0, spacing=16.0, noise=0.0)
    assert abs(truth["mask"].mean() - 0.25) < 0.01 and truth["bv_tv"] == 0.25
    assert volume.min() == 0 and volume.max() == 1
    np.testing.assert_allclose(volume.mean(), 0.25, atol=0.01)       # partial volume keeps BV
    np.testing.assert_array_equal(local_thickness(truth["mask"]) > 0, truth["mask"])
    with pytest.raises(ValueError, match="thickness"):
        bone_phantom(thickness=20, spacing=16)
    with pytest.raises(ValueError, match="kind"):
        bone_phantom(kind="foam")
