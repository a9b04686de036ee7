"""Stroke rasterisation, undo and the Annotator's logic (no browser; see test_browser.py)."""

from __future__ import annotations

import subprocess
import sys

import dask.array as da
import numpy as np
import pytest

from qimcore._strokes import LabelEditor, stroke_mask

ipycanvas = pytest.importorskip("ipycanvas", reason="ipycanvas is not installed")
from qimcore.segment import load_scribbles, save_scribbles  # noqa: E402
from qimcore.widgets import Annotator, SparseLabels, uncertainty  # noqa: E402


def _segment_distance(shape, a, b):
    """Brute force: distance of every pixel centre to the segment a-b, by dense sampling."""
    t = np.linspace(0, 1, 4001)[:, None]
    pts = np.asarray(a, float) + t * (np.asarray(b, float) - np.asarray(a, float))
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    grid = np.stack([yy.ravel(), xx.ravel()], 1).astype(float)
    d = np.sqrt(((grid[:, None, :] - pts[None]) ** 2).sum(-1)).min(1)
    return d.reshape(shape)


# --------------------------------------------------------------------------- strokes
@pytest.mark.parametrize(("radius", "count"), [(0, 1), (1, 5), (2, 13), (3, 29), (4, 49)])
def test_point_paints_a_disk(radius, count):
    mask = stroke_mask((15, 15), [(7, 7)], radius)
    yy, xx = np.mgrid[:15, :15]
    assert mask.sum() == count
    assert (mask == ((yy - 7) ** 2 + (xx - 7) ** 2 <= radius**2)).all()


def test_thin_lines_hit_exactly_the_pixels_they_cross():
    assert (stroke_mask((5, 5), [(0, 0), (4, 4)], 0) == np.eye(5, dtype=bool)).all()
    mask = stroke_mask((4, 8), [(2, 1), (2, 6)], 0)
    assert np.argwhere(mask).tolist() == [[2, x] for x in range(1, 7)]


def test_thick_polyline_matches_brute_force(rng):
    shape = (20, 24)
    pts = rng.uniform(-2, 24, size=(4, 2))          # may leave the image: clipped
    for radius in (1, 2.5):
        got = stroke_mask(shape, pts, radius)
        d = np.min([_segment_distance(shape, a, b) for a, b in zip(pts, pts[1:])], axis=0)
        assert got[d <= radius - 1e-2].all()
        assert not got[d > radius + 1e-2].any()


def test_stroke_outside_the_image_is_empty():
    assert not stroke_mask((5, 5), [(-10, -10), (-10, 20)], 2).any()
    assert not stroke_mask((5, 5), [], 2).any()


def test_editor_paint_erase_undo_in_order(rng):
    labels = np.zeros((2, 12, 12), np.uint8)
    ed = LabelEditor(labels)
    states = [labels.copy()]
    ed.paint(0, [(3, 2), (3, 9)], 1, 1)
    states.append(labels.copy())
    ed.paint(0, [(1, 5), (8, 5)], 2, 2)                 # overlaps stroke 1
    states.append(labels.copy())
    ed.paint(1, [(6, 6)], 3, 1)
    states.append(labels.copy())
    ed.paint(0, [(3, 0), (3, 11)], 0, 0)                 # eraser along row 3
    assert not labels[0, 3].any() and (labels[0, 2] == states[-1][0, 2]).all()
    ed.paint(0, [(3, 4)], 0, 0)                          # erasing nothing: no undo step
    assert ed.undo() == 0
    for want in reversed(states):
        assert (labels == want).all()
        ed.undo()
    assert ed.undo() is None and not labels.any()


def test_editor_undo_returns_slice_and_keeps_max_history():
    ed = LabelEditor(np.zeros((3, 5, 5), np.uint8), max_undo=2)
    for z in range(3):
        ed.paint(z, [(2, 2)], 0, 1)
    assert ed.undo() == 2 and ed.undo() == 1 and ed.undo() is None
    assert ed.labels[0, 2, 2] == 1                       # beyond max_undo: kept


