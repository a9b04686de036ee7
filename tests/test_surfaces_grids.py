"""Tests for the grids of qimcore.surfaces: sampling known volumes, round trips, meshes."""

import numpy as np
import pytest

from qimcore.data.synthetic import terrain
from qimcore.surfaces import (
    CurveNormalGrid,
    HeightGrid,
    MeshNormalGrid,
    PolarGrid,
    deform_mesh,
    detect_surfaces,
    edge_cost,
    heights_to_labels,
    heights_to_mesh,
    mesh_normals,
    normals_to_points,
    polar_radii,
    polar_to_points,
    polygon_area,
    ray_directions,
    sample_normals,
    sphere_mesh,
    unfold_polar,
)


def circle(n, centre=(0.0, 0.0), radius=1.0, phase=0.0):
    theta = phase + 2 * np.pi * np.arange(n) / n
    return np.asarray(centre) + radius * np.stack([np.sin(theta), np.cos(theta)], axis=-1)


def face_normals(vertices, faces):
    v = vertices.astype(np.float64)
    return np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])


def edge_counts(faces):
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), 1)
    return np.unique(edges, axis=0, return_counts=True)[1]


# ------------------------------------------------------------------------------ geometry
def test_polygon_area_exact_and_signed(rng):
    rect = np.array([[0, 0], [0, 4], [2, 4], [2, 0]], float)          # clockwise on screen
    assert polygon_area(rect) == 8 and polygon_area(rect, signed=True) == 8
    assert polygon_area(rect[::-1], signed=True) == -8
    for n in (3, 7, 50):
        r = rng.uniform(1, 10)
        regular = circle(n, rng.uniform(-5, 5, 2), r)
        assert polygon_area(regular) == pytest.approx(n / 2 * r * r * np.sin(2 * np.pi / n))
    stack = np.stack([rect, 2 * rect, rect[::-1]])
    assert polygon_area(stack).tolist() == [8, 32, 8]
    with pytest.raises(ValueError, match="curves"):
        polygon_area(rect[:2])


def test_ray_directions_match_the_polar_unfolding():
    d = ray_directions(8)
    assert d.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1)
    np.testing.assert_allclose(d[[0, 2]], [[0, 1], [1, 0]], atol=1e-15)   # +x, then +y
    pts = polar_to_points(np.ones(8), (0, 0), [0.0, 1.0], 8)
    np.testing.assert_array_equal(pts, d)


def test_polar_radii_inverts_polar_to_points(rng):
    for _ in range(5):
        n = int(rng.integers(8, 64))
        centre = rng.uniform(10, 20, 2)
        r = rng.uniform(3, 8, n)
        curve = polar_to_points(r, centre, np.arange(10.0), n)          # radii = indices
        np.testing.assert_allclose(polar_radii(curve, centre, n), r, atol=1e-9)
    # an ellipse with many points: its exact radius on the rays, up to the chords
    a, b = 7.0, 4.0
    t = np.linspace(0, 2 * np.pi, 2000, endpoint=False)
    ellipse = np.stack([b * np.sin(t), a * np.cos(t)], axis=-1) + 30
    theta = 2 * np.pi * np.arange(36) / 36
    exact = a * b / np.hypot(b * np.cos(theta), a * np.sin(theta))
    np.testing.assert_allclose(polar_radii(ellipse, (30, 30), 36), exact, atol=1e-4)
    both = polar_radii(np.stack([ellipse, ellipse - 5]), [(30, 30), (25, 25)], 36)
    np.testing.assert_allclose(both, [exact, exact], atol=1e-4)


