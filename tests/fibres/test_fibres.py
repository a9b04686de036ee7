"""Tests for qimcore.fibres on synthetic fibre phantoms with exact truth."""

import dask.array as da
import numpy as np
import pandas as pd
import pytest
from scipy import ndimage as ndi
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

from qimcore.data.synthetic import fibre_family, fibre_phantom
from qimcore.fibres import (
    estimate_diameter,
    fibre_summary,
    fibre_table,
    find_breaks,
    orientation,
    track_fibres,
)

TABLE_COLUMNS = ["length", "theta", "phi", "diameter", "touches_border"]
BREAK_COLUMNS = ["track_a", "track_b", "z", "y", "x", "gap"]


@pytest.fixture(scope="module")
def phantom():
    volume, truth = fibre_phantom((64, 64, 64), diameter=6.0, n_breaks=4, random_state=1)
    tracks = track_fibres(volume, 6.0)
    return volume, truth, tracks


def _match(truth_tracks, tracks):
    """Optimal one-to-one matching of truth pieces to tracks by mean point distance."""
    cost = np.array([[cKDTree(t).query(s)[0].mean() for t in tracks] for s in truth_tracks])
    rows, cols = linear_sum_assignment(cost)
    good = cost[rows, cols] < 2.0
    return rows[good], cols[good]


# ----------------------------------------------------------------------------- orientation

def _reference_orientation(volume, sigma, rho, truncate=4.0):
    """Float64 structure tensor with scipy filters and numpy eigh."""
    v = volume.astype(np.float64)
    grads = [ndi.gaussian_filter(v, sigma, order=o, mode="nearest", truncate=truncate)
             for o in ((1, 0, 0), (0, 1, 0), (0, 0, 1))]
    tensor = np.empty(v.shape + (3, 3))
    for i in range(3):
        for j in range(3):
            tensor[..., i, j] = ndi.gaussian_filter(grads[i] * grads[j], rho, mode="nearest",
                                                    truncate=truncate)
    return np.moveaxis(np.linalg.eigh(tensor)[1][..., 0], -1, 0)


def test_orientation_matches_float64_reference():
    volume, _ = fibre_phantom((40, 44, 36), random_state=2)
    vec = orientation(volume, 1.5, 3.0)
    assert vec.shape == (3, 40, 44, 36) and vec.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vec, axis=0), 1, atol=1e-5)
    assert (vec[0] >= 0).all()
    ref = _reference_orientation(volume, 1.5, 3.0)
    angle = np.arccos(np.clip(np.abs((ref * vec).sum(0)), 0, 1))
    assert angle.max() < 1e-3


@pytest.mark.parametrize("direction", [(1, 0, 0), (0, 0, 1), (0.6, 0.8, 0), (0.48, 0.6, 0.64)])
def test_orientation_finds_direction_of_constant_intensity(direction):
    w = np.asarray(direction, float)
    w /= np.linalg.norm(w)
    grid = np.stack(np.mgrid[:20, :20, :20], -1).astype(float)
    helper = np.eye(3)[np.argmin(np.abs(w))]
    u = np.cross(w, helper)
    v = np.cross(w, u)
    volume = np.sin(grid @ u * 1.1) + np.sin(grid @ v * 0.9)  # constant along w
    vec = orientation(volume, 1.0, 2.0)[:, 10, 10, 10]
    assert abs(abs(vec @ w) - 1) < 1e-4


def test_orientation_honours_truncate():
    volume, _ = fibre_phantom((24, 26, 22), random_state=4)
    vec = orientation(volume, 1.0, 2.0, truncate=2.0)
    ref = _reference_orientation(volume, 1.0, 2.0, truncate=2.0)
    angle = np.arccos(np.clip(np.abs((ref * vec).sum(0)), 0, 1))
    assert angle.max() < 1e-3
    default = _reference_orientation(volume, 1.0, 2.0)
    assert np.arccos(np.clip(np.abs((default * vec).sum(0)), 0, 1)).max() > 1e-2


@pytest.mark.parametrize(("shape", "sigma", "order"), [
    ((9, 20, 17), (1.0, 1.5, 0.7), (1, 0, 2)),
    ((3, 2, 30), (2.0, 2.5, 1.0), (0, 1, 1)),  # axes shorter than the kernel radius
])
def test_orientation_filters_equal_scipy(rng, shape, sigma, order):
    from qimcore._filters import gaussian

    volume = rng.random(shape)
    ref = ndi.gaussian_filter(volume, sigma, order=order, mode="nearest")
    out = gaussian(volume, sigma, order)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref, atol=2e-6)


