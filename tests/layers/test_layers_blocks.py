"""qimcore._chunk.reduce_blocks: the one block reduction behind layer tables and slab statistics."""

import dask.array as da
import pytest

from qimcore._chunk import reduce_blocks


def _sums(block, *others, location):
    return {"start": tuple(s.start for s in location), "sum": float(block.sum()),
            "other": float(sum(o.sum() for o in others)), "shape": block.shape}


@pytest.mark.parametrize("chunks", [None, (3, -1, 4)])
def test_numpy_blocks_cover_the_array_once(rng, chunks):
    volume = rng.random((7, 5, 9))
    parts = reduce_blocks(_sums, volume, chunks=chunks)
    assert sum(p["sum"] for _, p in parts) == pytest.approx(volume.sum())
    for location, part in parts:
        assert part["shape"] == volume[location].shape
        assert part["sum"] == pytest.approx(volume[location].sum())
    assert len(parts) == (1 if chunks is None else 3 * 3)


def test_dask_blocks_follow_the_first_dask_array(rng):
    volume = rng.random((7, 5, 9))
    other = rng.random((7, 5, 9))
    lazy = da.from_array(volume, chunks=(4, 5, 3))
    parts = reduce_blocks(_sums, other, lazy)                 # numpy first, cut like the dask one
    assert len(parts) == 2 * 1 * 3
    for location, part in parts:
        assert part["sum"] == pytest.approx(other[location].sum())
        assert part["other"] == pytest.approx(volume[location].sum())
    rechunked = reduce_blocks(_sums, lazy, chunks=(7, 5, 9))
    assert [p["start"] for _, p in rechunked] == [(0, 0, 0)]
