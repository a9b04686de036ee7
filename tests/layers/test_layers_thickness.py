"""qimcore.layers.local_thickness: exact against brute force, numpy and dask."""

import dask.array as da
import numpy as np
import pytest
from scipy import ndimage as ndi

from qimcore.layers import local_thickness


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


@pytest.mark.parametrize("seed", range(6))
def test_local_thickness_exact_on_random_shapes(seed):
    """Random blobs, random anisotropic voxels: equal to painting every voxel's sphere."""
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(6, 14, 3))
    mask = ndi.gaussian_filter(rng.random(shape), rng.uniform(0.7, 2.0)) > rng.uniform(0.4, 0.6)
    sizes = tuple(rng.choice([0.5, 1.0, 1.5, 2.0], 3))
    np.testing.assert_allclose(local_thickness(mask, voxel_size=sizes),
                               _brute_local_thickness(mask, sizes), atol=1e-4)


def test_local_thickness_edge_cases():
    assert not local_thickness(np.zeros((4, 5, 6), bool)).any()
    one = np.zeros((5, 5, 5), bool)
    one[2, 2, 2] = True
    assert local_thickness(one)[2, 2, 2] == 1.5                     # 2 * EDT - 1/2
    full = np.ones((3, 4), bool)                                    # outside is background
    np.testing.assert_allclose(local_thickness(full), _brute_local_thickness(full, (1.0, 1.0)))