def test_orientation_of_isotropic_and_planar_volumes():
    flat = orientation(np.full((6, 7, 8), 3.0), 1.0, 2.0)  # isotropic (zero) tensor: z
    assert (flat == np.array([1, 0, 0], np.float32)[:, None, None, None]).all()
    planar = np.broadcast_to(np.sin(0.7 * np.arange(16.0)), (16, 16, 16))  # varies along x
    vec = orientation(planar, 1.0, 2.0)  # any direction in the (z, y) plane
    np.testing.assert_allclose(np.linalg.norm(vec, axis=0), 1, atol=1e-5)
    assert np.abs(vec[2]).max() < 1e-4 and (vec[0] >= 0).all()


def test_orientation_dask_equals_numpy():
    volume, _ = fibre_phantom((30, 33, 28), random_state=3)
    lazy = orientation(da.from_array(volume, chunks=(7, 9, 5)), 1.0, 2.0)
    assert isinstance(lazy, da.Array) and lazy.dtype == np.float32
    assert lazy.shape == (3, 30, 33, 28)
    np.testing.assert_allclose(lazy.compute(), orientation(volume, 1.0, 2.0), atol=1e-6)


# ----------------------------------------------------------------------------- tracking

def test_track_count_length_and_tilt(phantom):
    volume, truth, tracks = phantom
    n_true = len(truth["tracks"])
    assert abs(len(tracks) - n_true) <= 0.02 * n_true
    rows, cols = _match(truth["tracks"], tracks)
    assert len(rows) == n_true  # every fibre piece found
    table = fibre_table(tracks, shape=volume.shape)
    assert abs(table.length.mean() / truth["length"].mean() - 1) < 0.05
    err = table.theta.to_numpy()[cols] - truth["theta"][rows]
    assert np.abs(err).mean() < 1.0
    for ply in (0, 1):  # mean tilt of each ply within 1 degree
        sel = truth["ply"][rows] == ply
        assert abs(err[sel].mean()) < 1.0
    for tr in tracks:  # ordered along the fibre
        steps = np.linalg.norm(np.diff(tr, axis=0), axis=1)
        assert steps.max() < 8


def test_tracks_oblique_ply():
    volume, truth = fibre_phantom((64, 32, 40), plies=(("x", 35.0),), n_breaks=0, random_state=4)
    tracks = track_fibres(volume, 6.0)
    assert len(tracks) == len(truth["tracks"])
    rows, cols = _match(truth["tracks"], tracks)
    theta = fibre_table([tracks[c] for c in cols]).theta.to_numpy()
    assert np.abs(theta - truth["theta"][rows]).max() < 1.5


def test_find_breaks_recall_and_precision(phantom):
    _, truth, tracks = phantom
    breaks = find_breaks(tracks)
    assert list(breaks.columns) == BREAK_COLUMNS
    found = breaks[["z", "y", "x"]].to_numpy()
    true = truth["breaks"][["z", "y", "x"]].to_numpy()
    d = np.linalg.norm(found[:, None] - true[None], axis=-1)
    recall = (d.min(0) < 3).mean()
    precision = (d.min(1) < 3).mean() if len(found) else 0.0
    assert recall >= 0.9 and precision >= 0.9
    np.testing.assert_allclose(breaks.gap, truth["breaks"].gap.mean(), atol=3)


def test_diameter_from_volume(phantom):
    volume, truth, tracks = phantom
    table = fibre_table(tracks, voxel_size=0.5, volume=volume)
    assert np.abs(table.diameter / (truth["diameter"] * 0.5) - 1).max() < 0.1
    assert abs(estimate_diameter(volume) / truth["diameter"] - 1) < 0.1


# ----------------------------------------------------------------------------- tables

