"""qimcore.layers.shell_layers: rolled layers unfolded around their centre line."""

import numpy as np
import pytest

from qimcore.data.synthetic import concentric_shells, shell_family
from qimcore.layers import shell_layers

LAYER_COLUMNS = ["layer", "thickness_mean", "thickness_std", "porosity"]


def _tube(n_slices=16):
    """Two rolled layers: a dense ring 9 <= r < 15 and a ring 15 <= r < 21 of grey 0.5 holding
    a buried pore band (16 <= r < 19) in every 4th slice, around (24, 24)."""
    z, y, x = np.mgrid[:n_slices, :49, :49]
    r = np.hypot(y - 24, x - 24)
    vol = np.where((r > 8.5) & (r < 14.5), 1.0, 0.0)
    pores = (r > 15.5) & (r < 18.5) & (z % 4 == 0)
    vol = np.where((r > 14.5) & (r < 20.5) & ~pores, 0.5, vol)
    return vol.astype(np.float32)


def _band_porosity():
    """Porosity of the outer ring of :func:`_tube`: its pixels in the pore band, every 4th slice."""
    r = np.hypot(*(np.mgrid[:49, :49] - 24.0))
    return ((r > 15.5) & (r < 18.5)).sum() / ((r >= 14.5) & (r < 20.5)).sum() / 4


def test_shell_layers_exact_on_axis_rays():
    # 4 axis-aligned rays sample voxel centres exactly: heights, thickness, porosity, volume
    res = shell_layers(_tube(), ["rising", "falling", "falling"], center=(24, 24),
                       radii=np.arange(24.0), n_angles=4, regions=("void", None, None, "void"),
                       voxel_size=(2.0, 0.5, 0.5), threshold=0.25)
    assert res.heights.shape == (3, 16, 4) and res.thickness.shape == (2, 16, 4)
    assert [np.unique(h).tolist() for h in res.heights] == [[9], [15], [21]]
    table = res.table
    assert list(table.columns[:4]) == LAYER_COLUMNS
    # 6 samples of 0.5 µm; each face within the gap between the pixel centres on its sides
    np.testing.assert_allclose(table["thickness_mean"], [3.0, 3.0], atol=0.05)
    np.testing.assert_allclose(table["porosity"], [0.0, _band_porosity()])
    ring = np.pi * (np.array([14.5, 20.5]) ** 2 - np.array([8.5, 14.5]) ** 2) * 0.25 * 2.0 * 16
    np.testing.assert_allclose(table["volume"], ring, rtol=0.01)
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
    # the pores of the outer ring are filled by disks that fit the hole (r < 8.5) loosely on
    # the pixel grid, so the inner surface's sample may drop by one; its radius may not
    assert (res.heights[0] >= 8).all() and (res.heights[0] <= 9).all()
    assert (res.heights[2] == 21).all() and np.abs(res.radius[0] - 8.5).max() < 0.5
    np.testing.assert_allclose(res.table["thickness_mean"], [3.0, 3.0], atol=0.1)
    np.testing.assert_allclose(res.table["porosity"], [0.0, _band_porosity()], atol=0.005)
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


# ----------------------------------------------------------------------------- phantom family
def _wall_errors(porosity, seeds=range(16)):
    """Per seed: surface radius, thickness (voxels) and porosity (pp) errors of one wall."""
    out = []
    for seed in seeds:
        volume, truth = shell_family(random_state=seed, shape=(4, 80, 80), n_layers=1,
                                     porosity=porosity)
        res = shell_layers(volume, ["rising", "falling"], center=truth["center"],
                           radii=np.arange(38.0), n_angles=60)
        out.append([np.abs(res.radius.mean(axis=(1, 2)) - truth["radii"]).max(),
                    res.table["thickness_mean"][0] - truth["thickness"][0],
                    100 * (res.table["porosity"][0] - truth["porosity"][0])])
    return np.array(out).T


