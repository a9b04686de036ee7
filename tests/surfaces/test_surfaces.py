"""Tests for qimcore.surfaces: exactness by brute force, synthetic truth, resampling."""

import itertools

import numpy as np
import pytest

from qimcore.data.synthetic import terrain
from qimcore.surfaces import (
    curve_normals,
    detect_surfaces,
    normals_to_points,
    polar_to_points,
    sample_normals,
    unfold_polar,
)


def energy(heights, costs, region_cost=None):
    """Total cost of a batch of solutions ``heights`` (B, n) + S (brute-force reference)."""
    h = np.asarray(heights)
    batch, n = h.shape[:2]
    flat = h.reshape(batch, n, -1)
    total = np.zeros(batch)
    for i in range(n):
        c = np.asarray(costs[i]).reshape(costs[i].shape[0], -1)
        total += c[flat[:, i], np.arange(flat.shape[2])].sum(axis=1)
    if region_cost is not None:
        depth = region_cost.shape[1]
        z = np.arange(depth)[None, None, :, None]
        k = (flat[:, :, None, :] <= z).sum(axis=1)                 # (B, Z, P) region index
        r = region_cost.reshape(n + 1, depth, -1)
        total += r[k, np.arange(depth)[:, None], np.arange(flat.shape[2])].sum(axis=(1, 2))
    return total


def smooth_ok(h, delta, wrap):
    """Smoothness mask for a batch (B, n) + S."""
    ok = np.ones(h.shape[0], bool)
    for axis, d in enumerate(delta):
        ax = axis + 2
        diffs = [np.diff(h, axis=ax)]
        if axis in wrap and h.shape[ax] > 2:
            diffs.append(np.take(h, [0], axis=ax) - np.take(h, [-1], axis=ax))
        for diff in diffs:
            ok &= (np.abs(diff) <= d).reshape(h.shape[0], -1).all(axis=1)
    return ok


def feasible(depth, cols, n, delta, wrap, min_distance, max_distance):
    """All feasible solutions (B, n) + cols by enumeration."""
    size = int(np.prod(cols))
    single = np.array(list(itertools.product(range(depth), repeat=size))).reshape((-1, 1) + cols)
    single = single[smooth_ok(single, delta, wrap)][:, 0]
    index = np.array(list(itertools.product(range(len(single)), repeat=n)))
    sols = single[index]                                          # (B, n) + cols
    gaps = np.diff(sols, axis=1).reshape(len(sols), -1)
    ok = (gaps >= min_distance).all(axis=1)
    if max_distance is not None:
        ok &= (gaps <= max_distance).all(axis=1)
    return sols[ok]


def check_exact(cost, n=1, delta=1, min_distance=1, max_distance=None, region_cost=None,
                wrap=()):
    costs = list(cost) if isinstance(cost, list) else [cost] * n
    depth, cols = costs[0].shape[0], costs[0].shape[1:]
    deltas = (delta,) * len(cols) if isinstance(delta, int) else delta
    h = detect_surfaces(cost, n_surfaces=n, delta=delta, min_distance=min_distance,
                        max_distance=max_distance, region_cost=region_cost, wrap=wrap)
    assert h.shape == (len(costs),) + cols and h.dtype == np.int64
    sols = feasible(depth, cols, len(costs), deltas, wrap, min_distance, max_distance)
    assert smooth_ok(h[None], deltas, wrap)[0]
    gaps = np.diff(h, axis=0)
    assert (gaps >= min_distance).all() and (h >= 0).all() and (h < depth).all()
    if max_distance is not None:
        assert (gaps <= max_distance).all()
    best = energy(sols, costs, region_cost).min()
    assert energy(h[None], costs, region_cost)[0] == pytest.approx(best, abs=1e-9)
    return h