def test_fibre_table_values_and_units():
    line = np.column_stack([np.arange(11.0), np.full(11, 5.0), np.full(11, 5.0)])
    diag = np.column_stack([np.full(5, 5.0), np.arange(5.0) + 4, np.arange(5.0) + 4])
    table = fibre_table([line, diag[::-1]], voxel_size=(2.0, 1.0, 1.0), shape=(11, 12, 12),
                        diameter=[3.0, 4.0])
    assert list(table.columns[:5]) == TABLE_COLUMNS
    np.testing.assert_allclose(table.length, [20.0, 4 * np.sqrt(2)])
    np.testing.assert_allclose(table.theta, [0.0, 90.0], atol=1e-9)
    np.testing.assert_allclose(table.phi[1], 45.0)  # sign made canonical
    assert table.touches_border.tolist() == [True, False]
    np.testing.assert_allclose(table.straightness, 1.0)
    np.testing.assert_allclose(table.in_volume_extent[0], 20.0)
    np.testing.assert_allclose(table.diameter, [3.0, 4.0])


def test_empty_tables_keep_columns():
    table = fibre_table([])
    assert list(table.columns[:5]) == TABLE_COLUMNS and len(table) == 0
    breaks = find_breaks([])
    assert list(breaks.columns) == BREAK_COLUMNS and len(breaks) == 0


def test_find_breaks_geometry():
    a = np.column_stack([np.arange(10.0), np.zeros(10), np.zeros(10)])
    facing = find_breaks([a, a + [15, 0, 0]])
    assert len(facing) == 1 and facing.gap[0] == pytest.approx(6.0)
    assert facing[["z", "y", "x"]].to_numpy().tolist() == [[12.0, 0.0, 0.0]]
    assert len(find_breaks([a, a + [15, 5, 0]])) == 0  # offset sideways
    assert len(find_breaks([a, a + [40, 0, 0]])) == 0  # too far
    b = np.column_stack([np.full(10, 12.0), np.arange(10.0), np.zeros(10)])
    assert len(find_breaks([a, b])) == 0  # perpendicular
    # three pieces in a row: two breaks, each end used once
    three = find_breaks([a, a + [15, 0, 0], a + [30, 0, 0]])
    assert three[["track_a", "track_b"]].to_numpy().tolist() == [[0, 1], [1, 2]]
    # voxel size scales gaps (µm)
    assert find_breaks([a, a + [15, 0, 0]], voxel_size=2.0).gap[0] == pytest.approx(12.0)


def test_fibre_summary_krenchel():
    z = np.column_stack([np.arange(10.0), np.zeros(10), np.zeros(10)])
    x = np.column_stack([np.zeros(10), np.zeros(10), np.arange(10.0)])
    table = fibre_table([z, x], diameter=2.0)
    s = fibre_summary(table, (10, 10, 10), volume_fraction=0.4, e_fibre=70.0, e_matrix=3.0)
    assert s.n_fibres[0] == 2
    np.testing.assert_allclose([s.eta_z[0], s.eta_y[0], s.eta_x[0]], [0.5, 0, 0.5], atol=1e-12)
    np.testing.assert_allclose(s.E_z_estimate[0], 0.5 * 0.4 * 70 + 0.6 * 3)
    np.testing.assert_allclose(s.a2_zz[0] + s.a2_yy[0] + s.a2_xx[0], 1.0)
    vf = fibre_summary(table, (10, 10, 10)).volume_fraction[0]
    np.testing.assert_allclose(vf, 2 * 9 * np.pi / 1000)


# ----------------------------------------------------------------------------- bad input

def test_bad_input():
    with pytest.raises(ValueError, match="volume"):
        track_fibres(np.zeros((8, 8)), 4.0)
    bad = np.ones((8, 8, 8))
    bad[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match="volume"):
        track_fibres(bad, 4.0)
    with pytest.raises(ValueError, match="volume"):
        orientation(bad, 1.0, 2.0)
    for d in (0.0, -2.0):
        with pytest.raises(ValueError, match="fibre_diameter"):
            track_fibres(np.ones((8, 8, 8)), d)
    with pytest.raises(ValueError, match="sigma"):
        orientation(np.ones((8, 8, 8)), 0.0, 2.0)
    with pytest.raises(TypeError, match="volume"):
        track_fibres(da.ones((8, 8, 8)), 4.0)
    with pytest.raises(ValueError, match="tracks"):
        fibre_table([np.zeros((5, 2))])
    with pytest.raises(ValueError, match="diameter"):
        fibre_table([np.zeros((5, 3)) + np.arange(5)[:, None]], diameter=-1.0)
    with pytest.raises(ValueError, match="max_gap"):
        find_breaks([], max_gap=0)
    with pytest.raises(ValueError, match="table"):
        fibre_summary(pd.DataFrame({"length": [1.0]}), (4, 4, 4))