@pytest.mark.parametrize(("porosity", "radius", "thickness", "pores"), [
    (0.0, 0.1, 0.1, 1.2),           # dense walls: sub-pixel faces
    ((0.0, 0.1), 0.15, 0.2, 1.4),
    ((0.1, 0.3), 0.3, 0.5, 2.4),    # pores run together into mouths: faces refitted across
])
def test_closed_porous_wall_across_family(porosity, radius, thickness, pores):
    """One porous wall around an off-centre axis, 16 random members of the family (grey
    value, noise 2-15 %, pore size 0.7-2.5, wall 6-12 voxels, inner radius 6-12)."""
    r_err, t_err, p_err = _wall_errors(porosity)
    assert r_err.max() <= radius
    assert np.abs(t_err).max() <= thickness and t_err.max() <= 0.25     # never much too thick
    assert np.abs(p_err).max() <= pores


def test_two_porous_shell_layers_across_family():
    """Two porous layers of different grey value (contrast 0.1-0.3 of the range, pores 0-30 %
    per layer, noise 2-15 %): surfaces, thickness and porosity of both layers, 8 members.
    Steps between the layers as small as the noise: the boundary must not be traded for the
    noise of the hole (a region term pulls each layer to its own grey value)."""
    errors = []
    for seed in range(8):
        volume, truth = shell_family(random_state=seed, shape=(4, 96, 96), n_layers=2,
                                     porosity=(0.0, 0.3), contrast=(0.1, 0.3))
        grey = truth["grey"]
        edges = ["rising", "rising" if grey[1] > grey[0] else "falling", "falling"]
        res = shell_layers(volume, edges, center=truth["center"], radii=np.arange(46.0),
                           n_angles=72)
        errors.append([np.abs(res.radius.mean(axis=(1, 2)) - truth["radii"]).max(),
                       np.abs(res.table["thickness_mean"] - truth["thickness"]).max(),
                       100 * np.abs(res.table["porosity"] - truth["porosity"]).max()])
    radius, thickness, pores = np.max(errors, axis=0)
    assert radius <= 0.35 and thickness <= 0.45 and pores <= 1.5


def test_shell_layers_fill():
    volume, truth = shell_family(random_state=6, shape=(4, 80, 80), n_layers=1,
                                 porosity=0.2, pore_size=2.5)
    kwargs = {"center": truth["center"], "radii": np.arange(38.0), "n_angles": 60}
    res = shell_layers(volume, ["rising", "falling"], **kwargs)
    once = shell_layers(volume, ["rising", "falling"], fill=0, **kwargs)
    assert res.fill >= 4 and once.fill == 0            # coarse pores: a wide disk
    # filling the pores keeps the surfaces out of the pores at the faces
    assert abs(res.table["thickness_mean"][0] - truth["thickness"][0]) \
        < abs(once.table["thickness_mean"][0] - truth["thickness"][0])
    dense, _ = shell_family(random_state=6, shape=(4, 80, 80), n_layers=1, porosity=0.0)
    assert shell_layers(dense, ["rising", "falling"], **kwargs).fill == 0
    with pytest.raises(ValueError, match="fill"):
        shell_layers(volume, ["rising", "falling"], fill=-1, **kwargs)
    with pytest.raises(TypeError, match="fill"):
        shell_layers(volume, ["rising", "falling"], fill=2.5, **kwargs)


def test_concentric_shells_truth():
    volume, truth = concentric_shells((3, 64, 64), (6.0, 8.0), (0.0, 0.25), inner_radius=10.0,
                                      greys=(1.0, 0.8), noise=0.0, random_state=2)
    assert truth["radii"].tolist() == [10.0, 16.0, 24.0]
    assert truth["porosity"][0] == 0 and abs(truth["porosity"][1] - 0.25) < 1e-3
    solid = truth["material"]
    assert set(np.unique(volume[solid & (truth["layer"] == 1)])) == {np.float32(0.8)}
    assert (volume[truth["layer"] < 0] == 0).all()
    with pytest.raises(ValueError, match="shape"):
        concentric_shells((3, 32, 32), (6.0, 8.0), (0.0, 0.1), inner_radius=10.0)