def test_heights_to_labels_is_the_region_convention_of_detect_surfaces(rng):
    heights = np.sort(rng.integers(0, 12, (3, 5, 6)), axis=0)
    labels = heights_to_labels(heights, 12)
    assert labels.shape == (12, 5, 6) and labels.dtype == np.uint8
    z = np.arange(12)[:, None, None]
    for k in range(4):                                   # region k: h[k-1] <= z < h[k]
        lo = heights[k - 1] if k else np.zeros((5, 6), int)
        hi = heights[k] if k < 3 else np.full((5, 6), 12)
        np.testing.assert_array_equal(labels == k, (z >= lo) & (z < hi))
    # the labels of a region_cost solution are the cheapest labelling: each region pays 1
    # outside its own class, so a labelling of ordered regions is found exactly
    volume, truth = terrain((20, 6, 7), n_surfaces=2, noise=0.0, random_state=1)
    truth_labels = heights_to_labels(truth, 20)
    region = np.stack([(truth_labels != k) for k in range(3)]).astype(float)
    h = detect_surfaces(np.zeros((20, 6, 7)), n_surfaces=2, region_cost=region)
    np.testing.assert_array_equal(heights_to_labels(h, 20), truth_labels)
    with pytest.raises(ValueError, match="heights"):
        heights_to_labels(np.zeros((2, 3)), 4)


# ------------------------------------------------------------------------------ HeightGrid
def test_height_grid_finds_the_terrain_and_round_trips(rng):
    volume, truth = terrain((30, 12, 14), n_surfaces=2, noise=0.0, random_state=3)
    grid = HeightGrid(volume.shape)
    assert grid.wrap == () and grid.sample(volume).dtype == np.float32
    np.testing.assert_array_equal(grid.sample(volume), volume)
    h = detect_surfaces(edge_cost(grid.sample(volume), sigma=0), n_surfaces=2, min_distance=2)
    np.testing.assert_array_equal(h, truth)
    pts = grid.points(h)
    assert pts.shape == (2, 12, 14, 3)
    assert (pts[..., 0] == h).all() and (pts[0, 5, :, 1] == 5).all()
    assert (pts[1, :, 7, 2] == 7).all()
    np.testing.assert_array_equal(grid.heights(pts), h)
    frac = rng.uniform(0, 29, (12, 14))
    np.testing.assert_allclose(grid.heights(grid.points(frac)), frac)
    v, f = grid.mesh(h)
    v0, f0 = heights_to_mesh(h)
    np.testing.assert_array_equal(v, v0)
    np.testing.assert_array_equal(f, f0)


def test_height_grid_resamples_depths_linearly():
    z = np.arange(10, dtype=np.float32)[:, None, None]
    ramp = np.broadcast_to(3 * z + 1, (10, 4, 5))                   # intensity = 3 z + 1
    depths = np.linspace(2, 6, 9)                                   # half-voxel steps
    grid = HeightGrid(ramp.shape, depths)
    s = grid.sample(ramp)
    assert s.shape == (9, 4, 5)
    np.testing.assert_allclose(s[:, 2, 3], 3 * depths + 1, rtol=1e-6)
    pts = grid.points(np.full((4, 5), 3))
    assert (pts[..., 0] == 3.5).all()
    np.testing.assert_allclose(grid.heights(pts), 3)
    v, _ = grid.mesh(np.full((4, 5), 3))
    assert (v[:, 0] == 3.5).all()


def test_height_grid_on_images_and_bad_input():
    image, truth = terrain((20, 30), n_surfaces=1, noise=0.0, random_state=0)
    grid = HeightGrid(image.shape)
    h = detect_surfaces(edge_cost(grid.sample(image), sigma=0))
    np.testing.assert_array_equal(h, truth)
    assert grid.points(h).shape == (1, 30, 2)
    with pytest.raises(ValueError, match="mesh"):
        grid.mesh(h)
    with pytest.raises(ValueError, match="volume"):
        grid.sample(np.zeros((20, 31)))
    with pytest.raises(ValueError, match="heights"):
        grid.points(np.zeros(29))
    with pytest.raises(ValueError, match="heights"):
        grid.points(np.full(30, 20))
    with pytest.raises(ValueError, match="shape"):
        HeightGrid((20,))
    with pytest.raises(ValueError, match="depths"):
        HeightGrid((20, 30), depths=[3, 2])