def test_join_follows_chains_in_order():
    from qimcore.fibres._geometry import _join

    a = np.column_stack([np.arange(5.0), np.zeros(5), np.zeros(5)])
    b = a + [10, 0, 0]
    c = a + [20, 0, 0]
    # c is stored reversed; links: end of a -> start of b, end of b -> end of c
    joined = _join([b, c[::-1], a], [(2 * 2 + 1, 2 * 0), (2 * 0 + 1, 2 * 1 + 1)])
    assert len(joined) == 1
    z = joined[0][:, 0]
    assert len(z) == 15 and (np.all(np.diff(z) > 0) or np.all(np.diff(z) < 0))


# ----------------------------------------------------------------------------- phantom family

def test_fibre_family_is_reproducible_and_in_range():
    a, truth = fibre_family(random_state=5, shape=(40, 40, 40))
    b, _ = fibre_family(random_state=5, shape=(40, 40, 40))
    np.testing.assert_array_equal(a, b)
    p = truth["params"]
    assert 3 <= p["diameter"] <= 12 and 1 <= len(p["plies"]) <= 3
    assert all(0 <= tilt <= 30 for _, tilt in p["plies"])
    assert all(1 <= g <= 4 * p["diameter"] for g in p["break_gap"])
    assert len(truth["breaks"]) <= p["n_breaks"] and 0 < truth["volume_fraction"] < 0.65
    fixed, truth = fibre_family(random_state=1, shape=(32, 32, 32), diameter=5.0, n_plies=1,
                                n_breaks=0)
    assert truth["diameter"] == 5.0 and len(truth["breaks"]) == 0


def test_fibre_family_members_hold_fibres_in_every_ply():
    # thick fibres in three plies of 21 voxels: 18 of 680 default members (seeds 0-39,
    # 8000-8779) had a ply without fibres, 8610 none at all (its parameters said 41 %)
    for seed in (8610, 8356, 9):
        _, truth = fibre_family(random_state=seed)
        plies = len(truth["params"]["plies"])
        ply_of_fibre = truth["ply"][np.unique(truth["fibre"], return_index=True)[1]]
        assert np.bincount(ply_of_fibre, minlength=plies).min() >= 1 and plies >= 1
    for fraction in (None, 0.4):  # random placement, lattice: no room left in y
        with pytest.raises(ValueError, match="plies: ply 0"):
            fibre_phantom((64, 64, 64), diameter=12.0, plies=(("z", 0.0),) * 3, amplitude=5.0,
                          volume_fraction=fraction, random_state=0)


def test_fibre_phantom_volume_fraction_and_gaps():
    volume, truth = fibre_phantom((48, 48, 48), diameter=5.0, plies=(("z", 0.0),),
                                  volume_fraction=0.6, n_breaks=2, break_gap=[2.0, 9.0],
                                  noise=0.0, blur=0.0, amplitude=0.0, random_state=0)
    assert truth["volume_fraction"] > 0.45  # the ply margins take the rest
    np.testing.assert_allclose(np.sort(truth["breaks"].gap), [2.0, 9.0])
    for _, b in truth["breaks"].iterrows():  # matrix at the middle of each gap
        z, y, x = np.round(b[["z", "y", "x"]].to_numpy(float)).astype(int)
        assert volume[z, y, x] == pytest.approx(0.25)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(6))
