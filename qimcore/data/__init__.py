"""Sample data: the real CT volumes (:func:`sample`) and synthetic volumes with known truth
(:mod:`qimcore.data.synthetic`)."""

from . import synthetic
from ._samples import data_dir, fetch, sample, sample_path

__all__ = ["data_dir", "fetch", "sample", "sample_path", "synthetic"]
