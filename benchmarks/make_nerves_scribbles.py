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
    # z = 20: axon interiors (bright, inside a dark ring)
    (20, 1, [(48, 92), (48, 104)]),
    (20, 1, [(44, 94), (52, 104)]),
    (20, 1, [(100, 70), (80, 88)]),
    (20, 1, [(6, 48), (6, 62)]),
    (20, 1, [(104, 114), (112, 120)]),
    # z = 20: myelin (the dark rings)
    (20, 2, [(48, 80), (48, 86)]),
    (20, 2, [(96, 62), (82, 76)]),
    (20, 2, [(110, 70), (112, 78)]),
    (20, 2, [(22, 42), (22, 52)]),
    (20, 2, [(30, 96), (32, 108)]),
    # z = 20: background (bright, between the rings)
    (20, 3, [(22, 70), (22, 80)]),
    (20, 3, [(20, 18), (24, 30)]),
    (20, 3, [(56, 40), (62, 54)]),
    (20, 3, [(30, 70), (40, 76)]),
    (20, 3, [(30, 56), (40, 62)]),
    (20, 3, [(84, 112), (90, 124)]),
    # z = 100: axon interiors
    (100, 1, [(30, 86), (34, 94)]),
    (100, 1, [(84, 62), (76, 74)]),
    (100, 1, [(70, 66), (76, 80)]),
    (100, 1, [(90, 106), (94, 116)]),
    (100, 1, [(72, 6), (86, 8)]),
    # z = 100: myelin
    (100, 2, [(42, 84), (42, 98)]),
    (100, 2, [(42, 68), (42, 72)]),
    (100, 2, [(60, 94), (62, 104)]),
    (100, 2, [(90, 72), (92, 80)]),
    (100, 2, [(76, 20), (84, 24)]),
    # z = 100: background
    (100, 3, [(24, 30), (24, 50)]),
    (100, 3, [(116, 100), (120, 116)]),
    (100, 3, [(70, 108), (76, 120)]),
    (100, 3, [(48, 20), (56, 40)]),
    (100, 3, [(104, 60), (108, 80)]),
    (100, 3, [(100, 40), (112, 50)]),
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