def test_estimate_diameter_within_10_percent_across_family(seed):
    volume, truth = fibre_family(random_state=seed)
    assert abs(estimate_diameter(volume) / truth["diameter"] - 1) < 0.1


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(6))
def test_estimate_diameter_packed_fibres_not_widened_by_neighbours(seed):
    # the neighbours raise the mean profile beyond the fibre's edge; a background rising from
    # the axis let the fit take a larger, more blurred disc (seeds 2 and 3: +10.5 %, +11.3 %;
    # now +2 %); measured on 100 family members 98 within 10 %
    volume, truth = fibre_family(random_state=seed, n_breaks=(4, 8))
    assert abs(estimate_diameter(volume) / truth["diameter"] - 1) < 0.1


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(200, 204))
def test_estimate_diameter_thick_fibres_in_three_plies(seed):
    # d 9-12 in a 64^3 volume, up to three plies (one or two fibre rows each), noisy, broken:
    # the profile fit jumps between structures across trial scales (no stable scale, or a fall
    # through 1 that is a jump); measured on 14 such phantoms all within 4 % (were down to
    # -50 % / -28 %)
    volume, truth = fibre_family(random_state=seed, diameter=(9, 12), n_plies=3,
                                 contrast=(0.3, 0.5), noise=0.1, n_breaks=(4, 8))
    assert abs(estimate_diameter(volume) / truth["diameter"] - 1) < 0.1


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_estimate_diameter_thin_sharp_fibres(seed):
    # diameter 3-4 voxels, blur up to a third of the radius: the estimate keeps the fibre
    # scale (noise and the plies no longer take it over: was up to +390 %); measured on 12
    # such phantoms (seeds 3000-3011) all within 10 %, worst -7.8 % (was 19 of 24, worst
    # +16.6 %, before the neighbours' background started at the fibre's edge)
    volume, truth = fibre_family(random_state=3000 + seed, shape=(48, 48, 48), diameter=(3, 4),
                                 blur=(0.4, 0.5))
    assert abs(estimate_diameter(volume) / truth["diameter"] - 1) < 0.1


def test_cylinder_model_recovers_radius_and_blur_at_true_axes():
    # nearly touching thin fibres (spacing 1.05 diameters), blurred by 0.9 voxel: the mean
    # profile reads the diameter 14 % low here (the neighbours' blurred edges overlap the
    # fibre's own); the model of the whole volume places each neighbour where it is
    from qimcore.fibres._cylinders import _axis_distance, _fit_cylinders

    volume, truth = fibre_phantom((48, 48, 48), diameter=3.1, blur=0.9, noise=0.0, spacing=1.05,
                                  plies=(("z", 5.0),), n_breaks=0, curved_fraction=0.0,
                                  random_state=1)
    points, directions = [], []
    for track in truth["tracks"]:
        track = np.asarray(track)
        points.append(track)
        directions.append(np.broadcast_to((track[-1] - track[0]) / np.linalg.norm(
            track[-1] - track[0]), track.shape))
    distance = _axis_distance(volume.shape, np.concatenate(points), np.concatenate(directions))
    fit = _fit_cylinders(volume.astype(np.float32), distance, 3.1, 4)
    assert abs(2 * fit.radius - 3.1) < 0.01 and abs(fit.blur - 0.9) < 0.01
    assert fit.holds()
    # cylinders that cover every voxel compared make a flat model: it explains nothing
    flat = _fit_cylinders(volume.astype(np.float32), np.zeros_like(distance), 3.1, 4)
    assert flat.residual == pytest.approx(flat.variance) and not flat.holds()


def test_recentred_axes_recover_diameter_of_packed_tilted_plies():
    # three packed plies tilted 19-29 degrees, no noise: the ridges of the Laplacian of
    # Gaussian stray 0.27 voxel (median) from the true axes, pulled by the neighbours' edges,
    # and the model at the detected axes reads the diameter 6 % low; re-centred on the model
    # (three Gauss-Newton rounds) the axes recover it
    from qimcore.fibres._cylinders import _model_diameter, _trials_around

    volume, _ = fibre_phantom((64, 64, 64), diameter=4.0, volume_fraction=0.55,
                              plies=(("z", 19.0), ("z", 29.0), ("z", 20.0)), n_breaks=0,
                              curved_fraction=0.0, contrast=0.4, blur=0.95, noise=0.0,
                              random_state=1)
    crop = ((volume - volume.mean()) / volume.std()).astype(np.float32)
    assert _model_diameter(crop, _trials_around(4.0), rounds=0) < 0.95 * 4.0
    assert abs(_model_diameter(crop, _trials_around(4.0)) - 4.0) < 0.02


@pytest.mark.slow
def test_estimate_diameter_without_a_stable_scale_lets_the_model_choose():
    # family defaults, seed 8253: one dense ply (d 3.2, 63 %) whose profile fit finds no
    # stable scale and whose LoG response falls from the finest scale on; the LoG's plateau
    # gave +284 %, the cylinder model over every trial diameter gives -5 %
    volume, truth = fibre_family(random_state=8253)
    assert abs(estimate_diameter(volume) / truth["diameter"] - 1) < 0.1


