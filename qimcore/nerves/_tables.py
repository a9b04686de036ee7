"""Measurements of nerve tracks: per nerve, per slice, nodes of Ranvier, clusters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .. import _units, _validate
from ._track import NerveTrack

__all__ = ["nerve_clusters", "nerve_nodes", "nerve_slices", "nerve_table", "polygon_moments"]

_INCOMPLETE = 0.1   # fraction of a ring's rays without myelin above which its sheath is open

_SLICE_COLUMNS = {"nerve": np.int64, "slice": np.int64, "z": float, "y": float, "x": float,
                  "axon_diameter": float, "fibre_diameter": float, "myelin_thickness": float,
                  "g_ratio": float, "eccentricity": float, "orientation": float,
                  "contrast": float, "lost": bool}
_TABLE_COLUMNS = {"nerve": np.int64, "axon_diameter": float, "fibre_diameter": float,
                  "myelin_thickness": float, "g_ratio": float, "eccentricity": float,
                  "undulation": float, "twist": float, "n_slices": np.int64,
                  "z_start": float, "z_end": float, "cluster": np.int64,
                  "size_cluster": np.int64}
_NODE_COLUMNS = {"nerve": np.int64, "slice": np.int64, "z": float, "length": float,
                 "myelin_before": float, "myelin_after": float}
_CLUSTER_COLUMNS = {"cluster": np.int64, "n_nerves": np.int64, "nerves": object,
                    "axon_diameter": float, "fibre_diameter": float}


def polygon_moments(curves: Any) -> dict[str, np.ndarray]:
    """Area, centroid and principal axes of closed polygons (exact, from the vertices).

    Parameters
    ----------
    curves : (..., n, 2) array_like of float
        Closed ``(y, x)`` polygons (last point not repeated), in any unit.

    Returns
    -------
    dict of ndarray, each of shape ``curves.shape[:-2]``
        ``area`` (unsigned), ``y``, ``x`` (centroid), ``orientation`` (direction of the major
        axis in degrees in ``[0, 180)``: the vector ``(sin, cos)(orientation)`` in ``(y, x)``),
        ``eccentricity`` (``sqrt(1 - lambda_min / lambda_max)`` of the second moments, 0 for a
        circle) and ``anisotropy`` (``(lambda_max - lambda_min) / (lambda_max + lambda_min)``).

    Examples
    --------
    >>> square = [[0, 0], [0, 4], [2, 4], [2, 0]]      # 2 high (y), 4 wide (x)
    >>> m = polygon_moments(square)
    >>> float(m["area"]), float(m["y"]), float(m["x"]), float(m["orientation"])
    (8.0, 1.0, 2.0, 0.0)
    """
    c = np.asarray(_validate.array(curves, "curves", allow_dask=False), np.float64)
    if c.ndim < 2 or c.shape[-1] != 2 or c.shape[-2] < 3:
        raise ValueError(f"curves must be (..., n, 2) with n >= 3; got shape {c.shape}")
    y, x = c[..., 0], c[..., 1]
    y1, x1 = np.roll(y, -1, axis=-1), np.roll(x, -1, axis=-1)
    cross = x * y1 - x1 * y
    a = cross.sum(-1) / 2
    safe = np.where(a == 0, 1.0, a)
    cx = ((x + x1) * cross).sum(-1) / (6 * safe)
    cy = ((y + y1) * cross).sum(-1) / (6 * safe)
    sxx = ((x * x + x * x1 + x1 * x1) * cross).sum(-1) / (12 * safe) - cx ** 2
    syy = ((y * y + y * y1 + y1 * y1) * cross).sum(-1) / (12 * safe) - cy ** 2
    sxy = ((x * y1 + 2 * x * y + 2 * x1 * y1 + x1 * y) * cross).sum(-1) / (24 * safe) - cx * cy
    half = np.hypot((sxx - syy) / 2, sxy)
    lmax, lmin = (sxx + syy) / 2 + half, np.maximum((sxx + syy) / 2 - half, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ecc = np.sqrt(np.clip(1 - np.where(lmax > 0, lmin / lmax, 1), 0, 1))
        aniso = np.where(lmax + lmin > 0, (lmax - lmin) / (lmax + lmin), 0.0)
    angle = np.rad2deg(0.5 * np.arctan2(2 * sxy, sxx - syy)) % 180
    return {"area": np.abs(a), "y": cy, "x": cx, "orientation": angle, "eccentricity": ecc,
            "anisotropy": aniso}


def _tracks(tracks: Any) -> list[NerveTrack]:
    if isinstance(tracks, NerveTrack) or not isinstance(tracks, Sequence):
        raise TypeError(f"tracks must be a list of NerveTrack; got {type(tracks).__name__}")
    for t in tracks:
        if not isinstance(t, NerveTrack):
            raise TypeError(f"tracks must hold NerveTrack objects; got {type(t).__name__}")
    return list(tracks)


def _empty(columns: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame({k: pd.Series(dtype=v) for k, v in columns.items()})


def _frame(rows: list[dict], columns: dict[str, Any]) -> pd.DataFrame:
    if not rows:
        return _empty(columns)
    return pd.DataFrame(rows, columns=list(columns)).astype(columns)


def _direction(z: np.ndarray, centre: np.ndarray, half_width: float) -> np.ndarray:
    """Slope ``d(y, x)/dz`` of a centre line ``(n, 2)`` at each slice ``z`` (same units): the
    derivative of a least-squares parabola through the points within ``half_width`` along
    ``z`` (at least the two nearest slices on each side; a line for three points or fewer);
    zero for a single slice."""
    if len(z) < 2:
        return np.zeros_like(centre)
    half = max(float(half_width), 2.0 * float(np.median(np.diff(z))))
    dz = z[None] - z[:, None]                                   # (slice, neighbour)
    near = (np.abs(dz) <= half).astype(np.float64)
    degree = 2 if len(z) > 3 else 1
    powers = dz[..., None] ** np.arange(degree + 1)             # (slice, neighbour, k)
    gram = np.einsum("ij,ijk,ijl->ikl", near, powers, powers)
    rhs = np.einsum("ij,ijk,jc->ikc", near, powers, centre)
    return np.linalg.solve(gram, rhs)[:, 1]


def _perpendicular(curves: np.ndarray, centre: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """``(n, m, 2)`` slice curves seen along the centre line: each slice's cut through a
    nerve with slope ``s = d(y, x)/dz`` is its perpendicular cross-section stretched by
    ``sqrt(1 + |s|^2) = 1 / cos(tilt)`` along ``s``; compress it back about ``centre``."""
    norm = np.linalg.norm(slope, axis=-1)
    u = np.divide(slope, norm[:, None], out=np.zeros_like(slope), where=norm[:, None] > 0)
    shrink = 1 - 1 / np.sqrt(1 + norm ** 2)                     # 1 - cos(tilt)
    rel = curves - centre[:, None]
    along = (rel * u[:, None]).sum(-1, keepdims=True)
    return curves - shrink[:, None, None] * along * u[:, None]


def _per_slice(track: NerveTrack, vs: tuple[float, float, float]) -> dict[str, np.ndarray]:
    scale = np.array(vs[1:])
    inner, outer = track.inner * scale, track.outer * scale
    z = track.z * vs[0]
    centre = polygon_moments(inner)
    yx = np.column_stack([centre["y"], centre["x"]])
    radius = np.sqrt(np.median(polygon_moments(outer)["area"]) / np.pi)
    slope = _direction(z, yx, radius / 2)
    inner_m = polygon_moments(_perpendicular(inner, yx, slope))
    outer_m = polygon_moments(_perpendicular(outer, yx, slope))
    axon = 2 * np.sqrt(inner_m["area"] / np.pi)
    fibre = np.where(track.cut, np.nan, 2 * np.sqrt(outer_m["area"] / np.pi))
    norm = np.linalg.norm(slope, axis=-1)
    return {"slice": track.z, "z": z, "y": centre["y"], "x": centre["x"],
            "sin_tilt": norm / np.sqrt(1 + norm ** 2),
            "axon_diameter": axon, "fibre_diameter": fibre,
            "myelin_thickness": (fibre - axon) / 2,
            "g_ratio": np.divide(axon, fibre, out=np.full_like(axon, np.nan), where=fibre > 0),
            "eccentricity": inner_m["eccentricity"], "orientation": inner_m["orientation"],
            "anisotropy": inner_m["anisotropy"], "contrast": track.contrast, "lost": track.lost,
            "cut": track.cut}


def nerve_slices(tracks: Sequence[NerveTrack], voxel_size: Any = 1.0) -> pd.DataFrame:
    """One row per nerve and slice: centre, diameters, myelin, shape and contrast.

    Parameters
    ----------
    tracks : list of NerveTrack
        From :func:`track_nerves`.
    voxel_size : float or (z, y, x) floats
        Voxel size in micrometres.

    Returns
    -------
    pandas.DataFrame
        Columns ``nerve`` (index in ``tracks``), ``slice``, ``z``, ``y``, ``x`` (axon
        centroid in the slice, µm), ``axon_diameter`` and ``fibre_diameter`` (µm, equivalent
        circles of the inner and outer cross-sections perpendicular to the nerve's centre
        line), ``myelin_thickness`` (half their difference, µm), ``g_ratio`` (axon / fibre
        diameter), ``eccentricity`` and ``orientation`` (degrees, major axis of the axon's
        perpendicular cross-section in slice coordinates, see :func:`polygon_moments`),
        ``contrast`` and ``lost`` (from the track). ``fibre_diameter``, ``myelin_thickness``
        and ``g_ratio`` are NaN in the slices where the track's myelin is ``cut`` by the
        image border.

    Notes
    -----
    A z-slice cuts a nerve tilted by ``theta`` along an ellipse stretched by ``1 / cos
    theta`` in the direction of the tilt. The centre line's slope at each slice is the
    derivative of a least-squares parabola through the axon centroids within half the fibre
    radius along ``z`` (at least two slices each side); each curve is compressed by ``cos theta`` along the slope
    about the centroid, which is the cross-section perpendicular to the centre line.

    Examples
    --------
    >>> theta = 2 * np.pi * np.arange(64) / 64
    >>> circle = np.stack([np.sin(theta), np.cos(theta)], -1)
    >>> track = NerveTrack(z=[0, 1], inner=[5 * circle] * 2, outer=[8 * circle] * 2)
    >>> table = nerve_slices([track], voxel_size=0.5)
    >>> table[["slice", "z"]].values.tolist()
    [[0.0, 0.0], [1.0, 0.5]]
    >>> round(float(table.g_ratio[0]), 3)
    0.625
    """
    vs = _units.voxel_size(voxel_size, 3)
    frames = [pd.DataFrame({"nerve": i, **{k: v for k, v in _per_slice(t, vs).items()
                                         if k in _SLICE_COLUMNS}})
              for i, t in enumerate(_tracks(tracks)) if len(t)]
    if not frames:
        return _empty(_SLICE_COLUMNS)
    return pd.concat(frames, ignore_index=True)[list(_SLICE_COLUMNS)].astype(_SLICE_COLUMNS)


_ROUND = 0.05   # median anisotropy below which a cross-section has no axis to twist


def _twist(z: np.ndarray, angle: np.ndarray, weight: np.ndarray) -> float:
    """Slope (degrees per unit of z) of the unwrapped axis angle, weighted by anisotropy."""
    if len(z) < 2 or np.median(weight) < _ROUND or np.ptp(z) == 0:
        return float("nan")
    unwrapped = np.rad2deg(np.unwrap(np.deg2rad(angle), period=np.pi))
    w = weight / weight.sum()
    zm, am = (w * z).sum(), (w * unwrapped).sum()
    var = (w * (z - zm) ** 2).sum()
    return float((w * (z - zm) * (unwrapped - am)).sum() / var) if var > 0 else float("nan")


def _node_distance(track: NerveTrack, s: dict[str, np.ndarray], step: float) -> np.ndarray:
    """Distance along ``z`` of each slice from the nearest slice that cuts a node of Ranvier
    (``lost``, or more than a tenth of the ring open, ``gap``), in units of the reach
    ``R sin(tilt) + step`` of a node (``R`` the nerve's median fibre radius, ``tilt`` its
    median tilt from ``z`` away from the nodes, ``step`` the slice spacing); infinite
    without a node. A slice through a nerve tilted by ``tilt`` crosses the perpendicular
    disc of a node over ``2 R sin(tilt)`` along ``z``; where the node only grazes the ring,
    or a slice catches the blurred end of the sheath, too little of the ring is open to
    show it, but the sheath is thinned there."""
    node = s["lost"] | (track.gap > _INCOMPLETE)
    if not node.any():
        return np.full(len(track), np.inf)
    fibre = s["fibre_diameter"][~node & np.isfinite(s["fibre_diameter"])]
    radius = np.median(fibre) / 2 if fibre.size else 0.0
    tilt = s["sin_tilt"][~node] if (~node).any() else s["sin_tilt"]
    reach = radius * np.median(tilt) + step
    return np.abs(s["z"][:, None] - s["z"][node][None]).min(axis=1) / reach


def _clear_mean(values: np.ndarray, distance: np.ndarray) -> float:
    """Mean of the finite ``values`` of the slices beyond a node's reach (``distance`` > 1,
    see `_node_distance`); where there are none, of those beyond half of it; NaN where there
    are none either (every measured slice lies near a node)."""
    finite = np.isfinite(values)
    for limit in (1.0, 0.5):
        clear = finite & (distance > limit)
        if clear.any():
            return float(values[clear].mean())
    return float("nan")


def _mean(values: np.ndarray) -> float:
    """Mean of the finite values (NaN where there are none)."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def _undulation(points: np.ndarray) -> float:
    if len(points) < 2:
        return float("nan")
    end = np.linalg.norm(points[-1] - points[0])
    path = np.linalg.norm(np.diff(points, axis=0), axis=1).sum()
    return float(path / end) if end > 0 else float("nan")


