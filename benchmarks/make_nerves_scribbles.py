"""Make ``data_samples/nerves_scribbles.npz``: a few hand-placed strokes on two slices of the
nerves sample (1 = axon, 2 = myelin, 3 = background). Deterministic; run from the repo root::

    python benchmarks/make_nerves_scribbles.py [--show PNG]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from skimage.draw import line

from qimcore.segment import save_scribbles

SHAPE = (128, 128, 128)
# (slice z, label, polyline of (y, x) points)
STROKES = [
    (20, 1, [(48, 86), (48, 98)]),
    (20, 1, [(96, 62), (82, 76)]),
    (20, 2, [(48, 74), (48, 78)]),
    (20, 2, [(110, 70), (112, 78)]),
    (20, 3, [(22, 70), (22, 80)]),
    (20, 3, [(20, 18), (24, 30)]),
    (20, 3, [(64, 106), (72, 120)]),
    (20, 3, [(56, 40), (62, 54)]),
    (20, 2, [(22, 42), (22, 52)]),
    (20, 3, [(36, 112), (52, 124)]),
    (100, 1, [(42, 84), (42, 98)]),
    (100, 1, [(84, 62), (76, 74)]),
    (100, 2, [(42, 68), (42, 72)]),
    (100, 2, [(60, 94), (62, 104)]),
    (100, 3, [(24, 30), (24, 50)]),
    (100, 3, [(116, 100), (120, 116)]),
    (100, 3, [(70, 108), (76, 120)]),
    (100, 2, [(90, 72), (92, 80)]),
]


def scribbles() -> np.ndarray:
    labels = np.zeros(SHAPE, np.uint8)
    for z, label, points in STROKES:
        for (y0, x0), (y1, x1) in zip(points, points[1:]):
            yy, xx = line(y0, x0, y1, x1)
            labels[z, yy, xx] = label
    return labels


if __name__ == "__main__":
    out = Path(__file__).resolve().parents[1] / "data_samples" / "nerves_scribbles.npz"
    labels = scribbles()
    save_scribbles(out, labels)
    print(f"wrote {out}: {(labels > 0).sum()} labelled voxels")
    if "--show" in sys.argv:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from qimcore.data import sample
        volume = sample("nerves")
        fig, axes = plt.subplots(1, 2, figsize=(12, 6))
        for ax, z in zip(axes, sorted({s[0] for s in STROKES})):
            ax.imshow(volume[z], cmap="gray")
            ax.imshow(np.ma.masked_equal(labels[z], 0), cmap="brg", vmin=1, vmax=3)
            ax.set_title(f"z = {z}")
        fig.savefig(sys.argv[sys.argv.index("--show") + 1], dpi=70)
