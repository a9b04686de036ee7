"""Accuracy of the dictionary-diffusion segmenter on the texture family (issue #15).

``report(figures)`` sweeps :func:`qimcore.data.synthetic.texture_family` with the library's
default :class:`qimcore.segment.DictionarySegmenter` and returns the markdown section of
``docs/accuracy.md``; ``sweep()`` measures the defaults against their neighbours (one
parameter changed at a time) on other members of the family: the evidence for the defaults.

    python validation/segment.py            # writes docs/accuracy_segment.md and its figures
    python validation/segment.py --sweep    # prints the defaults sweep table
"""

from __future__ import annotations

import argparse
import pathlib
import time

import numpy as np

from qimcore.data.synthetic import sparse_labels, texture_family
from qimcore.segment import DictionarySegmenter

SHAPE = (256, 256)
FRACTIONS = (0.0005, 0.001, 0.0016, 0.003, 0.005, 0.01, 0.02, 0.05)
#: the defaults before the sweep (issue #15): 9² patches, one-step propagation
OLD_DEFAULTS = {"patch_size": 9, "n_words": 1000, "steps": 1, "smooth": 0.0}
#: one parameter changed at a time around the defaults
NEIGHBOURS = ({"patch_size": 5}, {"patch_size": 9}, {"patch_size": 11},
              {"n_words": 300}, {"n_words": 3000}, {"n_basis": 3}, {"n_basis": 5},
              {"steps": 1}, {"smooth": 1.0}, {"smooth": 2.0}, {"weighting": "entropy"},
              {"method": "kmtree"})


def _accuracy(segmenter: DictionarySegmenter, labels: np.ndarray, truth: np.ndarray,
              n_classes: int) -> float:
    """Fraction of all pixels whose most probable class is the true one."""
    prob = segmenter.propagate(labels, n_classes=n_classes)
    return float((prob.argmax(0) + 1 == truth).mean())