# --------------------------------------------------------------------------- Annotator
class MeanSegmenter:
    """Nearest class mean, one-hot probabilities; records its calls."""

    def __init__(self, image):
        self.image = image
        self.calls = []

    def propagate(self, labels):
        self.calls.append(labels.copy())
        means = np.array([self.image[labels == k].mean() if (labels == k).any() else np.inf
                          for k in (1, 2)])
        nearest = np.argmin(np.abs(self.image[None] - means.reshape(2, *[1] * labels.ndim)), 0)
        return np.stack([nearest == 0, nearest == 1]).astype(np.float32)


@pytest.fixture
def halves():
    image = np.full((3, 10, 16), 0.2, np.float32)
    image[..., 8:] = 0.8
    return image


def _drag(ann, points_yx):
    """What the canvas sends: pixel (y, x) -> canvas coordinates at pixel centres."""
    (y, x), *rest = points_yx
    ann._mouse_down(x + 0.5, y + 0.5)
    for y, x in rest:
        ann._mouse_move(x + 0.5, y + 0.5)
    ann._mouse_up(x + 0.5, y + 0.5)


def test_mouse_strokes_label_and_update_segmentation(halves):
    seg = MeanSegmenter(halves)
    ann = Annotator(halves, 2, seg, brush_size=0)
    seen = []
    ann.on_update(lambda a: seen.append(a.labels.copy()))
    assert ann.index == 1 and ann.labels.shape == halves.shape and not ann.labels.any()
    _drag(ann, [(2, 1), (2, 4)])
    assert np.argwhere(ann.labels).tolist() == [[1, 2, x] for x in range(1, 5)]
    assert len(seg.calls) == 1 and (seg.calls[0] == ann.labels).all()
    ann.classes.value = 2
    ann.brush.value = 1
    _drag(ann, [(7, 12)])
    assert (ann.labels == 2).sum() == 5
    assert ann.probabilities.shape == (2, *halves.shape)
    assert (ann.probabilities.argmax(0)[..., :8] == 0).all()
    assert (ann.probabilities.argmax(0)[..., 8:] == 1).all()
    assert len(seen) == 2 and ann.status.value.startswith("updated in")


def test_eraser_undo_and_slices(halves):
    ann = Annotator(halves, 2, brush_size=1)
    ann.slice.value = 0
    _drag(ann, [(5, 2), (5, 12)])
    ann.slice.value = 2
    ann.eraser.value = True
    _drag(ann, [(5, 6)])                                  # nothing on slice 2: no change
    ann.slice.value = 0
    _drag(ann, [(5, 6)])
    assert ann.labels[0, 5, 6] == 0 and ann.labels[0, 5, 3] == 1
    ann.slice.value = 2
    ann.undo()                                            # back to the erasing stroke's slice
    assert ann.index == 0 and ann.labels[0, 5, 6] == 1
    ann.undo()
    assert not ann.labels.any()
    ann.undo()                                            # nothing left: no error


def test_correct_an_existing_segmentation(halves):
    start = np.ones(halves.shape, np.int64)
    seg = MeanSegmenter(halves)
    ann = Annotator(halves, 2, seg, labels=start, brush_size=0)
    assert ann.labels.dtype == np.uint8 and (ann.labels == 1).all() and start.dtype == np.int64
    ann.classes.value = 2
    ann.paint([(0, 12), (9, 12)])                        # paint over a mistake
    assert (ann.labels[1, :, 12] == 2).all() and (start == 1).all()
    ann.labels = np.zeros(halves.shape, int)                 # copied in, same array
    assert not ann.labels.any() and ann.labels.dtype == np.uint8
    ann.paint([(0, 1)], value=1, index=1)
    ann.paint([(0, 15)], value=2, index=1)
    ann.accept()                                          # copy the segmentation of slice 1
    assert (ann.labels[1, :, :8] == 1).all() and (ann.labels[1, :, 8:] == 2).all()
    assert not ann.labels[0].any()
    ann.undo()                                            # accept is one undoable step
    assert np.argwhere(ann.labels).tolist() == [[1, 0, 1], [1, 0, 15]]