@pytest.mark.slow
def test_estimate_diameter_takes_the_model_below_a_thin_peak():
    # family defaults, seed 8135 (d 3.1, blur 1): the profile's thin peak is 28 % high and
    # the model, 0.74 times it, was outside the window (+28 %)
    volume, truth = fibre_family(random_state=8135)
    assert abs(estimate_diameter(volume) / truth["diameter"] - 1) < 0.1


@pytest.mark.slow
def test_estimate_diameter_thin_packed_blurred_fibres():
    # diameter 3-5 voxels, blur 0.7-1 voxel, 45-65 % per ply: on 20 such members (seeds
    # 7000-7019) the mean profile alone read 13 more than 10 % low (mean 16.4 %, worst -42 %);
    # with the cylinder model at the detected axes 3 (mean 4.8 %, worst -16.5 %), with its axes
    # re-centred none (mean 0.9 %, worst -5.3 %). Members 7000-7005: profile alone mean
    # 13.8 %, worst -29.4 %; unrefined model mean 6.4 %, worst -16.5 %
    errors = []
    for seed in range(7000, 7006):
        volume, truth = fibre_family(random_state=seed, diameter=(3, 5), blur=(0.7, 1.0),
                                     volume_fraction=(0.45, 0.65))
        errors.append(abs(estimate_diameter(volume) / truth["diameter"] - 1))
    assert np.mean(errors) < 0.03 and max(errors) < 0.1


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3))
def test_fibre_table_diameter_across_family(seed):
    volume, truth = fibre_family(random_state=seed, n_breaks=0)
    table = fibre_table(truth["tracks"], volume=volume)
    assert abs(table.diameter.median() / truth["diameter"] - 1) < 0.1


def _break_hits(breaks, truth, tol):
    found = breaks[["z", "y", "x"]].to_numpy()
    true = truth["breaks"][["z", "y", "x"]].to_numpy()
    if len(found) == 0 or len(true) == 0:
        return np.zeros(len(true), bool), np.zeros(len(found), bool)
    d = np.linalg.norm(found[:, None] - true[None], axis=-1)
    return d.min(0) < tol, d.min(1) < tol


@pytest.mark.slow
@pytest.mark.parametrize(("gap", "seeds"), [((2, 6), range(4)), ((8, None), range(10, 14))],
                         ids=["short", "long"])
def test_breaks_found_across_family(gap, seeds):
    """Gaps of 2-6 voxels (shorter than the tracker's gap closing) and of 8 voxels to 4
    diameters (longer: they end the tracks), at the real sample's noise, library defaults."""
    hits, oks = [], []
    for seed in seeds:
        volume, truth = fibre_family(random_state=seed, diameter=(4, 8), gap=gap,
                                     n_breaks=(4, 6), noise=0.1, contrast=0.5)
        tracks = track_fibres(volume)
        hit, ok = _break_hits(find_breaks(tracks, volume=volume), truth, truth["diameter"])
        hits.append(hit)
        oks.append(ok)
    assert np.concatenate(hits).mean() >= 0.9 and np.concatenate(oks).mean() >= 0.9


def test_break_inside_a_linked_track_is_reported():
    volume, truth = fibre_phantom((48, 32, 32), diameter=6.0, plies=(("z", 0.0),), n_breaks=1,
                                  break_gap=3.0, amplitude=0.0, random_state=2)
    tracks = track_fibres(volume, 6.0)
    breaks = find_breaks(tracks, volume=volume)
    hit, ok = _break_hits(breaks, truth, 3.0)
    assert hit.all() and ok.all()
    row = breaks.iloc[0]
    assert row.track_a == row.track_b  # the tracker linked the pieces; the gap stays a break
    assert abs(row.gap - 3.0) < 1.5


def test_track_fibres_takes_a_precomputed_orientation():
    volume, truth = fibre_phantom((40, 40, 40), diameter=6.0, n_breaks=0, random_state=0)
    field = orientation(volume, 1.5, 6.0)
    given = track_fibres(volume, 6.0, orientation=field)
    own = track_fibres(volume, 6.0)
    assert len(given) == len(own)
    for a, b in zip(given, own, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-3)
    with pytest.raises(ValueError, match="orientation"):
        track_fibres(volume, 6.0, orientation=field[:, :-1])


