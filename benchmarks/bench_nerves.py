"""Benchmarks for qimcore.nerves (issue #6).

- ``RealSample``: tracking on the real 128³ nerves sample with the defaults (seeds looked for
  in every slice, intensity myelin map, ``n_points=90``): time, nerve-slices per second (goal
  >= 200 on the 2-CPU machine), number of nerves and nerve-slices, tables, peak memory.
- ``Phantom``: accuracy on the synthetic phantom with exact truth (3 nerves, 40 slices,
  two touching, one elliptic and twisting, one node of Ranvier): worst per-slice errors of
  axon / fibre diameter and myelin thickness (voxels, node slices excluded), twist relative
  error, largest overlap of the touching nerves (pixels), and speed.
"""

from __future__ import annotations

import time

import numpy as np
from matplotlib.path import Path

from qimcore.data import sample
from qimcore.data.synthetic import nerve_phantom
from qimcore.nerves import nerve_nodes, nerve_slices, nerve_table, track_nerves


class _Real:
    repeat = 1

    def setup(self):
        self.volume = sample("nerves")
        self.tracks = track_nerves(self.volume)


class RealSample(_Real):
    unit = "nerve-slices/s"

    def time_track(self):
        track_nerves(self.volume)

    def time_tables(self):
        nerve_table(self.tracks, 0.5)
        nerve_slices(self.tracks, 0.5)
        nerve_nodes(self.tracks, 0.5)

    def peakmem_track(self):
        track_nerves(self.volume)

    def track_nerve_slices_per_second(self):
        t0 = time.perf_counter()
        tracks = track_nerves(self.volume)
        return sum(len(t) for t in tracks) / (time.perf_counter() - t0)


class RealSampleCounts(_Real):
    unit = "count"

    def track_n_nerves(self):
        return len(self.tracks)

    def track_n_nerve_slices(self):
        return sum(len(t) for t in self.tracks)


class _Phantom:
    repeat = 1

    def setup(self):
        self.volume, self.truth = nerve_phantom((40, 64, 64), random_state=1)
        self.tracks = track_nerves(self.volume, n_points=48)
        self.table = nerve_slices(self.tracks)

    def _error(self, column):
        worst = 0.0
        for i in range(len(self.truth["node"])):
            rows = self.table[self.table.nerve == i]
            ok = ~self.truth["node"][i]
            worst = max(worst, float(np.abs(rows[column].to_numpy() - self.truth[column][i])[ok]
                                     .max()))
        return worst


class Phantom(_Phantom):
    unit = "voxels"

    def track_axon_diameter_max_error(self):
        return self._error("axon_diameter")

    def track_fibre_diameter_max_error(self):
        return self._error("fibre_diameter")

    def track_myelin_thickness_max_error(self):
        return self._error("myelin_thickness")


class PhantomSpeed(_Phantom):
    unit = "nerve-slices/s"

    def time_track(self):
        track_nerves(self.volume, n_points=48)

    def track_nerve_slices_per_second(self):
        t0 = time.perf_counter()
        tracks = track_nerves(self.volume, n_points=48)
        return sum(len(t) for t in tracks) / (time.perf_counter() - t0)


class PhantomFractions(_Phantom):
    unit = "fraction"

    def track_twist_relative_error(self):
        twist = nerve_table(self.tracks).twist[2]
        return float(abs(twist - self.truth["twist"][2]) / self.truth["twist"][2])

    def track_slices_tracked_fraction(self):
        return sum(len(t) for t in self.tracks) / (3 * 40)


class PhantomOverlap(_Phantom):
    unit = "pixels^2"

    def track_touching_overlap_area(self):
        """Largest area in both outer curves of the touching nerves (polygon chords)."""
        yy, xx = np.mgrid[0:64:0.1, 0:64:0.1]
        grid = np.column_stack([yy.ravel(), xx.ravel()])
        return max(float((Path(a).contains_points(grid) & Path(b).contains_points(grid)).sum())
                   * 0.01 for a, b in zip(self.tracks[0].outer, self.tracks[1].outer))