def test_smooth_faces_bridges_mouths_and_keeps_oblique_faces():
    from qimcore.layers._shells import _smooth_faces

    rng = np.random.default_rng(0)
    n_angles = 120
    face = 20.0 + 0.05 * rng.standard_normal((1, 3, n_angles))      # outer face, wobbling
    mouths = face.copy()
    mouths[..., 10:16] -= 2.0                                        # mouths 6 rays wide
    mouths[..., 60:63] -= 1.0
    inside = np.full_like(face, 8.0)
    bright = np.array([False, True, False])                          # hole, wall, outside
    pore = np.array([0.0, 2.0, 0.0])                                 # 4 p: 8 px, ~7.6 rays
    z = np.arange(3.0)                                               # slice positions (px)
    out = _smooth_faces(np.concatenate([inside, mouths]), bright, pore, z)
    np.testing.assert_allclose(out[1], 20.0, atol=0.1)               # bridged, wobble gone
    np.testing.assert_allclose(out[0], 8.0)
    # a face running oblique to the rays (|dr / (r dθ)| = 0.5: a corner of the outline off
    # the unfolding's centre) is kept as found
    corner = face.copy()
    corner[..., 30:61] += 0.5 * 20.0 * 2 * np.pi / n_angles * (15 - np.abs(np.arange(31) - 15))
    out = _smooth_faces(np.concatenate([inside, corner]), bright, pore, z)
    np.testing.assert_array_equal(out[1:, ..., 32:59], corner[..., 32:59])
    # a mouth too wide for the window around but narrow along the axis: bridged by the
    # slices above and below (one slice of five, 8 px apart; a window of 8 px along z)
    deep = 20.0 + 0.05 * rng.standard_normal((1, 5, n_angles))
    deep[:, 2, 20:44] -= 2.0                                          # 24 rays wide, ~3 sigma
    out = _smooth_faces(np.concatenate([np.full_like(deep, 8.0), deep]), bright, pore,
                        8.0 * np.arange(5))
    np.testing.assert_allclose(out[1], 20.0, atol=0.15)
    alone = _smooth_faces(np.concatenate([np.full_like(deep, 8.0), deep]), bright, pore,
                          80.0 * np.arange(5))                      # slices far apart
    assert alone[1, 2, 32] < 19.0
    # dense layers (no pores): nothing to refit
    same = _smooth_faces(np.concatenate([inside, mouths]), bright, np.zeros(3), z)
    np.testing.assert_array_equal(same, np.concatenate([inside, mouths]))


def test_pores_through_the_wall_are_found():
    """A wall whose pores run together through it (member 315 at 10 %: the first surfaces
    go round them, so no pore lies inside the wall they bound): the dents of the faces
    count as pores, the pores are filled and the porosity read right."""
    volume, truth = shell_family(random_state=315, shape=(4, 80, 80), n_layers=1, porosity=0.1)
    res = shell_layers(volume, ["rising", "falling"], center=truth["center"],
                       radii=np.arange(38.0), n_angles=60)
    assert res.fill > 0
    assert abs(res.table["porosity"][0] - truth["porosity"][0]) < 0.01
    assert abs(res.table["thickness_mean"][0] - truth["thickness"][0]) < 0.2


def test_shell_layers_default_smoothness_follows_sparse_slices():
    """A cone (inner radius 8 + 0.4 z, wall 6 voxels) analysed every 4th slice: its face moves
    1.6 samples between analysed slices. The default smoothness scales with the slice spacing
    and follows it; one sample per analysed slice (the old default) cannot."""
    z, y, x = np.mgrid[:25, :56, :56]
    inner = 8 + 0.4 * z
    r = np.hypot(y - 27.5, x - 27.5)
    cone = ((r >= inner) & (r < inner + 6)).astype(np.float32)
    ks = np.arange(0, 25, 4)
    kwargs = dict(slices=ks, center=(27.5, 27.5), radii=np.arange(28.0), n_angles=48)
    res = shell_layers(cone, ["rising", "falling"], **kwargs)
    assert np.abs(res.radius[0] - (8 + 0.4 * ks)[:, None]).max() < 0.75
    assert res.table["thickness_mean"][0] == pytest.approx(6 / np.hypot(1, 0.4), abs=0.25)
    stiff = shell_layers(cone, ["rising", "falling"], delta=(1, 2), **kwargs)
    assert np.abs(stiff.radius[0] - (8 + 0.4 * ks)[:, None]).max() > 1