def _contacts(tracks: list[NerveTrack], distance: float, scale: np.ndarray) -> np.ndarray:
    """Connected groups of nerves whose outer curves come within ``distance`` in a slice."""
    n = len(tracks)
    pairs = []
    for i in range(n):
        for j in range(i + 1, n):
            common, ia, ja = np.intersect1d(tracks[i].z, tracks[j].z, return_indices=True)
            if not len(common):
                continue
            a, b = tracks[i].outer[ia] * scale, tracks[j].outer[ja] * scale
            d = np.linalg.norm(a[:, :, None] - b[:, None], axis=-1).min()
            if d <= distance:
                pairs.append((i, j))
    rows, cols = np.array(pairs, np.int64).reshape(-1, 2).T
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _size_clusters(diameters: np.ndarray, max_clusters: int, random_state: Any) -> np.ndarray:
    """Gaussian-mixture clusters of the axon diameter (BIC picks the number), 0 = smallest."""
    from sklearn.mixture import GaussianMixture

    x = diameters[:, None]
    ok = np.isfinite(diameters)
    labels = np.zeros(len(diameters), np.int64)
    n_max = min(max_clusters, ok.sum() // 3, len(np.unique(x[ok])))
    if n_max < 2:
        return labels
    # a variance floor of (10 % of the spread)**2 keeps BIC from rewarding one-point clusters
    floor = max(1e-6, float((0.1 * np.std(x[ok])) ** 2))
    fits = [GaussianMixture(k, n_init=3, reg_covar=floor, random_state=random_state).fit(x[ok])
            for k in range(1, n_max + 1)]
    best = min(fits, key=lambda g: g.bic(x[ok]))
    means = best.means_[best.predict(x[ok]), 0]
    labels[ok] = np.unique(means, return_inverse=True)[1]
    return labels


def nerve_table(tracks: Sequence[NerveTrack], voxel_size: Any = 1.0, *,
                touch_distance: float = 1.0, max_size_clusters: int = 3,
                random_state: Any = 0) -> pd.DataFrame:
    """One row per nerve: mean diameters, myelin, g-ratio, undulation, twist and clusters.

    Means are over the slices that are not ``lost`` and do not cut a node of Ranvier (fibre
    diameter, myelin thickness and g-ratio also not ``cut``): a slice with more than a tenth
    of the ring's rays without myelin (``NerveTrack.gap``) or ``lost`` marks a node (see
    :func:`nerve_nodes`), and a slice through a nerve tilted by ``theta`` cuts the node's
    disc within ``R sin(theta)`` along ``z`` of it (``R`` the fibre radius), so the slices
    within that distance plus one slice of a node slice are left out (where that leaves no
    measured slice, those farther than half that distance are used; NaN where there are
    none either: every measured slice lies near a node); every diameter is measured
    perpendicular to the nerve's centre line (see :func:`nerve_slices`).

    Parameters
    ----------
    tracks : list of NerveTrack
        From :func:`track_nerves`.
    voxel_size : float or (z, y, x) floats
        Voxel size in micrometres.
    touch_distance : float, keyword-only
        Nerves whose outer curves come this close (µm) in some slice share a ``cluster``.
    max_size_clusters : int, keyword-only
        Most Gaussian-mixture components for ``size_cluster`` (the number is chosen by BIC
        and never exceeds a third of the nerves).
    random_state : int, keyword-only, optional
        Seed of the mixture model.

    Returns
    -------
    pandas.DataFrame
        Columns ``nerve``, ``axon_diameter``, ``fibre_diameter``, ``myelin_thickness`` (µm),
        ``g_ratio``, ``eccentricity``, ``undulation`` (length of the axon centre line / its
        end-to-end distance, >= 1), ``twist`` (rotation of the axon's major axis, degrees per
        µm along ``z``, a least-squares slope weighted by the cross-section's anisotropy;
        positive turns ``x`` towards ``y``; NaN for round axons, median anisotropy < 0.05), ``n_slices``, ``z_start``, ``z_end`` (µm),
        ``cluster`` (contact group) and ``size_cluster`` (0 = smallest axons).

    See Also
    --------
    nerve_slices, nerve_nodes, nerve_clusters

    Examples
    --------
    >>> theta = 2 * np.pi * np.arange(64) / 64
    >>> circle = np.stack([np.sin(theta), np.cos(theta)], -1)
    >>> track = NerveTrack(z=[0, 1, 2], inner=[5 * circle] * 3, outer=[8 * circle] * 3)
    >>> row = nerve_table([track]).iloc[0]
    >>> round(float(row.axon_diameter), 1), int(row.n_slices), float(row.undulation)
    (10.0, 3, 1.0)
    """
    tracks = _tracks(tracks)
    vs = _units.voxel_size(voxel_size, 3)
    touch_distance = _validate.positive(touch_distance, "touch_distance", allow_zero=True)
    _validate.positive(max_size_clusters, "max_size_clusters", integer=True)
    rows = []
    for i, t in enumerate(tracks):
        s = _per_slice(t, vs)
        ok = ~s["lost"] if (~s["lost"]).any() else np.ones(len(t), bool)
        distance = _node_distance(t, s, vs[0])[ok]
        centre = np.column_stack([s["z"], s["y"], s["x"]])
        rows.append({"nerve": i, "eccentricity": _mean(s["eccentricity"][ok]),
                     **{k: _clear_mean(s[k][ok], distance) for k in
                        ("axon_diameter", "fibre_diameter", "myelin_thickness", "g_ratio")},
                     "undulation": _undulation(centre),
                     "twist": _twist(s["z"][ok], s["orientation"][ok], s["anisotropy"][ok]),
                     "n_slices": len(t), "z_start": float(s["z"].min()),
                     "z_end": float(s["z"].max()), "cluster": 0, "size_cluster": 0})
    table = _frame(rows, _TABLE_COLUMNS)
    if rows:
        table["cluster"] = _contacts(tracks, touch_distance, np.array(vs[1:]))
        table["size_cluster"] = _size_clusters(table.axon_diameter.to_numpy(),
                                               max_size_clusters, random_state)
    return table


def nerve_clusters(tracks: Sequence[NerveTrack], voxel_size: Any = 1.0, *,
                   touch_distance: float = 1.0) -> pd.DataFrame:
    """One row per contact group of nerves (outer curves within ``touch_distance`` µm).

    Parameters
    ----------
    tracks : list of NerveTrack
    voxel_size : float or (z, y, x) floats
        Voxel size in micrometres.
    touch_distance : float, keyword-only
        Largest gap (µm) between outer curves of nerves in one group.

    Returns
    -------
    pandas.DataFrame
        Columns ``cluster``, ``n_nerves``, ``nerves`` (list of nerve indices), mean
        ``axon_diameter`` and ``fibre_diameter`` of its nerves (µm).

    Examples
    --------
    >>> theta = 2 * np.pi * np.arange(64) / 64
    >>> circle = np.stack([np.sin(theta), np.cos(theta)], -1)
    >>> tracks = [NerveTrack(z=[0], inner=[3 * circle + c], outer=[5 * circle + c])
    ...           for c in ([10, 10], [10, 20], [40, 40])]
    >>> nerve_clusters(tracks)[["cluster", "n_nerves"]].values.tolist()
    [[0, 2], [1, 1]]
    """
    table = nerve_table(tracks, voxel_size, touch_distance=touch_distance)
    rows = [{"cluster": c, "n_nerves": len(g), "nerves": g.nerve.tolist(),
             "axon_diameter": g.axon_diameter.mean(), "fibre_diameter": g.fibre_diameter.mean()}
            for c, g in table.groupby("cluster")]
    return _frame(rows, _CLUSTER_COLUMNS)


def nerve_nodes(tracks: Sequence[NerveTrack], voxel_size: Any = 1.0, *, drop: float = 0.5,
                window: int = 5) -> pd.DataFrame:
    """Nodes of Ranvier: where the myelin of a nerve thins or vanishes along ``z``.

    A slice belongs to a node when it is ``lost`` (no myelin contrast), more than a tenth of
    its ring's rays hold no myelin (``NerveTrack.gap``: a slice cuts the node obliquely) or
    its contrast or myelin thickness falls below ``drop`` times the nerve's median; each run
    of such slices is one node, reported at its lowest-contrast slice.

    Parameters
    ----------
    tracks : list of NerveTrack
    voxel_size : float or (z, y, x) floats
        Voxel size in micrometres.
    drop : float, keyword-only
        Fraction of the median contrast / thickness below which the myelin counts as gone.
    window : int, keyword-only
        Slices on each side whose median myelin thickness is reported.

    Returns
    -------
    pandas.DataFrame
        Columns ``nerve``, ``slice``, ``z`` (µm), ``length`` (extent along ``z``, µm),
        ``myelin_before`` and ``myelin_after`` (median myelin thickness in the ``window``
        myelinated slices below and above the node, µm; NaN at a track end).

    Examples
    --------
    >>> theta = 2 * np.pi * np.arange(64) / 64
    >>> circle = np.stack([np.sin(theta), np.cos(theta)], -1)
    >>> lost = np.zeros(9, bool); lost[4] = True
    >>> track = NerveTrack(z=range(9), inner=[5 * circle] * 9, outer=[8 * circle] * 9,
    ...                    contrast=np.where(lost, 0.05, 0.7), lost=lost)
    >>> nerve_nodes([track])[["nerve", "slice", "length"]].values.tolist()
    [[0.0, 4.0, 1.0]]
    """
    tracks = _tracks(tracks)
    vs = _units.voxel_size(voxel_size, 3)
    drop = _validate.positive(drop, "drop")
    window = _validate.positive(window, "window", integer=True)
    rows = []
    for i, t in enumerate(tracks):
        if not len(t):
            continue
        s = _per_slice(t, vs)
        good = ~s["lost"] & ~s["cut"]
        if not good.any():
            continue
        thin = (s["lost"] | (t.gap > _INCOMPLETE)
                | (s["contrast"] < drop * np.median(s["contrast"][good]))
                | (s["myelin_thickness"] < drop * np.median(s["myelin_thickness"][good])))
        measured = ~thin & ~s["cut"]
        edges = np.flatnonzero(np.diff(np.r_[0, thin.astype(int), 0]))
        for a, b in zip(edges[::2], edges[1::2]):
            k = a + int(np.argmin(s["contrast"][a:b]))
            before = s["myelin_thickness"][:a][measured[:a]][-window:]
            after = s["myelin_thickness"][b:][measured[b:]][:window]
            rows.append({"nerve": i, "slice": int(t.z[k]), "z": float(s["z"][k]),
                         "length": (b - a) * vs[0],
                         "myelin_before": float(np.median(before)) if len(before) else np.nan,
                         "myelin_after": float(np.median(after)) if len(after) else np.nan})
    return _frame(rows, _NODE_COLUMNS)
