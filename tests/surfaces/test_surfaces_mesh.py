"""Tests for qimcore.surfaces meshes: deform_mesh exactness by brute force, sphere truth."""

import itertools

import numpy as np
import pytest
from scipy import ndimage as ndi

from qimcore.surfaces import deform_mesh, mask_mesh, mesh_normals, sphere_mesh


def octahedron():
    v = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], float)
    f = np.array([[0, 2, 4], [0, 4, 3], [0, 3, 5], [0, 5, 2],
                  [1, 4, 2], [1, 3, 4], [1, 5, 3], [1, 2, 5]])
    return v, f


def test_octahedron_normals_point_outwards():
    v, f = octahedron()
    assert np.allclose(mesh_normals(v, f), v)


@pytest.mark.parametrize("delta", [0, 1, 2])
def test_deform_mesh_is_global_optimum_by_brute_force(rng, delta):
    v, f = octahedron()
    offsets = np.arange(4.0)
    cost = rng.random((4, 6))
    edges = {tuple(sorted((int(a), int(b)))) for t in f for a, b in ((t[0], t[1]), (t[1], t[2]),
                                                                     (t[2], t[0]))}
    ok = [k for k in itertools.product(range(4), repeat=6)
          if all(abs(k[a] - k[b]) <= delta for a, b in edges)]
    best = min(ok, key=lambda k: cost[list(k), range(6)].sum())
    moved = deform_mesh(np.zeros((3, 3, 3)), v, f, offsets, delta=delta, cost=cost)
    got = np.rint(np.linalg.norm(moved, axis=1) - 1).astype(int)
    assert cost[got, range(6)].sum() == pytest.approx(cost[list(best), range(6)].sum())
    assert all(abs(got[a] - got[b]) <= delta for a, b in edges)


def test_sphere_mesh_is_closed_and_outward():
    v, f = sphere_mesh((5.0, 6.0, 7.0), 3.0, subdivisions=2)
    assert v.shape == (162, 3) and f.shape == (320, 3)
    assert np.allclose(np.linalg.norm(v - (5, 6, 7), axis=1), 3)
    # closed: every edge is shared by exactly two faces (Euler V - E + F = 2)
    edges = np.unique(np.sort(np.concatenate([f[:, :2], f[:, 1:], f[:, ::2]]), axis=1), axis=0)
    assert len(v) - len(edges) + len(f) == 2
    assert np.all(np.sum(mesh_normals(v, f) * (v - (5, 6, 7)), axis=1) > 0.99 * 3)


@pytest.mark.parametrize("radius0", [7.0, 13.0])
def test_noisy_sphere_found_from_wrong_radius(rng, radius0):
    z, y, x = np.ogrid[:40, :40, :40]
    ball = ((z - 20.3) ** 2 + (y - 19.6) ** 2 + (x - 20.0) ** 2 < 10.0 ** 2).astype(np.float32)
    volume = ndi.gaussian_filter(ball, 1.0) + rng.normal(0, 0.1, ball.shape).astype(np.float32)
    vertices, faces = sphere_mesh((20, 20, 20), radius0, subdivisions=3)
    moved = deform_mesh(volume, vertices, faces, np.arange(-5, 5.01, 0.25), delta=2,
                        iterations=2)
    radial = np.linalg.norm(moved - (20.3, 19.6, 20.0), axis=1)
    assert np.abs(radial - 10).mean() < 0.5


def test_ellipsoid_with_absolute_cost_from_mask_mesh(rng):
    z, y, x = np.ogrid[:32, :40, :48]
    inside = ((z - 16) / 8.0) ** 2 + ((y - 20) / 12.0) ** 2 + ((x - 24) / 15.0) ** 2 < 1
    volume = 1 - ndi.gaussian_filter(inside.astype(np.float32), 1.0)     # dark object
    volume += rng.normal(0, 0.05, volume.shape).astype(np.float32)
    rough = ndi.binary_erosion(inside, iterations=2)
    vertices, faces = mask_mesh(rough, step_size=2)
    moved = deform_mesh(volume, vertices, faces, np.arange(-3, 5.01, 0.25), cost="absolute",
                        iterations=2)
    p = (moved - (16, 20, 24)) / (8.0, 12.0, 15.0)
    r = np.linalg.norm(p, axis=1)
    assert np.abs(r - 1).mean() < 0.06


def test_callable_cost_matches_array_cost(rng):
    v, f = sphere_mesh((8, 8, 8), 3, subdivisions=1)
    volume = rng.random((16, 16, 16))
    offsets = np.arange(-2, 3.0)
    samples = []
    moved = deform_mesh(volume, v, f, offsets, cost=lambda s: samples.append(s) or -s)
    again = deform_mesh(volume, v, f, offsets, cost=-samples[0])
    assert np.array_equal(moved, again)


def test_mask_mesh_normals_point_out_of_mask():
    z, y, x = np.ogrid[:20, :20, :20]
    ball = (z - 10) ** 2 + (y - 10) ** 2 + (x - 10) ** 2 < 36
    v, f = mask_mesh(ball)
    assert np.mean(np.sum(mesh_normals(v, f) * (v - 10), axis=1) > 0) > 0.99


def test_bad_input():
    v, f = sphere_mesh((8, 8, 8), 3, subdivisions=0)
    volume = np.zeros((16, 16, 16))
    with pytest.raises(ValueError, match="offsets"):
        deform_mesh(volume, v, f, [1.0, 0.0])
    with pytest.raises(ValueError, match="cost"):
        deform_mesh(volume, v, f, [0.0, 1.0], cost="nope")
    with pytest.raises(ValueError, match="cost"):
        deform_mesh(volume, v, f, [0.0, 1.0], cost=np.zeros((3, len(v))))
    with pytest.raises(ValueError, match="iterations"):
        deform_mesh(volume, v, f, [0.0, 1.0], cost=np.zeros((2, len(v))), iterations=2)
    with pytest.raises(ValueError, match="faces"):
        deform_mesh(volume, v, f + 100, [0.0, 1.0])
    with pytest.raises(ValueError, match="vertices"):
        deform_mesh(volume, v[:, :2], f, [0.0, 1.0])
    with pytest.raises(ValueError, match="volume"):
        deform_mesh(volume[0], v, f, [0.0, 1.0])
    with pytest.raises(ValueError, match="delta"):
        deform_mesh(volume, v, f, [0.0, 1.0], delta=-1)
    with pytest.raises(ValueError, match="radius"):
        sphere_mesh((0, 0, 0), -1)
    with pytest.raises(ValueError, match="center"):
        sphere_mesh((0, 0), 1)
    with pytest.raises(ValueError, match="mask"):
        mask_mesh(np.zeros((4, 4, 4)))
