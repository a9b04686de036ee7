"""Tests for the costs of qimcore.surfaces: known edges, class boundaries, segmentations."""

import dask.array as da
import numpy as np
import pytest
from scipy import ndimage as ndi

from qimcore.data.synthetic import terrain
from qimcore.surfaces import (
    PolarGrid,
    detect_surfaces,
    edge_cost,
    probability_cost,
    region_cost,
)


def steps(rng, depth=24, n=40):
    """Columns with one step at a random height ``edge``: 0 below, 1 from ``edge`` on."""
    edge = rng.integers(1, depth, n)
    z = np.arange(depth)[:, None]
    return (z >= edge).astype(np.float32), edge


@pytest.mark.parametrize("sigma", [0.0, 0.7, 1.5, 3.0])
def test_step_edge_is_cheapest_at_the_edge_for_its_polarity(rng, sigma):
    up, edge = steps(rng)
    sigma = (sigma, 0.0)                                     # columns are independent
    cols = np.arange(up.shape[1])
    for image, right, wrong in ((up, "dark-to-bright", "bright-to-dark"),
                                (1 - up, "bright-to-dark", "dark-to-bright")):
        cost = edge_cost(image, sigma, right)
        assert cost.shape == image.shape and cost.dtype == np.float32
        np.testing.assert_array_equal(cost.argmin(axis=0), edge)
        assert (cost[edge, cols] < 0).all()
        assert (edge_cost(image, sigma, wrong)[edge, cols] > 0).all()   # wrong way: penalty
        np.testing.assert_array_equal(edge_cost(image, sigma, "any").argmin(axis=0), edge)
    assert (edge_cost(up, sigma, "bright-to-dark", clip=True) == 0).all()
    np.testing.assert_array_equal(edge_cost(up, sigma, clip=True), edge_cost(up, sigma))


def test_edge_cost_finds_a_noise_free_terrain_exactly():
    for seed in range(4):
        volume, truth = terrain((24, 10, 12), n_surfaces=2, noise=0.0, random_state=seed)
        h = detect_surfaces(edge_cost(volume, sigma=0), n_surfaces=2, min_distance=2)
        np.testing.assert_array_equal(h, truth)
        h = detect_surfaces(edge_cost(volume, sigma=0.5), n_surfaces=2, min_distance=2)
        np.testing.assert_array_equal(h, truth)


def test_edge_cost_is_the_backward_difference_of_the_smoothed_image(rng):
    image = rng.random((12, 9, 7)).astype(np.float32)
    smooth = ndi.gaussian_filter(image, 1.2, mode="nearest")
    np.testing.assert_array_equal(edge_cost(image, 1.2), -np.diff(smooth, axis=0,
                                                                  prepend=smooth[:1]))
    per_axis = ndi.gaussian_filter(image, (1.0, 0.0, 2.0), mode="nearest")
    np.testing.assert_array_equal(edge_cost(image, (1.0, 0.0, 2.0), "bright-to-dark"),
                                  np.diff(per_axis, axis=0, prepend=per_axis[:1]))
    assert edge_cost(image.astype(np.float64), 0).dtype == np.float64
    assert edge_cost(np.arange(6).reshape(3, 2), 0).dtype == np.float32


def test_edge_cost_of_dask_volume_equals_numpy(rng):
    image = rng.random((30, 20, 16)).astype(np.float32)
    lazy = edge_cost(da.from_array(image, chunks=(8, 7, 16)), 1.5, "bright-to-dark")
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(lazy.compute(), edge_cost(image, 1.5, "bright-to-dark"))