def _labels(truth: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    return sparse_labels(truth, fraction, random_state=seed)


def sweep(n_images: int = 12, fractions: tuple[float, ...] = (0.0016, 0.005, 0.02),
          seed: int = 1000) -> list[tuple[str, np.ndarray]]:
    """Accuracy ``(n_images * len(fractions),)`` of the defaults, the old defaults and each
    of :data:`NEIGHBOURS`, on members ``seed, seed + 1, ...`` of the family."""
    configs = [("defaults", {}), ("old defaults (9, steps=1)", OLD_DEFAULTS)]
    configs += [(", ".join(f"{k}={v}" for k, v in n.items()), n) for n in NEIGHBOURS]
    # configurations that differ only in propagation share one fit
    fit_keys = ("patch_size", "n_words", "n_basis", "method")
    scores: dict[str, list[float]] = {name: [] for name, _ in configs}
    for i in range(n_images):
        image, truth, p = texture_family(SHAPE, random_state=seed + i)
        labels = [_labels(truth, f, seed + i) for f in fractions]
        fitted: dict[tuple, DictionarySegmenter] = {}
        for name, params in configs:
            key = tuple(params.get(k) for k in fit_keys)
            if key not in fitted:
                fitted[key] = DictionarySegmenter(
                    **{k: v for k, v in params.items() if k in fit_keys}).fit(image)
            seg = fitted[key]
            defaults = DictionarySegmenter()
            for k in ("steps", "smooth", "weighting"):
                setattr(seg, k, params.get(k, getattr(defaults, k)))
            scores[name] += [_accuracy(seg, lab, truth, p["n_classes"]) for lab in labels]
    return [(name, np.array(s)) for name, s in scores.items()]


def _sweep_table(rows: list[tuple[str, np.ndarray]], n_fractions: int) -> str:
    lines = ["| settings | mean | worst | 10th percentile | per labelled fraction |",
             "|---|---|---|---|---|"]
    for name, acc in rows:
        per = " / ".join(f"{a:.3f}" for a in acc.reshape(-1, n_fractions).mean(0))
        lines.append(f"| {name} | {acc.mean():.4f} | {acc.min():.3f} | "
                     f"{np.percentile(acc, 10):.3f} | {per} |")
    return "\n".join(lines)


def _plot(figures: pathlib.Path, name: str, x: np.ndarray, curves: dict, xlabel: str,
          log: bool = False) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.4))
    for label, acc in curves.items():
        acc = np.asarray(acc)
        ax.plot(x, acc.mean(1), "o-", label=f"{label} (mean)")
        ax.fill_between(x, acc.min(1), acc.max(1), alpha=0.2, label=f"{label} (range)")
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fraction of pixels correct")
    ax.set_ylim(min(0.5, float(np.min([np.min(a) for a in curves.values()]))), 1.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    figures.mkdir(parents=True, exist_ok=True)
    fig.savefig(figures / f"{name}.png", dpi=100)
    plt.close(fig)
    return f"![{xlabel}](figures/accuracy/{name}.png)"


def _first(values: tuple, ok: np.ndarray) -> str:
    """The first of ``values`` (in %) where ``ok`` holds, formatted; "never" if none."""
    hits = [v for v, good in zip(values, ok) if good]
    return f"{100 * hits[0]:.2f}" if hits else "never"


def _table(x: list, acc: np.ndarray, xname: str, fmt: str = "{}") -> str:
    lines = [f"| {xname} | mean | worst | best |", "|---|---|---|---|"]
    for v, a in zip(x, acc):
        lines.append(f"| {fmt.format(v)} | {a.mean():.3f} | {a.min():.3f} | {a.max():.3f} |")
    return "\n".join(lines)


def report(figures: pathlib.Path, n_sweep: int = 6) -> str:
    """Markdown section: accuracy versus labelled fraction, number of classes and contrast,
    and the sweep of the defaults on ``n_sweep`` other images."""
    t0 = time.time()
    figures = pathlib.Path(figures)
    seg = DictionarySegmenter()
    n = 6
    # -- versus labelled fraction: defaults and old defaults on the same images and labels
    new = np.zeros((len(FRACTIONS), n))
    old = np.zeros((len(FRACTIONS), n))
    for i in range(n):
        image, truth, p = texture_family(SHAPE, random_state=i)
        fitted = {"new": DictionarySegmenter().fit(image),
                  "old": DictionarySegmenter(**OLD_DEFAULTS).fit(image)}
        for j, f in enumerate(FRACTIONS):
            labels = _labels(truth, f, i)
            new[j, i] = _accuracy(fitted["new"], labels, truth, p["n_classes"])
            old[j, i] = _accuracy(fitted["old"], labels, truth, p["n_classes"])
    fig_fraction = _plot(figures, "segment_fraction", 100 * np.array(FRACTIONS),
                         {"defaults": new, "old defaults": old},
                         "labelled pixels (%)", log=True)
    # -- versus number of classes and contrast (0.5 % labelled, other properties random)
    classes = [2, 3, 4, 5]
    by_class = np.zeros((len(classes), n))
    contrasts = [0.5, 1.0, 1.5, 2.0, 3.0, 5.0]
    by_contrast = np.zeros((len(contrasts), n))
    for i in range(n):
        for j, k in enumerate(classes):
            image, truth, _ = texture_family(SHAPE, n_classes=k, random_state=100 + i)
            by_class[j, i] = _accuracy(seg.fit(image), _labels(truth, 0.005, i), truth, k)
        for j, c in enumerate(contrasts):
            image, truth, p = texture_family(SHAPE, contrast=c, random_state=200 + i)
            by_contrast[j, i] = _accuracy(seg.fit(image), _labels(truth, 0.005, i), truth,
                                          p["n_classes"])
    fig_class = _plot(figures, "segment_classes", np.array(classes), {"defaults": by_class},
                      "number of classes")
    fig_contrast = _plot(figures, "segment_contrast", np.array(contrasts),
                         {"defaults": by_contrast}, "contrast (stripe amplitude / noise std)")
    settings = ", ".join(f"`{k}={getattr(seg, k)!r}`" for k in (
        "patch_size", "n_words", "method", "features", "n_basis", "steps", "smooth", "weighting"))
    sweep_fractions = (0.0016, 0.005, 0.02)
    rows = sweep(n_sweep, sweep_fractions)
    return f"""## Segmentation (dictionary diffusion)

Family: `qimcore.data.synthetic.texture_family`, {SHAPE[0]}×{SHAPE[1]} pixels, 2–5 classes of
stripes (period 3–12 px drawn per class, evenly spread random directions, class grey offsets up
to ±0.5 amplitude), regions of Gaussian size 8–32 px, contrast (amplitude / noise std) 1–5;
labels: random pixels ≥ 2 px inside their region (`sparse_labels`). Accuracy = fraction of all
pixels whose most probable class is the true one. Library defaults: {settings}.
{n} images per point (seeded); mean, worst and best over the images.

### Versus labelled fraction

{fig_fraction}

{_table([100 * f for f in FRACTIONS], new, "labelled %", "{:.2f}")}

Old defaults (`patch_size=9, steps=1`) on the same images and labels:

{_table([100 * f for f in FRACTIONS], old, "labelled %", "{:.2f}")}

With {100 * FRACTIONS[2]:.2f} % labelled pixels the mean accuracy is {new[2].mean():.3f}, the
worst image {new[2].min():.3f} (old defaults: {old[2].mean():.3f} and {old[2].min():.3f}). The mean
reaches 0.95 at {_first(FRACTIONS, new.mean(1) >= 0.95)} % labelled; below 0.1 % accuracy falls
off (too few labels to reach every word of the dictionary). More labels than about 0.3 % change
little: what remains are the pixels at region borders, where a patch straddles two textures.

### Versus number of classes (0.5 % labelled)

{fig_class}

{_table(classes, by_class, "classes")}

### Versus contrast (0.5 % labelled)

{fig_contrast}

{_table(contrasts, by_contrast, "contrast", "{:.1f}")}

Below contrast 1 (noise stronger than the texture) accuracy falls off: the mean is
{by_contrast[0].mean():.3f} at 0.5 and {by_contrast[2].mean():.3f} at 1.5.

### Choice of the defaults

The defaults and their neighbours (one parameter changed at a time) on {n_sweep} other members
of the family, each at {", ".join(f"{100 * f:.2f}" for f in sweep_fractions)} % labelled pixels
(`sweep()` in `validation/segment.py`):

{_sweep_table(rows, len(sweep_fractions))}

Two-step propagation is the largest gain (from 0.94 to 0.97 in the mean, most at few labels).
7² patches beat 9² and 11² (sharper borders); 5² ties in the mean here but fails on members
with long periods at low contrast (member 0 at 256², 1 % labelled: 0.82 with 5², 0.95 with
7²). Differences below about 0.002 (more words, `n_basis=5`, smoothing, entropy weighting) are
within the spread between images; the defaults keep the cheaper setting.

Runtime of this section: {time.time() - t0:.0f} s.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true", help="print the defaults sweep table")
    parser.add_argument("--images", type=int, default=12, help="images in the sweep (12)")
    args = parser.parse_args()
    if args.sweep:
        fractions = (0.0016, 0.005, 0.02)
        t0 = time.time()
        rows = sweep(args.images, fractions)
        print(_sweep_table(rows, len(fractions)))
        print(f"\n{args.images} images x labelled fractions {fractions}; {time.time() - t0:.0f} s")
        return
    root = pathlib.Path(__file__).resolve().parents[1] / "docs"
    text = report(root / "figures" / "accuracy")
    (root / "accuracy_segment.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
