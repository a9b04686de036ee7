"""Accuracy sweeps over the phantom families of :mod:`qimcore.data.synthetic`.

``make validate`` (``python -m validation``) runs every domain module's ``report(figures)`` and
writes ``docs/accuracy.md`` with their tables and the plots in ``docs/figures/accuracy/``.
Each sweep draws phantoms with random, seeded parameters over realistic ranges and runs the
library with its defaults, so the numbers say how accurate a default call is and where it stops
being accurate.
"""