@pytest.mark.parametrize("wrap", [(), (0,)])
@pytest.mark.parametrize("delta", [0, 1, 2])
def test_single_curve_is_global_optimum(rng, wrap, delta):
    cost = rng.normal(size=(6, 5))                       # negative costs too
    check_exact(cost, delta=delta, wrap=wrap)


def test_single_curve_matches_style_example(rng):
    cost = rng.random((5, 4))
    ok = [h for h in itertools.product(range(5), repeat=4)
          if all(abs(a - b) <= 1 for a, b in zip(h, h[1:], strict=False))]
    best = min(ok, key=lambda h: cost[h, range(4)].sum())
    assert detect_surfaces(cost, delta=1)[0].tolist() == list(best)


@pytest.mark.parametrize("wrap", [(), (0,)])
@pytest.mark.parametrize(("min_distance", "max_distance"), [(0, None), (1, None), (2, 3)])
def test_two_curves_with_region_cost_are_optimal(rng, wrap, min_distance, max_distance):
    cost = rng.normal(size=(6, 4))
    region = rng.normal(size=(3, 6, 4))
    check_exact(cost, n=2, min_distance=min_distance, max_distance=max_distance,
                region_cost=region, wrap=wrap)


def test_per_surface_costs_are_optimal(rng):
    costs = [rng.normal(size=(6, 4)), rng.normal(size=(6, 4)) * 3]
    h = check_exact(costs, min_distance=1, wrap=(0,))
    assert h.shape == (2, 4)


def test_region_cost_alone_splits_at_the_step():
    region = np.zeros((2, 6, 5))
    region[0, 3:] = 1     # below the surface is cheap only for z < 3
    region[1, :3] = 1     # above the surface is cheap only for z >= 3
    h = check_exact(np.zeros((6, 5)), region_cost=region)
    assert h.tolist() == [[3] * 5]


@pytest.mark.parametrize(("delta", "wrap"), [(1, ()), ((0, 1), (1,)), ((1, 2), (0, 1))])
def test_terrain_surface_3x3_is_optimal(rng, delta, wrap):
    cost = rng.normal(size=(4, 3, 3))
    region = rng.normal(size=(2, 4, 3, 3))
    check_exact(cost, delta=delta, region_cost=region, wrap=wrap)


def test_two_terrain_surfaces_2x3_are_optimal(rng):
    cost = rng.normal(size=(4, 2, 3))
    region = rng.normal(size=(3, 4, 2, 3))
    check_exact(cost, n=2, min_distance=1, max_distance=2, region_cost=region, wrap=(1,))


def test_integer_costs_give_the_exact_integer_minimum(rng):
    cost = rng.integers(-50, 50, size=(6, 5)).astype(float)
    h = check_exact(cost, n=2, min_distance=2, wrap=(0,))
    assert float(energy(h[None], [cost, cost])[0]).is_integer()


@pytest.mark.parametrize("shape", [(30, 40), (24, 20, 22)])
def test_synthetic_terrain_recovered(shape):
    vol, truth = terrain(shape, n_surfaces=2, min_distance=3, noise=0.25, random_state=1)
    means = np.arange(3)[:, None] / 2
    region = (vol[None] - means.reshape((3, 1) + (1,) * (vol.ndim - 1))) ** 2
    h = detect_surfaces(np.zeros(vol.shape), n_surfaces=2, min_distance=3, region_cost=region)
    assert np.abs(h - truth).mean() < 0.5
    edge = -np.diff(vol, axis=0, prepend=vol[:1])      # a step up at z costs -(v[z] - v[z-1])
    h = detect_surfaces(edge, n_surfaces=2, min_distance=3)
    assert np.abs(h - truth).mean() < 0.5