# ------------------------------------------------------------------------------ PolarGrid
def test_polar_grid_samples_a_linear_image_exactly():
    yy, xx = np.mgrid[:40, :40].astype(np.float32)
    image = 2 * yy + xx                                             # bilinear is exact
    grid = PolarGrid((20.0, 18.5), np.arange(0, 12, 0.5), 16)
    pos = grid.positions
    assert pos.shape == (24, 16, 2)
    np.testing.assert_allclose(grid.sample(image), 2 * pos[..., 0] + pos[..., 1], rtol=1e-6)
    np.testing.assert_array_equal(grid.sample(image), unfold_polar(image, (20.0, 18.5),
                                                                   grid.radii, 16))
    np.testing.assert_array_equal(pos[5], polar_to_points(np.full(16, 5), (20.0, 18.5),
                                                          grid.radii, 16))


def test_polar_grid_round_trips_and_finds_a_ring(rng):
    yy, xx = np.mgrid[:41, :41]
    ring = (np.abs(np.hypot(yy - 20.3, xx - 19.6) - 12) < 3).astype(np.float32)
    grid = PolarGrid((20, 20), np.arange(0, 19, 0.5), 48)
    assert grid.wrap == (0,)
    cost = [edge_cost(grid.sample(ring), sigma=0),
            edge_cost(grid.sample(ring), sigma=0, polarity="bright-to-dark")]
    h = detect_surfaces(cost, min_distance=4, wrap=grid.wrap)
    dist = np.hypot(*(grid.points(h - 0.5) - (20.3, 19.6)).transpose(2, 0, 1))
    assert np.abs(dist[0] - 9).max() <= 0.75 and np.abs(dist[1] - 15).max() <= 0.75
    np.testing.assert_allclose(grid.heights(grid.points(h)), h, atol=1e-9)
    frac = rng.uniform(2, 30, 48)
    np.testing.assert_allclose(grid.heights(grid.points(frac)), frac, atol=1e-9)
    dense = circle(500, (20, 20), 7.25)                            # any number of points
    np.testing.assert_allclose(grid.heights(dense), 14.5, atol=1e-3)
    with pytest.raises(ValueError, match="mesh"):
        grid.mesh(h[0])                                            # a curve, not a tube


def test_polar_grid_tube_wraps_and_meshes_outwards():
    nz, n = 5, 24
    centres = np.stack([np.full(nz, 20.0), 18.0 + np.arange(nz)], axis=1)
    yy, xx = np.mgrid[:41, :41]
    vol = np.stack([(np.hypot(yy - c[0], xx - c[1]) < 8 + 0.5 * k).astype(np.float32)
                    for k, c in enumerate(centres)])
    grid = PolarGrid(centres, np.arange(0, 16, 0.5), n)
    assert grid.wrap == (1,) and grid.positions.shape == (32, nz, n, 2)
    u = grid.sample(vol)
    assert u.shape == (32, nz, n)
    h = detect_surfaces(edge_cost(u, sigma=0, polarity="bright-to-dark"), delta=(2, 1),
                        wrap=grid.wrap)[0]
    r = np.hypot(*(grid.points(h - 0.5) - centres[:, None]).transpose(2, 0, 1))
    assert np.abs(r - (8 + 0.5 * np.arange(nz))[:, None]).max() <= 0.75
    np.testing.assert_allclose(grid.heights(grid.points(h)), h, atol=1e-9)
    v, f = grid.mesh(h, z=np.arange(nz) * 2.0)
    assert v.shape == (nz * n, 3) and f.shape == (2 * (nz - 1) * n, 3)
    assert v.dtype == np.float32 and (v[:n, 0] == 0).all() and (v[-n:, 0] == 8).all()
    counts = edge_counts(f)
    assert (counts <= 2).all() and (counts == 1).sum() == 2 * n    # open only at both ends
    axis = np.concatenate([np.repeat(np.arange(nz) * 2.0, n)[:, None],
                           np.repeat(centres, n, axis=0)], axis=1)
    outward = (v[f].mean(1) - axis[f].mean(1))[:, 1:]
    assert (np.sum(face_normals(v, f)[:, 1:] * outward, axis=1) > 0).all()
    two, _ = grid.mesh(np.stack([h, h + 2]))
    assert two.shape == (2 * nz * n, 3)