def test_probability_cost_is_cheapest_at_class_boundaries(rng):
    depth, n = 30, 25
    edge0 = rng.integers(3, 12, n)
    edge1 = edge0 + rng.integers(4, 15, n)
    z = np.arange(depth)[:, None]
    labels = 1 + (z >= edge0).astype(int) + (z >= edge1)                    # 1, 2, 3 upwards
    onehot = np.stack([(labels == k) for k in (1, 2, 3)]).astype(np.float32)
    cost = probability_cost(onehot, [1, 2, 3])
    assert len(cost) == 2 and cost[0].shape == (depth, n)
    np.testing.assert_array_equal(cost[0].argmin(axis=0), edge0)
    np.testing.assert_array_equal(cost[1].argmin(axis=0), edge1)
    assert cost[0].min() == -1 and cost[1].min() == -1
    np.testing.assert_array_equal(detect_surfaces(cost, delta=20), [edge0, edge1])
    soft = ndi.gaussian_filter1d(onehot, 1.0, axis=1)                       # blurred classes
    soft /= soft.sum(axis=0)
    np.testing.assert_array_equal(detect_surfaces(probability_cost(soft, [1, 2, 3]), delta=20),
                                  [edge0, edge1])
    flipped = probability_cost(onehot, [3, 2, 1])                          # wrong order
    assert (flipped[0][edge1, np.arange(n)] > 0).all()


def test_probability_cost_on_a_polar_grid_finds_a_ring():
    yy, xx = np.mgrid[:41, :41]
    r = np.hypot(yy - 20, xx - 21)
    classes = np.stack([r < 6, (r >= 6) & (r < 11), r >= 11]).astype(np.float32)
    grid = PolarGrid((20, 21), np.arange(0, 16, 0.25), 36)
    samples = np.stack([grid.sample(c) for c in classes])
    h = detect_surfaces(probability_cost(samples, [1, 2, 3]), wrap=grid.wrap)
    radius = np.hypot(*(grid.points(h - 0.5) - (20, 21)).transpose(2, 0, 1))
    assert np.abs(radius[0] - 6).max() <= 0.75 and np.abs(radius[1] - 11).max() <= 0.75


def test_region_cost_gives_the_exact_known_segmentation(rng):
    for seed in range(3):
        volume, truth = terrain((24, 8, 9), n_surfaces=2, noise=0.0, random_state=seed)
        region = region_cost(volume, [0.0, 0.5, 1.0], weight=2.0)
        assert region.shape == (3,) + volume.shape and region.dtype == np.float32
        h = detect_surfaces(np.zeros(volume.shape), n_surfaces=2, min_distance=2,
                            region_cost=region)
        np.testing.assert_array_equal(h, truth)
    z = np.arange(20)[:, None]
    image = ((z >= 7) & (z < 13)).astype(np.float32) * np.ones((1, 6))       # a bright slab
    image += rng.normal(0, 0.2, image.shape).astype(np.float32)
    region = region_cost(image, [None, 1.0, 0.0])                          # region 0: free
    assert (region[0] == 0).all()
    h = detect_surfaces(np.zeros(image.shape), n_surfaces=2, region_cost=region)
    assert (h[1] == 13).all()


def test_bad_cost_input_raises():
    image = np.zeros((5, 4))
    with pytest.raises(ValueError, match="polarity"):
        edge_cost(image, polarity="up")
    with pytest.raises(ValueError, match="sigma"):
        edge_cost(image, sigma=-1)
    with pytest.raises(ValueError, match="sigma"):
        edge_cost(image, sigma=(1, 2, 3))
    with pytest.raises(ValueError, match="image"):
        edge_cost(np.full((5, 4), np.nan))
    with pytest.raises(ValueError, match="means"):
        region_cost(image, [0.5])
    with pytest.raises(ValueError, match="weight"):
        region_cost(image, [0, 1], weight=-1)
    with pytest.raises(ValueError, match="labels"):
        probability_cost(np.zeros((2, 5, 4)), [1, 3])
    with pytest.raises(ValueError, match="labels"):
        probability_cost(np.zeros((2, 5, 4)), [1])
    with pytest.raises(ValueError, match="probabilities"):
        probability_cost(np.zeros((5, 4)), [1, 2])
