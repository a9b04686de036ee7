"""Make the figures shown in README.md: ``python docs/make_figures.py``."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import qimcore  # noqa: E402
from qimcore.segment import DictionarySegmenter, load_scribbles  # noqa: E402

OUT = Path(__file__).resolve().parent / "figures"


def samples_overview() -> None:
    names = ["nerves", "fibres", "shell", "bone"]
    fig, axes = plt.subplots(2, 4, figsize=(12, 6.2))
    for col, name in enumerate(names):
        vol = qimcore.data.sample(name)
        axes[0, col].imshow(vol[vol.shape[0] // 2], cmap="gray")
        axes[0, col].set_title(f'sample("{name}")  z-slice')
        axes[1, col].imshow(vol[:, vol.shape[1] // 2], cmap="gray")
        axes[1, col].set_title("y-slice (z vertical)")
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(OUT / "samples.png", dpi=80)


def nerves_segmentation() -> None:
    """Dictionary segmentation of the nerves sample from the shipped scribbles (two slices)."""
    volume = qimcore.data.sample("nerves")
    labels = load_scribbles(OUT.parents[1] / "data_samples" / "nerves_scribbles.npz")
    seg = DictionarySegmenter(5, 100, features="gaussian", sigmas=(1, 2, 4, 8), smooth=1.5,
                              steps=2).fit(volume)
    prob = seg.propagate(labels)
    pred = seg.predict()
    colours = matplotlib.colors.ListedColormap(["tab:blue", "tab:red", "tab:green"])
    titles = ["P(axon)", "P(myelin)", "P(background)"]
    fig, axes = plt.subplots(2, 5, figsize=(16, 6.8))
    for row, z in zip(axes, (20, 60)):
        row[0].imshow(volume[z], cmap="gray")
        row[0].imshow(np.ma.masked_equal(labels[z], 0), cmap=colours, vmin=1, vmax=3,
                      interpolation="nearest")
        row[0].set_title(f"z = {z}: " + ("scribbles" if labels[z].any() else "no scribbles"))
        for c in range(3):
            row[c + 1].imshow(prob[c, z], cmap="magma", vmin=0, vmax=1)
            row[c + 1].set_title(titles[c])
        row[4].imshow(pred[z], cmap=colours, vmin=1, vmax=3, interpolation="nearest")
        row[4].set_title("argmax (blue axon, red myelin)")
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(OUT / "nerves_segmentation.png", dpi=70)


def nerves_tracks() -> None:
    """Tracked nerves of ``sample("nerves")``: curves in a few slices, 3D centre lines."""
    from qimcore.nerves import nerve_slices, track_nerves

    vol = qimcore.data.sample("nerves")
    tracks = track_nerves(vol, start_slice=64, max_radius=40)
    table = nerve_slices(tracks)
    colours = plt.cm.tab10(np.arange(len(tracks)) % 10)
    fig = plt.figure(figsize=(16, 4.6))
    for col, z in enumerate([10, 50, 90]):
        ax = fig.add_subplot(1, 4, col + 1)
        ax.imshow(vol[z], cmap="gray")
        for i, t in enumerate(tracks):
            if z in t.z:
                k = int(np.searchsorted(t.z, z))
                for curve in (t.inner[k], t.outer[k]):
                    closed = np.vstack([curve, curve[:1]])
                    ax.plot(closed[:, 1], closed[:, 0], color=colours[i], lw=1.2)
                ax.text(*t.inner[k].mean(0)[::-1], str(i), color=colours[i], ha="center")
        ax.set_title(f"z = {z}: axon and myelin boundaries")
        ax.axis("off")
    ax = fig.add_subplot(1, 4, 4, projection="3d")
    for i in range(len(tracks)):
        rows = table[table.nerve == i]
        ax.plot(rows.x, rows.y, rows.z, color=colours[i], lw=2, label=f"nerve {i}")
    ax.set(xlim=(0, 127), ylim=(127, 0), zlim=(0, 127), xlabel="x", ylabel="y", zlabel="z",
           title=f"{len(tracks)} nerves, {len(table)} nerve-slices")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(OUT / "nerves_tracks.png", dpi=80)


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    samples_overview()
    nerves_tracks()
    nerves_segmentation()
