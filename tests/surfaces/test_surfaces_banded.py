"""Tests for qimcore.surfaces.detect_surfaces_banded: equals the full solve inside the band."""

import itertools

import numpy as np
import pytest
from scipy import ndimage as ndi

from qimcore.surfaces import detect_surfaces, detect_surfaces_banded


def smooth_cost(rng, shape, planted):
    """Smooth random cost with a cheap planted surface ``planted`` (S,) of depths."""
    cost = ndi.gaussian_filter(rng.normal(size=shape), 2.0)
    z = np.arange(shape[0]).reshape((-1,) + (1,) * (len(shape) - 1))
    return cost - 2.0 * np.exp(-0.5 * (z - planted) ** 2)


def energy(cost, heights):
    flat = cost.reshape(cost.shape[0], -1)
    return flat[heights.reshape(-1), np.arange(flat.shape[1])].sum()


@pytest.mark.parametrize("factor", [1, 2, 3])
def test_banded_equals_full_solve_when_band_holds_optimum(rng, factor):
    yy, xx = np.mgrid[:20, :23]
    planted = 20 + 6 * np.sin(yy / 5.0) + 4 * np.cos(xx / 6.0)
    cost = smooth_cost(rng, (48, 20, 23), planted)
    full = detect_surfaces(cost, delta=2)
    result = detect_surfaces_banded(cost, delta=2, band=12 if factor > 1 else 23,
                                    factor=factor)
    assert not result.at_band_edge.any()
    assert energy(cost, result.heights[0]) == pytest.approx(energy(cost, full[0]))
    assert np.array_equal(result.heights, full)


def test_banded_two_surfaces_with_distances_equal_full(rng):
    xx = np.arange(40)
    cost = ndi.gaussian_filter(rng.normal(size=(60, 40)), 2.0)
    z = np.arange(60)[:, None]
    low, high = 18 + 4 * np.sin(xx / 6.0), 34 + 3 * np.cos(xx / 5.0)
    costs = [cost - 2 * np.exp(-0.5 * (z - low) ** 2), cost - 2 * np.exp(-0.5 * (z - high) ** 2)]
    kwargs = dict(delta=1, min_distance=8, max_distance=22)
    full = detect_surfaces(costs, **kwargs)
    result = detect_surfaces_banded(costs, band=10, factor=2, **kwargs)
    assert not result.at_band_edge.any()
    assert np.array_equal(result.heights, full)


@pytest.mark.parametrize("delta", [0, 1])
def test_banded_is_exact_optimum_within_its_band_by_brute_force(rng, delta):
    cost = rng.random((16, 5))
    result = detect_surfaces_banded(cost, delta=delta, band=1, factor=2)
    lower = result.band_lower[0]
    rows = lower + np.array(list(itertools.product(range(3), repeat=5)))     # 3**5 surfaces
    ok = rows[np.all(np.abs(np.diff(rows, axis=1)) <= delta, axis=1)]
    best = min(cost[h, range(5)].sum() for h in ok)
    assert np.all((result.heights[0] >= lower) & (result.heights[0] < lower + 3))
    assert energy(cost, result.heights[0]) == pytest.approx(best)


def test_band_edge_flag_when_forced_against_edge():
    cost = np.tile(np.linspace(1.0, 0.0, 50)[:, None], (1, 9))   # cheapest at the bottom row
    result = detect_surfaces_banded(cost, band=3, factor=1)      # band centred at mid-depth
    assert result.at_band_edge.all()
    assert np.all(result.heights == 24 + 3)


def test_wrap_is_supported(rng):
    n = 24
    angle = np.arange(n)
    cost = smooth_cost(rng, (30, n), 14 + 6 * np.sin(2 * np.pi * angle / n))
    full = detect_surfaces(cost, wrap=0)
    result = detect_surfaces_banded(cost, band=8, factor=2, wrap=0)
    assert np.array_equal(result.heights, full)


def test_bad_input():
    cost = np.zeros((10, 8))
    with pytest.raises(ValueError, match="band"):
        detect_surfaces_banded(cost, band=0)
    with pytest.raises(ValueError, match="factor"):
        detect_surfaces_banded(cost, factor=0)
    with pytest.raises(ValueError, match="delta"):
        detect_surfaces_banded(cost, delta=-1)
    with pytest.raises(ValueError, match="max_distance"):
        detect_surfaces_banded(cost, n_surfaces=2, min_distance=3, max_distance=2)
    with pytest.raises(ValueError, match="cost"):
        detect_surfaces_banded(np.full((10, 8), np.nan))


def test_infeasible_band_raises():
    from qimcore.surfaces._graph import _grid_pairs, _solve_band

    costs = [np.zeros((3, 4))]
    lower = np.array([[0, 0, 10, 10]])          # columns 1 and 2 are 10 apart, delta = 1
    with pytest.raises(ValueError, match="band"):
        _solve_band(costs, lower, _grid_pairs((4,), (1,), ()), 1, None)