def test_terrain_truth_satisfies_constraints():
    vol, h = terrain((40, 30, 30), n_surfaces=3, delta=2, min_distance=4, noise=0.0,
                     random_state=3)
    assert (np.diff(h, axis=0) >= 4).all()
    assert (np.abs(np.diff(h, axis=1)) <= 2).all() and (np.abs(np.diff(h, axis=2)) <= 2).all()
    np.testing.assert_allclose(np.unique(vol), [0, 1 / 3, 2 / 3, 1], rtol=1e-6)
    region = (np.arange(40)[:, None, None] >= h[:, None]).sum(axis=0)
    np.testing.assert_allclose(vol, region / 3, rtol=1e-6)


def _ring(shape=(41, 41), centre=(20.3, 19.6), radius=11.0, width=4.0):
    yy, xx = np.indices(shape)
    r = np.hypot(yy - centre[0], xx - centre[1])
    return ((r >= radius) & (r < radius + width)).astype(np.float32), r


def test_polar_unfold_finds_a_circle_and_maps_back():
    img, _ = _ring()
    radii = np.arange(0, 19, 0.5)
    u = unfold_polar(img, (20, 20), radii, 48)
    assert u.shape == (len(radii), 48) and u.dtype == np.float32
    edge = -np.diff(u, axis=0, prepend=u[:1])           # dark-to-bright going outwards
    h = detect_surfaces([edge, -edge], min_distance=4, wrap=0)
    pts = polar_to_points(h, (20, 20), radii, 48)
    assert pts.shape == (2, 48, 2)
    dist = np.hypot(pts[..., 0] - 20.3, pts[..., 1] - 19.6)
    assert np.abs(dist[0] - 11).max() <= 1.0 and np.abs(dist[1] - 15).max() <= 1.0


def test_polar_to_points_inverts_unfold_polar(rng):
    img = rng.random((30, 31)).astype(np.float32)
    radii = np.linspace(0, 9, 10)
    u = unfold_polar(img, (15.5, 14.2), radii, 12)
    h = rng.integers(0, 10, size=12)
    pts = polar_to_points(h, (15.5, 14.2), radii, 12)
    from scipy import ndimage as ndi
    direct = ndi.map_coordinates(img, pts.T, order=1)
    np.testing.assert_allclose(u[h, np.arange(12)], direct, rtol=1e-6)
    mid = polar_to_points(np.full(12, 2.5), (0, 0), radii, 12)   # fractional index
    np.testing.assert_allclose(np.hypot(*mid.T), 2.5)


def test_tube_unfold_with_centre_line():
    z = 5
    centres = np.stack([np.full(z, 20.0), 18.0 + np.arange(z)], axis=1)
    vol = np.stack([_ring(centre=tuple(c), radius=8 + 0.5 * k)[0]
                    for k, c in enumerate(centres)])
    radii = np.arange(0, 16, 0.5)
    u = unfold_polar(vol, centres, radii, 32)
    assert u.shape == (len(radii), z, 32)
    np.testing.assert_array_equal(u[:, 2], unfold_polar(vol[2], centres[2], radii, 32))
    edge = -np.diff(u, axis=0, prepend=u[:1])
    h = detect_surfaces(edge, delta=(2, 1), wrap=1)
    pts = polar_to_points(h[0], centres, radii, 32)
    assert pts.shape == (z, 32, 2)
    dist = np.hypot(*(pts - centres[:, None]).transpose(2, 0, 1))
    assert np.abs(dist - (8 + 0.5 * np.arange(z))[:, None]).max() <= 1.0


def test_curve_normals_point_outward_either_orientation():
    theta = 2 * np.pi * np.arange(20) / 20
    circle = np.stack([3 + 5 * np.sin(theta), -1 + 5 * np.cos(theta)], axis=1)
    radial = np.stack([np.sin(theta), np.cos(theta)], axis=1)
    np.testing.assert_allclose(curve_normals(circle), radial, atol=1e-12)
    np.testing.assert_allclose(curve_normals(circle[::-1]), radial[::-1], atol=1e-12)
    stacked = curve_normals(np.stack([circle, circle[::-1]]))
    np.testing.assert_allclose(stacked[1], radial[::-1], atol=1e-12)