# ------------------------------------------------------------------------- CurveNormalGrid
def test_curve_normal_grid_samples_exactly_and_round_trips(rng):
    yy, xx = np.mgrid[:40, :40].astype(np.float32)
    image = yy - 3 * xx
    curve = circle(30, (20, 21), 6, phase=0.1)
    offsets = np.arange(-3, 5, 0.5)
    grid = CurveNormalGrid(curve, offsets)
    pos = grid.positions
    assert grid.wrap == (0,) and pos.shape == (16, 30, 2)
    np.testing.assert_allclose(grid.sample(image), pos[..., 0] - 3 * pos[..., 1], atol=1e-4)
    np.testing.assert_array_equal(grid.sample(image), sample_normals(image, curve, offsets))
    np.testing.assert_allclose(np.hypot(*(pos - (20, 21)).transpose(2, 0, 1)),
                               (6 + offsets[:, None]) * np.ones(30), atol=0.05)
    frac = rng.uniform(0, 15, 30)
    np.testing.assert_allclose(grid.heights(grid.points(frac)), frac, atol=1e-9)
    np.testing.assert_array_equal(grid.points(frac), normals_to_points(frac, curve, offsets))


@pytest.mark.parametrize("reverse", [False, True])
def test_curve_normal_grid_tube_meshes_outwards(reverse):
    nz, n = 4, 20
    curves = np.stack([circle(n, (15, 15), 5 + k) for k in range(nz)])
    if reverse:
        curves = curves[:, ::-1]
    grid = CurveNormalGrid(curves, np.arange(-2, 3.0))
    assert grid.wrap == (1,)
    h = np.full((nz, n), 2)
    v, f = grid.mesh(h)
    assert v.shape == (nz * n, 3) and (edge_counts(f) == 1).sum() == 2 * n
    outward = v[f].mean(1)[:, 1:] - 15
    assert (np.sum(face_normals(v, f)[:, 1:] * outward, axis=1) > 0).all()
    with pytest.raises(ValueError, match="mesh"):
        CurveNormalGrid(curves[0], [0, 1]).mesh(h[0])


# -------------------------------------------------------------------------- MeshNormalGrid
def test_mesh_normal_grid_samples_round_trips_and_detects(rng):
    vertices, faces = sphere_mesh((15, 15, 15), 6, subdivisions=2)
    offsets = np.arange(-2, 6, 0.5)
    grid = MeshNormalGrid(vertices, faces, offsets)
    pos = grid.positions
    assert pos.shape == (16, len(vertices), 3)
    np.testing.assert_allclose(grid.normals, mesh_normals(vertices, faces))
    z = np.arange(30, dtype=np.float32)
    linear = z[:, None, None] + 2 * z[None, :, None] - z[None, None, :]
    np.testing.assert_allclose(grid.sample(linear), pos @ [1, 2, -1], atol=1e-3)
    frac = rng.uniform(0, 15, len(vertices))
    np.testing.assert_allclose(grid.heights(grid.points(frac)), frac, atol=1e-9)
    zz, yy, xx = np.ogrid[:30, :30, :30]
    ball = ((zz - 15) ** 2 + (yy - 15) ** 2 + (xx - 15) ** 2 < 81).astype(np.float32)
    cost = rng.random((16, len(vertices)))
    k = grid.detect(cost, delta=1)
    np.testing.assert_array_equal(grid.points(k),
                                  deform_mesh(ball, vertices, faces, offsets, cost=cost))
    k = grid.detect(edge_cost(grid.sample(ball), sigma=0, polarity="bright-to-dark"))
    moved, same = grid.mesh(k - 0.5)
    assert same is grid.faces
    assert np.abs(np.linalg.norm(moved - 15, axis=1) - 9).max() <= 0.75
    with pytest.raises(ValueError, match="cost"):
        grid.detect(cost[:, :-1])
    with pytest.raises(ValueError, match="offsets"):
        MeshNormalGrid(vertices, faces, [1.0])
