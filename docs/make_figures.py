"""Make the figures shown in README.md: ``python docs/make_figures.py``."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import qimcore  # noqa: E402

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


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    samples_overview()