def test_sample_normals_refines_a_curve_and_maps_back():
    img, r = _ring()
    curve = polar_to_points(np.full(40, 9), (20, 20), np.arange(20), 40)   # rough guess
    offsets = np.arange(-4, 9, 0.5)
    s = sample_normals(img, curve, offsets)
    assert s.shape == (len(offsets), 40) and s.dtype == np.float32
    edge = -np.diff(s, axis=0, prepend=s[:1])
    h = detect_surfaces(edge, wrap=0)
    pts = normals_to_points(h[0], curve, offsets)
    assert pts.shape == (40, 2)
    dist = np.hypot(pts[:, 0] - 20.3, pts[:, 1] - 19.6)
    assert np.abs(dist - 11).max() <= 1.0
    stack = sample_normals(np.stack([img, img]), np.stack([curve, curve]), offsets)
    assert stack.shape == (len(offsets), 2, 40)
    np.testing.assert_array_equal(stack[:, 1], s)
    both = normals_to_points(np.stack([h[0], h[0]]), np.stack([curve, curve]), offsets)
    np.testing.assert_allclose(both[1], pts)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"cost": np.full((4, 3), np.nan)}, "cost"),
    ({"cost": np.array([[0, np.inf, 0]] * 4)}, "cost"),
    ({"cost": np.zeros(4)}, "cost"),
    ({"cost": np.zeros((4, 3)), "n_surfaces": 3, "min_distance": 2}, "min_distance"),
    ({"cost": np.zeros((4, 3)), "n_surfaces": 0}, "n_surfaces"),
    ({"cost": np.zeros((4, 3)), "delta": -1}, "delta"),
    ({"cost": np.zeros((4, 3, 2)), "delta": (1, 2, 3)}, "delta"),
    ({"cost": np.zeros((4, 3)), "wrap": 1}, "wrap"),
    ({"cost": np.zeros((4, 3)), "wrap": (-1,)}, "wrap"),
    ({"cost": np.zeros((4, 3)), "region_cost": np.zeros((1, 4, 3))}, "region_cost"),
    ({"cost": np.zeros((4, 3)), "region_cost": np.full((2, 4, 3), np.nan)}, "region_cost"),
    ({"cost": np.zeros((6, 3)), "n_surfaces": 2, "min_distance": 2, "max_distance": 1},
     "max_distance"),
    ({"cost": [np.zeros((4, 3)), np.zeros((5, 3))]}, "cost"),
])
def test_bad_input_raises_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        detect_surfaces(**kwargs)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"cost": np.array([["a"]])}, "cost"),
    ({"cost": np.zeros((4, 3)), "delta": 1.5}, "delta"),
    ({"cost": np.zeros((4, 3)), "min_distance": 1.0}, "min_distance"),
])
def test_bad_types_raise_type_error(kwargs, match):
    with pytest.raises(TypeError, match=match):
        detect_surfaces(**kwargs)


def test_bad_resampling_input_raises():
    img = np.zeros((10, 10))
    with pytest.raises(ValueError, match="center"):
        unfold_polar(img, (1, 2, 3), np.arange(3), 4)
    with pytest.raises(ValueError, match="n_angles"):
        unfold_polar(img, (5, 5), np.arange(3), 0)
    with pytest.raises(ValueError, match="heights"):
        polar_to_points([0, 5], (5, 5), np.arange(3), 2)
    with pytest.raises(ValueError, match="curve"):
        curve_normals(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="curve"):
        sample_normals(np.zeros((3, 10, 10)), [[1, 1], [1, 5], [5, 5]], [0, 1])
    with pytest.raises(ValueError, match="image"):
        sample_normals(np.full((10, 10), np.nan), [[1, 1], [1, 5], [5, 5]], [0, 1])
    with pytest.raises(ValueError, match="heights"):
        normals_to_points([0, 1], [[1, 1], [1, 5], [5, 5]], [0, 1])
