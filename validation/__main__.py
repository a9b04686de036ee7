"""Write docs/accuracy.md: ``python -m validation [DOMAIN ...]``."""

from __future__ import annotations

import argparse
import importlib
import time
from pathlib import Path

import matplotlib

from qimcore._files import atomic_file

DOMAINS = ("segment", "fibres", "layers", "nerves")
DOCS = Path(__file__).resolve().parents[1] / "docs"
HEADER = """# Accuracy of qimcore's numbers

Made by `make validate` (`python -m validation`, code in `validation/`). Each section sweeps a family of
synthetic volumes from `qimcore.data.synthetic` with random, seeded parameters over realistic ranges,
runs the library **with its defaults**, and compares with the known truth. Cite these numbers with the
range they were measured over; outside it they are not established. Sections can be rerun alone
(`python -m validation fibres`); the others are kept from their last run.
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m validation", description=__doc__,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("domains", nargs="*", default=list(DOMAINS),
                        help=f"which sweeps to run, any of {', '.join(DOMAINS)}")
    parser.add_argument("--collect", action="store_true",
                        help="run no sweep: only gather the sections written before")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.domains) - set(DOMAINS))
    if unknown:
        parser.error(f"unknown domain(s) {', '.join(unknown)}; choose from {', '.join(DOMAINS)}")
    matplotlib.use("Agg")
    figures = DOCS / "figures" / "accuracy"
    figures.mkdir(parents=True, exist_ok=True)
    for domain in [] if args.collect else args.domains:
        start = time.perf_counter()
        section = importlib.import_module(f"validation.{domain}").report(figures)
        _write(DOCS / f"accuracy_{domain}.md", section.strip() + "\n")
        print(f"validation: {domain} done in {time.perf_counter() - start:.0f} s")
    parts = [HEADER] + [(DOCS / f"accuracy_{d}.md").read_text() for d in DOMAINS
                        if (DOCS / f"accuracy_{d}.md").exists()]
    _write(DOCS / "accuracy.md", "\n".join(parts))
    print(f"validation: wrote {DOCS / 'accuracy.md'}")


def _write(path: Path, text: str) -> None:
    with atomic_file(path) as tmp:
        tmp.write_text(text)


if __name__ == "__main__":
    main()