def test_2d_image_and_dask_volume(halves):
    ann = Annotator(halves[0], 3, brush_size=0)
    assert ann.labels.shape == (10, 16) and ann.slice.max == 0
    ann.paint([(1, 1)], value=3)
    assert ann.labels[1, 1] == 3
    lazy = Annotator(da.from_array(halves, chunks=(1, 5, 7)), 2)
    lazy.paint([(4, 4)], value=1, radius=0, index=2)
    assert isinstance(lazy.labels, SparseLabels) and lazy.labels.slices == [2]
    assert lazy.labels[2, 4, 4] == 1 and np.asarray(lazy.labels).sum() == 1


@pytest.mark.parametrize("lazy", [False, True])
def test_save_and_load_keep_labels_in_the_scribble_format(tmp_path, halves, lazy):
    volume = da.from_array(halves, chunks=(1, 10, 16)) if lazy else halves
    ann = Annotator(volume, 3)
    ann.paint([(2, 2), (6, 9)], value=3, index=0)
    ann.paint([(5, 5)], value=1, index=2, radius=2)
    path = tmp_path / "scribbles.npz"
    ann.save(path)
    dense = np.asarray(ann.labels)
    assert (load_scribbles(path) == dense).all()          # the package's one format
    again = Annotator.load(path, volume)
    assert again.n_classes == 3 and (np.asarray(again.labels) == dense).all()
    assert isinstance(again.labels, SparseLabels) == lazy


def test_bad_input_names_the_argument(halves, tmp_path):
    with pytest.raises(ValueError, match="n_classes"):
        Annotator(halves, 0)
    with pytest.raises(ValueError, match="image_or_volume"):
        Annotator(np.zeros(5), 2)
    with pytest.raises(ValueError, match="labels"):
        Annotator(halves, 2, labels=np.zeros((2, 2), int))
    with pytest.raises(ValueError, match="labels"):
        Annotator(halves, 2, labels=np.full(halves.shape, 3))
    with pytest.raises(TypeError, match="labels"):
        Annotator(halves, 2, labels=np.zeros(halves.shape))
    with pytest.raises(TypeError, match="segmenter"):
        Annotator(halves, 2, segmenter=object())
    with pytest.raises(ValueError, match="opacity"):
        Annotator(halves, 2, opacity=2)
    with pytest.raises(ValueError, match="zoom"):
        Annotator(halves, 2, zoom=3)
    ann = Annotator(halves, 2)
    with pytest.raises(ValueError, match="value"):
        ann.paint([(1, 1)], value=5)
    with pytest.raises(ValueError, match="index"):
        ann.paint([(1, 1)], index=3)
    with pytest.raises(ValueError, match="path"):
        ann.save(tmp_path / "labels.png")


def test_large_slices_are_shown_subsampled_and_painted_at_full_resolution(monkeypatch):
    import qimcore.widgets

    monkeypatch.setattr(qimcore.widgets, "_DISPLAY_MAX", 8)
    image = np.zeros((20, 30), np.float32)
    ann = Annotator(image, 2, brush_size=0)
    assert ann._step == 4 and (ann.canvas.width, ann.canvas.height) == (8, 5)
    _drag(ann, [(1, 2), (1, 5)])                  # canvas pixels -> image pixels * 4
    assert np.argwhere(ann.labels).tolist() == [[4, x] for x in range(8, 21)]
    assert ann.zoom.value == "fit" and ann.canvas.layout.width.endswith("* 1.5))")


def test_zoom_scales_the_canvas(halves):
    ann = Annotator(halves, 2, zoom=2)
    assert (ann.canvas.width, ann.canvas.height) == (16, 10)
    assert ann.canvas.layout.width == "32px"
    ann.zoom.value = 4
    assert ann.canvas.layout.height == "40px"
    ann.zoom.value = "fit"                                # width of the page, 65 % of its height
    assert ann.canvas.layout.width == "min(100%, calc(65vh * 1.6))"
    assert ann.canvas.layout.height == "auto"
    assert Annotator(halves, 2).zoom.value == "fit"        # the default


