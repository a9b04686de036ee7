"""Accuracy of :mod:`qimcore.nerves` with its defaults: the nerve phantom family and the real sample.

``report(figures)`` sweeps :func:`qimcore.data.synthetic.nerve_family` over the bundle tilt
(other properties drawn at random: axon diameter, g-ratio, ellipticity, twist, touching
neighbours, nodes of Ranvier, look-alikes, noise, blur, nerves cut by the border) and measures

- the per-nerve axon and fibre diameter, myelin thickness and g-ratio of :func:`nerve_table`
  against the truth (perpendicular to the nerve), and what the z-slice would give;
- the fraction of the slices where a nerve's myelin ring is closed inside the image that are
  tracked, and the tracks that match no nerve;

and, on the real sample, the slices where a myelin ring is closed inside the image, measured
independently of the tracker: from the dictionary segmentation of the sample's scribbles
(a closed ring = a non-myelin hole enclosed by myelin, not touching the border, of at least
20 pixels, at least a quarter of it axon), then the fraction of them inside a tracked nerve.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.path import Path as Polygon
from scipy import ndimage as ndi

from qimcore.data import data_dir, sample
from qimcore.data.synthetic import nerve_family
from qimcore.nerves import nerve_table, polygon_moments, track_nerves
from qimcore.segment import DictionarySegmenter, load_scribbles

TILTS = (0.0, 10.0, 20.0, 30.0, 40.0, 45.0)
SEEDS = 8                    # phantoms per tilt
SHAPE = (48, 96, 96)
QUANTITIES = ("axon_diameter", "fibre_diameter", "myelin_thickness", "g_ratio")
MIN_SLICES = 8               # measured (not lost, not cut) slices for a nerve to be scored


def match(tracks: list, truth: dict) -> np.ndarray:
    """Truth nerve of each track (-1: none): the nerve whose axis passes within its axon
    radius of the track's axon centroid in most of the track's slices."""
    out = np.full(len(tracks), -1)
    for k, t in enumerate(tracks):
        centre = t.inner.mean(axis=1)
        hits = [(np.linalg.norm(centre - truth["centre"][i, t.z], axis=-1)
                 < truth["axon_diameter"][i] / 2).sum() for i in range(len(truth["g_ratio"]))]
        if hits and max(hits) > len(t) / 2:
            out[k] = int(np.argmax(hits))
    return out


def _slice_values(track) -> dict[str, float]:
    """What the z-slice alone gives (no correction for the tilt), for comparison."""
    ok = ~track.lost & ~track.cut
    axon = 2 * np.sqrt(polygon_moments(track.inner[ok])["area"] / np.pi)
    fibre = 2 * np.sqrt(polygon_moments(track.outer[ok])["area"] / np.pi)
    return {"axon_diameter": axon.mean(), "fibre_diameter": fibre.mean(),
            "myelin_thickness": ((fibre - axon) / 2).mean(), "g_ratio": (axon / fibre).mean()}


def sweep() -> tuple[list[dict], list[dict]]:
    """One row per scored nerve (relative errors) and one per phantom (tracking counts)."""
    nerves, phantoms = [], []
    for tilt in TILTS:
        for seed in range(SEEDS):
            volume, truth = nerve_family(1000 * int(tilt) + seed, SHAPE, tilt=tilt)
            tracks = track_nerves(volume)
            owner = match(tracks, truth)
            table = nerve_table(tracks)
            closed, tracked = truth["closed"], np.zeros_like(truth["closed"])
            for k, i in enumerate(owner):
                if i >= 0:
                    tracked[i, tracks[k].z] = True
            short = sum(len(t) < 10 and i >= 0 and closed[i].sum() >= 10
                        for t, i in zip(tracks, owner))
            phantoms.append({"tilt": tilt, "closed": int(closed.sum()),
                             "tracked": int((closed & tracked).sum()),
                             "unmatched": int((owner < 0).sum()), "short": int(short),
                             "lookalikes": len(truth["lookalikes"])})
            for k, i in enumerate(owner):
                t = tracks[k]
                if i < 0 or (~t.lost & ~t.cut).sum() < MIN_SLICES:
                    continue
                flat = _slice_values(t)
                clear = (~t.lost & ~t.cut & ~truth["node"][i, t.z]).sum() >= MIN_SLICES
                row = {"tilt": tilt, "node": bool(truth["node"][i].any()), "clear": bool(clear)}
                for q in QUANTITIES:
                    row[q] = table[q][k] / truth[q][i] - 1
                    row[q + "_slice"] = flat[q] / truth[q][i] - 1
                nerves.append(row)
    return nerves, phantoms


def closed_rings(probabilities: np.ndarray, *, min_area: int = 20) -> list[tuple[int, float, float]]:
    """``(z, y, x)`` centroids of the closed myelin rings of a segmented volume (class 2 =
    myelin, class 1 = axon): holes of the myelin not touching the border, at least
    ``min_area`` pixels, at least a quarter of them axon (a light streak inside one sheath
    is no axon)."""
    classes = probabilities.argmax(axis=0)
    rings = []
    for z, labels in enumerate(classes):
        myelin = labels == 1
        holes, n = ndi.label(ndi.binary_fill_holes(myelin) & ~myelin)
        for j in range(1, n + 1):
            hole = holes == j
            if hole.sum() >= min_area and (labels[hole] == 0).mean() >= 0.25:
                rings.append((z, *ndi.center_of_mass(hole)))
    return rings


def real_sample() -> dict:
    """Closed rings of the real sample (segmentation) against the default tracks."""
    volume = sample("nerves")
    segmenter = DictionarySegmenter(patch_size=7, n_words=200, method="kmtree",
                                    branching=6).fit(volume)
    rings = closed_rings(segmenter.propagate(load_scribbles(data_dir() / "nerves_scribbles.npz")))
    tracks = track_nerves(volume)
    hit = [any(Polygon(t.outer[z - t.z[0]]).contains_point((y, x)) for t in tracks if z in t.z)
           for z, y, x in rings]
    return {"rings": len(rings), "tracked": int(np.sum(hit)),
            "missed": sorted({z for (z, _, _), h in zip(rings, hit) if not h}),
            "tracks": [(int(t.z[0]), int(t.z[-1])) for t in tracks]}


def _plot(nerves: list[dict], path: Path) -> None:
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.8), sharex=True)
    tilt = np.array([r["tilt"] for r in nerves])
    jitter = np.random.default_rng(0).uniform(-1.2, 1.2, len(tilt))
    for ax, q in zip(axes, QUANTITIES):
        ax.scatter(tilt + jitter, [100 * r[q + "_slice"] for r in nerves], s=9, c="0.6",
                   label="in the z-slice")
        ax.scatter(tilt + jitter, [100 * r[q] for r in nerves], s=9, c="tab:red",
                   label="perpendicular (library)")
        ax.axhspan(-3, 3, color="tab:green", alpha=0.12)
        ax.set_title(q)
        ax.set_xlabel("tilt (degrees)")
    axes[0].set_ylabel("error (%)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def report(figures: Path) -> str:
    nerves, phantoms = sweep()
    _plot(nerves, Path(figures) / "nerves_error_vs_tilt.png")
    real = real_sample()
    lines = ["## Nerves (`track_nerves`, `nerve_table`)", "",
             f"`nerve_family` phantoms, {SHAPE[0]} x {SHAPE[1]} x {SHAPE[2]} voxels, {SEEDS} per "
             "tilt (axon diameter 10-20 voxels, g-ratio 0.5-0.7, axon aspect 0.6-1, twist up to "
             "3 deg/voxel, a touching pair, up to 2 nodes of Ranvier and 2 look-alikes, noise "
             "0.02-0.06 on a myelin contrast of 0.6, blur 0.4-0.8 voxel, nerves crossing the "
             "border), `track_nerves(volume)` and `nerve_table(tracks)` with defaults. Errors are "
             "per nerve (table means) relative to the truth perpendicular to the nerve; nerves "
             f"with at least {MIN_SLICES} measured slices.", "",
             "| tilt | nerves | axon diameter | fibre diameter | myelin thickness | g-ratio "
             "| axon diameter in the z-slice |",
             "|---|---|---|---|---|---|---|"]
    groups = [(f"{t:.0f}°", [r for r in nerves if r["tilt"] == t and not r["node"]])
              for t in TILTS]
    groups += [("all, with a node of Ranvier and "
                f"{MIN_SLICES} measured slices clear of it",
                [r for r in nerves if r["node"] and r["clear"]]),
               ("all, with a node of Ranvier, fewer slices clear of it",
                [r for r in nerves if r["node"] and not r["clear"]])]
    for name, rows in groups:
        cells = []
        for q in (*QUANTITIES, "axon_diameter_slice"):
            err = 100 * np.abs([r[q] for r in rows])
            missing = f", {np.isnan(err).sum()} not measured" if np.isnan(err).any() else ""
            err = err[np.isfinite(err)]
            cells.append(f"{np.median(err):.1f} % (95 %: {np.percentile(err, 95):.1f} %, "
                         f"max {err.max():.1f} %{missing})" if len(err) else "-")
        lines.append(f"| {name} | {len(rows)} | " + " | ".join(cells) + " |")
    worst = {q: 100 * np.nanmax([abs(r[q]) for r in nerves if r["clear"] or not r["node"]]
                                + [np.nan]) for q in QUANTITIES}
    lines += ["", "Median absolute error (95th percentile, largest) of nerves without a node of "
              "Ranvier per tilt, then all nerves with one. Largest error of any scored nerve "
              f"(all tilts) but those with a node and fewer than {MIN_SLICES} measured slices "
              "clear of it: "
              + ", ".join(f"{q.replace('_', ' ').replace('g ', 'g-')} {worst[q]:.1f} %"
                          for q in QUANTITIES)
              + ". A z-slice cuts a tilted node obliquely: its disc (radius `R`, the fibre's) "
              "over `2 R sin(tilt)` along z, each slice with part of the ring open or thinned; "
              "the slices with more than a tenth of the ring open (`NerveTrack.gap`) or lost, "
              "and those within `R sin(tilt)` plus one slice of them, are left out of every "
              "diameter mean (where no measured slice is left, those farther than half that "
              "distance are used, and where there are none either the nerve is not "
              "measured, NaN: a nerve "
              "with all its measured slices within a node's reach is measured less well, "
              "last row). Where a boundary has no edge of its own on some rays (the sheath "
              "open at a node, or running on into the sheath of a touching nerve that is not "
              "tracked, e.g. one cut by the border; a ray's thickness an outlier from the "
              "ring's) the tracker interpolates it around the ring from the other rays. The "
              "myelin thickness is half the difference of two diameters: on a thin sheath "
              "(2-3 voxels) an error of 0.1 voxel is 3-5 %. "
              "![diameter error versus tilt](figures/accuracy/nerves_error_vs_tilt.png)", ""]
    closed = sum(p["closed"] for p in phantoms)
    tracked = sum(p["tracked"] for p in phantoms)
    lines += ["| tilt | closed-ring slices | tracked | unmatched tracks | look-alikes | "
              "nerves closed >= 10 slices with a track < 10 |", "|---|---|---|---|---|---|"]
    for tilt in TILTS:
        ps = [p for p in phantoms if p["tilt"] == tilt]
        c, t = sum(p["closed"] for p in ps), sum(p["tracked"] for p in ps)
        lines.append(f"| {tilt:.0f}° | {c} | {100 * t / max(c, 1):.1f} % | "
                     f"{sum(p['unmatched'] for p in ps)} | {sum(p['lookalikes'] for p in ps)} | "
                     f"{sum(p['short'] for p in ps)} |")
    lines += ["", f"Over the family: {100 * tracked / max(closed, 1):.1f} % of the {closed} "
              "slices where a myelin ring is closed inside the image are tracked.", "",
              "**Real sample** (`sample('nerves')`, 128³, `track_nerves(volume)`): closed myelin "
              "rings from the dictionary segmentation of `nerves_scribbles.npz` (independent of "
              f"the tracker): {real['tracked']} of {real['rings']} closed-ring slices tracked "
              f"({100 * real['tracked'] / max(real['rings'], 1):.1f} %); missed in slices "
              f"{real['missed']}. Tracks (first, last slice): {real['tracks']}."]
    return "\n".join(lines) + "\n"