def test_break_beyond_an_untracked_piece_is_reported():
    # the piece beyond the gap is left out of the tracks (too short to be kept): the break is
    # found along the line extrapolated from the other piece's end, with no second track
    volume, truth = fibre_phantom((64, 32, 32), diameter=6.0, plies=(("z", 0.0),), n_breaks=1,
                                  break_gap=14.0, amplitude=0.0, noise=0.05, random_state=3)
    fibre = truth["breaks"].fibre.iloc[0]
    pieces = np.flatnonzero(truth["fibre"] == fibre)
    short = pieces[np.argmin(truth["length"][pieces])]
    tracks = [t for i, t in enumerate(truth["tracks"]) if i != short]
    breaks = find_breaks(tracks, volume=volume, fibre_diameter=6.0)
    hit, ok = _break_hits(breaks, truth, 3.0)
    assert hit.all() and ok.all()
    row = breaks.iloc[0]
    assert row.track_b == -1
    assert abs(row.gap - 14.0) < 3.0


def test_track_end_without_material_beyond_is_no_break():
    # a fibre cut short by the end of the material (no fibre resumes before the face) and a
    # track stopped inside a continuing fibre are both no breaks
    volume, truth = fibre_phantom((64, 32, 32), diameter=6.0, plies=(("z", 0.0),), n_breaks=0,
                                  amplitude=0.0, noise=0.05, random_state=3)
    tracks = [t[(t[:, 0] > 10) & (t[:, 0] < 50)] for t in truth["tracks"]]
    assert find_breaks(tracks, volume=volume, fibre_diameter=6.0).empty
    cut = volume.copy()
    cut[56:] = 0.25  # the material ends 6 voxels after the tracks, 8 before the face
    assert find_breaks(tracks, volume=cut, fibre_diameter=6.0).empty


@pytest.mark.parametrize(("seed", "diameter"), [(0, 8.0), (1, 5.0)])
def test_tracks_through_noise_are_dropped_and_give_no_breaks(seed, diameter):
    # tracks that follow noise maxima: their level does not stand out of the matrix by several
    # noise sigmas of the core profile, so track_fibres drops them and, kept, their dips are
    # no breaks
    volume = np.random.default_rng(seed).normal(0, 0.1, (48, 48, 48)).astype(np.float32)
    assert track_fibres(volume, diameter) == []
    tracks = track_fibres(volume, diameter, min_snr=0)
    assert len(tracks) > 10
    assert find_breaks(tracks, volume=volume, fibre_diameter=diameter).empty


@pytest.mark.slow
def test_few_thick_noisy_fibres_give_no_false_breaks():
    """Two thick fibres in a ply of matrix at contrast / noise 3.5: the tracker also follows
    noise in the matrix; those tracks are dropped by default (``min_snr``), and kept they
    give no break."""
    volume, truth = fibre_phantom((64, 64, 64), diameter=10.9, plies=(("x", 7.7),), n_breaks=0,
                                  spacing=3.0, contrast=0.35, noise=0.1, blur=0.43,
                                  random_state=1)
    true = np.concatenate(truth["tracks"])
    off = [cKDTree(true).query(t)[0].mean() > truth["diameter"] for t in track_fibres(volume)]
    assert len(off) >= 2 and not any(off)
    tracks = track_fibres(volume, min_snr=0)
    assert sum(cKDTree(true).query(t)[0].mean() > truth["diameter"] for t in tracks) > 10
    assert len(find_breaks(tracks, volume=volume)) == 0


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1000, 1012))
def test_estimate_diameter_thin_blurred_fibres_keep_the_fibre_scale(seed):
    # diameter 3-4 voxels, blur up to 1 voxel: radius and blur trade off in the profile fit,
    # which reads up to 23 % low here (seed 1005), and must never follow coarser structure
    # (was up to +390 %: seed 1002 where a fit falling short above the scale was taken for a
    # jump); the cylinder model with re-centred axes brings all 12 within 4 %
    volume, truth = fibre_family(random_state=seed, diameter=(3, 4))
    err = estimate_diameter(volume) / truth["diameter"] - 1
    assert abs(err) < 0.1