def test_segmenter_errors_show_in_the_status(halves):
    class Picky:
        def propagate(self, labels):
            raise ValueError("labels need 2 classes")

    ann = Annotator(halves, 2, Picky())
    ann.paint([(1, 1)], value=1)
    assert "2 classes" in ann.status.value and ann.probabilities is None


def test_import_does_not_pull_in_napari_or_qt():
    code = ("import sys, qimcore, qimcore.view, qimcore.widgets; "
            "print(any(m.split('.')[0] in ('napari', 'PyQt5', 'qtpy', 'vispy') "
            "for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_live_off_propagates_only_on_update(halves):
    seg = MeanSegmenter(halves)
    ann = Annotator(halves, 2, seg, live=False)
    ann.paint([(1, 1)], value=1)
    ann.paint([(1, 12)], value=2)
    assert seg.calls == [] and ann.probabilities is None
    ann.update_button.click()
    assert len(seg.calls) == 1 and ann.probabilities.shape == (2, *halves.shape)
    ann.live.value = True
    ann.paint([(5, 5)], value=1)
    assert len(seg.calls) == 2


# --------------------------------------------------------------------------- sparse labels
def test_sparse_labels_read_like_the_dense_array(rng):
    shape = (7, 9, 11)
    dense = np.zeros(shape, np.uint8)
    sparse = SparseLabels(shape)
    for _ in range(30):
        z, y, x = (int(rng.integers(s)) for s in shape)
        value = int(rng.integers(0, 4))
        dense[z, y, x] = value
        sparse[z, y, x] = value
    keys = [3, (3, 4), (slice(None), 2, 5), (slice(1, 6, 2), slice(2, 8)), (-1,),
            (np.array([0, 4]), slice(None), 3), (slice(None),)]
    for key in keys:
        assert (sparse[key] == dense[key]).all(), key
    assert (np.asarray(sparse) == dense).all() and sparse.any() == dense.any()
    assert sparse.slices == sorted(set(np.nonzero(dense)[0].tolist()))
    assert sparse.nbytes == len(sparse.slices) * 9 * 11            # only painted slices
    assert [c.tolist() for c in sparse.nonzero()] == [c.tolist() for c in np.nonzero(dense)]
    assert sparse.max() == dense.max()


def test_sparse_labels_round_trip_through_the_scribble_format(tmp_path, rng):
    dense = np.zeros((5, 6, 7), np.uint8)
    dense[rng.random(dense.shape) < 0.1] = 2
    dense[1, 2, 3] = 3
    save_scribbles(tmp_path / "a.npz", dense)
    sparse = SparseLabels.load(tmp_path / "a.npz")
    assert (np.asarray(sparse) == dense).all()
    sparse.save(tmp_path / "b.npz")
    assert (load_scribbles(tmp_path / "b.npz") == dense).all()
    with np.load(tmp_path / "a.npz") as a, np.load(tmp_path / "b.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        assert all(a[k].dtype == b[k].dtype and (a[k] == b[k]).all() for k in a.files)
    scribbles = load_scribbles(tmp_path / "a.npz", sparse=True)          # sparse in, sparse out
    assert (np.asarray(SparseLabels.from_scribbles(scribbles)) == dense).all()
    ann = Annotator(da.from_array(dense.astype(np.float32), chunks=1), 3, labels=scribbles)
    assert ann.labels.slices == sorted(set(np.nonzero(dense)[0].tolist()))
    with pytest.raises(ValueError, match="3D"):
        SparseLabels.from_scribbles(load_scribbles(tmp_path / "a.npz", sparse=True).__class__(
            [(0, 0)], [1], (2, 2)))


def test_sparse_labels_drop_erased_slices_and_reject_bad_input():
    lab = SparseLabels((100_000, 4, 4))
    lab[50_000] = 1
    assert lab.slices == [50_000] and lab.nbytes == 16 and not lab[49_999].any()
    lab[50_000, 1:3] = 0
    assert lab.nbytes == 16
    lab[50_000] = 0
    assert lab.nbytes == 0 and not lab.any() and lab.max() == 0
    assert [len(c) for c in lab.nonzero()] == [0, 0, 0]
    with pytest.raises(ValueError, match="shape"):
        SparseLabels((4, 4))
    with pytest.raises(TypeError, match="dtype"):
        SparseLabels((2, 4, 4), float)
    with pytest.raises(IndexError):
        lab.plane(100_000)


def test_uncertainty_is_one_minus_the_margin_of_the_two_best_classes():
    p = np.array([[1.0, 0.5, 0.6, 0.2], [0.0, 0.5, 0.1, 0.2], [0.0, 0.0, 0.3, 0.6]])
    np.testing.assert_allclose(uncertainty(p), [0.0, 1.0, 0.7, 0.6], atol=1e-6)
    assert uncertainty(np.ones((1, 3))).tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="probabilities"):
        uncertainty(np.zeros((0, 3)))


# --------------------------------------------------------------------------- lazy volumes
class SliceMeanSegmenter:
    """fit/propagate/predict_proba: p_k proportional to the distance to the other class mean."""

    fitted = 0

    def fit(self, image):
        SliceMeanSegmenter.fitted += 1
        self.image = image
        return self

    def _proba(self, image):
        d = np.abs(image[None] - self.means.reshape(-1, *[1] * image.ndim))
        total = d.sum(0)
        return np.where(total > 0, d[::-1] / np.where(total > 0, total, 1), 0.5).astype(
            np.float32)

    def propagate(self, labels):
        self.means = np.array([self.image[labels == k].mean() for k in (1, 2)])
        return self._proba(self.image)

    def predict_proba(self, image):
        return self._proba(image)


@pytest.fixture
def stripes():
    """Left 0.2 | right 0.8 on every slice; slice 4 is 0.5 everywhere (undecidable)."""
    volume = np.full((6, 10, 16), 0.2, np.float32)
    volume[..., 8:] = 0.8
    volume[4] = 0.5
    return volume


def test_lazy_volume_segments_the_shown_slice_only(stripes):
    SliceMeanSegmenter.fitted = 0
    ann = Annotator(da.from_array(stripes, chunks=(1, 10, 16)), 2, SliceMeanSegmenter(),
                    brush_size=0)
    ann.slice.value = 1
    ann.paint([(2, 2)], value=1)
    assert ann.probabilities is None and "two classes" in ann.status.value
    ann.paint([(2, 12)], value=2)
    assert ann.probabilities.shape == (2, 10, 16) and SliceMeanSegmenter.fitted == 1
    assert (ann.probabilities.argmax(0)[:, :8] == 0).all()
    assert (ann.probabilities.argmax(0)[:, 8:] == 1).all()
    ann.paint([(5, 5)], value=1)                      # same slice: no refit
    assert SliceMeanSegmenter.fitted == 1
    ann.slice.value = 3                               # no model, no prediction: plain slice
    assert ann._shown_probabilities() is None
    ann.slice.value = 1
    assert ann.probabilities.shape == (2, 10, 16) and ann._prob_index == 1


def test_volume_prediction_uncertainty_and_next_slice(tmp_path, stripes):
    ann = Annotator(da.from_array(stripes, chunks=(2, 5, 16)), 2, SliceMeanSegmenter(),
                    brush_size=0)
    assert ann.next_slice() is None and "no segmentation" in ann.status.value
    assert ann.predict_volume(tmp_path / "none.zarr") is None      # nothing painted yet
    ann.paint([(2, 2)], value=1, index=0)
    ann.paint([(2, 12)], value=2, index=0)
    group = ann.predict_volume(tmp_path / "pred.zarr")            # in a thread
    ann._thread.join()
    seg, unc = np.asarray(group["labels"]), np.asarray(group["uncertainty"])
    for z in (0, 1, 2, 3, 5):
        assert (seg[z, :, :8] == 1).all() and (seg[z, :, 8:] == 2).all()
        assert (unc[z] == 0).all() and ann.slice_uncertainty[z] == 0
    assert (unc[4] == 255).all() and ann.slice_uncertainty[4] == 1
    assert ann.progress.value == 6
    assert ann.next_slice() == 4 and ann.index == 4
    assert ann._shown_probabilities().shape == (2, 10, 16)         # read from the store
    ann.show_uncertainty.value = True                             # redraws without error
    ann.paint([(1, 1)], value=1, index=4)
    ann.paint([(1, 12)], value=2, index=4)
    assert ann.next_slice() in (1, 2, 3, 5)                       # labelled slices are skipped
    again = ann.predict_volume(tmp_path / "pred.zarr", background=False)
    assert np.asarray(again["labels"]).min() == 1


def test_in_memory_next_slice_follows_the_uncertainty(stripes):
    seg = SliceMeanSegmenter().fit(stripes)
    labels = np.zeros(stripes.shape, np.uint8)
    labels[0, 2, 2], labels[0, 2, 12] = 1, 2
    ann = Annotator(stripes, 2, seg, labels=labels)
    assert ann.slice_uncertainty.round(6).tolist() == [0, 0, 0, 0, 1, 0]
    assert ann.next_slice() == 4
    with pytest.raises(ValueError, match="lazy"):
        ann.predict_volume()


def test_lazy_annotator_on_a_huge_virtual_volume_reads_one_slice():
    volume = da.zeros((200_000, 256, 256), dtype=np.uint8, chunks=(1, 256, 256))  # 13 GB
    ann = Annotator(volume, 2, SliceMeanSegmenter(), brush_size=2)
    ann.paint([(10, 10), (10, 100)], value=1, index=123_456)
    ann.paint([(200, 10), (200, 100)], value=2, index=123_456)
    assert ann.labels.slices == [123_456] and ann.labels.nbytes == 256 * 256
    assert ann.probabilities.shape == (2, 256, 256)
    with pytest.raises(TypeError, match="fit"):
        Annotator(volume, 2, MeanSegmenter(np.zeros(3)))


class SteppedSliceMeanSegmenter(SliceMeanSegmenter):
    """Has the preview of DictionarySegmenter.propagate: probabilities on [::step, ::step]."""

    def propagate(self, labels, *, step=1):
        return super().propagate(labels)[:, ::step, ::step]


def test_subsampled_slice_shows_a_preview_then_the_full_resolution_result(monkeypatch, stripes):
    import qimcore.widgets

    monkeypatch.setattr(qimcore.widgets, "_DISPLAY_MAX", 8)        # 10 x 16 slices: step 2
    monkeypatch.setattr(qimcore.widgets, "_EXACT_DELAY_S", 600.0)   # run by hand below
    SliceMeanSegmenter.fitted = 0
    ann = Annotator(da.from_array(stripes, chunks=(1, 10, 16)), 2, SteppedSliceMeanSegmenter(),
                    brush_size=0)
    assert ann._step == 2
    ann.paint([(3, 2)], value=1, index=1)
    ann.paint([(3, 13)], value=2, index=1)
    z, preview = ann._preview
    assert z == 1 and preview.shape == (2, 5, 8) and ann.probabilities is None
    assert (preview.argmax(0)[:, :4] == 0).all() and (preview.argmax(0)[:, 4:] == 1).all()
    assert not ann._models.models                    # no full-resolution result to predict with
    timer = ann._exact_timer                 # the full-resolution result replaces the preview
    timer.cancel()
    timer.function()
    assert ann._preview is None and ann.probabilities.shape == (2, 10, 16)
    assert SliceMeanSegmenter.fitted == 1 and list(ann._models.models) == [1]
    exact = SliceMeanSegmenter().fit(stripes[1]).propagate(ann.labels[1])
    np.testing.assert_array_equal(ann.probabilities, exact)
    ann.paint([(6, 3)], value=1, index=1)    # a new stroke: a preview again
    assert ann._preview is not None
    ann.accept()                             # copies the full-resolution result
    assert (ann.labels[1][:, :8] == 1).all() and (ann.labels[1][:, 8:] == 2).all()
    plain = Annotator(da.from_array(stripes, chunks=(1, 10, 16)), 2, SliceMeanSegmenter(),
                      brush_size=0)          # propagate without step: full resolution at once
    plain.paint([(3, 2)], value=1, index=1)
    plain.paint([(3, 13)], value=2, index=1)
    assert plain._preview is None and plain.probabilities.shape == (2, 10, 16)
