"""Benchmarks for qimcore.widgets: the Annotator's stroke round trip on a 512² slice.

The issue asks for <= 0.3 s from the end of a stroke to the new overlay: rasterise the stroke,
``segmenter.propagate`` (a fitted DictionarySegmenter with default settings), composite and send
the slice (level-1 PNG). Measured kernel-side, without the browser (the local transfer of the
~0.5 MB PNG adds a few ms). Also a 3D volume of 64 x 128² (the nerves sample is 128³; the
512² slice is its middle slice upsampled 4x).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from qimcore.data import sample
from qimcore.segment import DictionarySegmenter
from qimcore.widgets import Annotator


def _annotator(image: np.ndarray) -> Annotator:
    segmenter = DictionarySegmenter(random_state=0).fit(image)
    ann = Annotator(image, 2, segmenter, brush_size=3)
    y, x = np.asarray(ann.labels.shape[-2:]) // 4
    ann.paint([(y, x), (y, 2 * x)], value=1)
    ann.paint([(3 * y, 2 * x), (3 * y, 3 * x)], value=2)
    return ann


class StrokeRoundTrip:
    """One stroke -> labels -> propagate -> redraw, on real CT slices."""

    unit = "seconds"

    def setup(self):
        nerves = sample("nerves").astype(np.float32)              # (128, 128, 128)
        self.slice512 = _annotator(ndi.zoom(nerves[64], 4, order=1))   # a 512² CT slice
        self.volume = _annotator(nerves[:64])
        self._k = 0

    def _stroke(self, ann: Annotator):
        self._k = (self._k + 1) % 20
        y = 40 + self._k
        ann.paint([(y, 40), (y, 120)], value=1 + self._k % 2)

    def time_stroke_round_trip_512(self):
        self._stroke(self.slice512)

    def time_redraw_only_512(self):
        self.slice512.redraw()

    def time_propagate_only_512(self):
        self.slice512.segmenter.propagate(self.slice512.labels)

    def time_stroke_round_trip_volume_64x128x128(self):
        self._stroke(self.volume)

    def time_propagate_only_volume_64x128x128(self):
        self.volume.segmenter.propagate(self.volume.labels)

    def track_last_update_512(self):
        self._stroke(self.slice512)
        return self.slice512.last_update_s
