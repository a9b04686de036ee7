"""Benchmarks of qimcore.surfaces against slgbuilder, and the banded mode on large volumes.

slgbuilder (GPL) is used here only as a reference to time against; its ``MaxflowBuilder`` has
int32 capacities, so the float cost is scaled by 1000 and rounded and both solvers get that
same integer-valued cost: their minima are then comparable exactly (``track_energy_*``).
Costs are smooth random fields (gaussian-filtered noise, sigma 3) with planted cheap surfaces,
like real data; max-flow on white noise is slow for every solver.

``peakmem_*`` is the whole process's peak (interpreter, numpy, numba or slgbuilder, the cost
arrays); ``SolverMemory.track_*`` is the solver's own share: the rise of the peak resident
memory over the resident memory just before the call, in a fresh process, divided by
``n_surfaces * Z * Y * X`` (slgbuilder's node count; ours drops the rows that the distance
limits exclude).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from qimcore.surfaces import detect_surfaces, detect_surfaces_banded


def smooth_cost(shape, planted, seed=0, sigma=3.0):
    """float32 ``(Z, Y, X)`` smooth noise in [-1, 1] minus Gaussian valleys at ``planted``."""
    rng = np.random.default_rng(seed)
    cost = ndi.gaussian_filter(rng.standard_normal(shape, dtype=np.float32), sigma)
    cost /= np.abs(cost).max()
    z = np.arange(shape[0], dtype=np.float32)[:, None, None]
    for surface in planted:
        cost -= np.exp(-0.5 * (z - surface) ** 2)
    return cost


def waves(shape, level, amplitude):
    y, x = np.mgrid[: shape[1], : shape[2]].astype(np.float32)
    return level + amplitude * np.sin(y / 37.0) * np.cos(x / 41.0)


def energy(costs, heights):
    total = 0
    for c, h in zip(costs, heights):
        flat = c.reshape(c.shape[0], -1)
        total += flat[h.reshape(-1), np.arange(flat.shape[1])].astype(np.float64).sum()
    return total


def slgbuilder_surfaces(costs, delta, min_distance=None, max_distance=None):
    """Heights ``(n,) + S`` from slgbuilder: layered boundary cost, smoothness, containment."""
    from slgbuilder import GraphObject, MaxflowBuilder

    helper = MaxflowBuilder()
    objects = [GraphObject(c) for c in costs]
    helper.add_objects(objects)
    helper.add_layered_boundary_cost()
    helper.add_layered_smoothness(delta=delta, wrap=False)
    for lower, upper in zip(objects, objects[1:]):
        helper.add_layered_containment(upper, lower, min_margin=min_distance,
                                       max_margin=max_distance)
    helper.solve()
    return helper, objects


def slgbuilder_heights(helper, objects):
    return np.stack([helper.what_segments(o).sum(axis=0) - 1 for o in objects])


def _memory_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def solver_bytes(cls_name: str, method: str) -> float:
    """Peak memory rise (bytes) of ``cls_name().method()`` over the memory before the call.

    Runs in this process: call it in a fresh one (:func:`solver_bytes_per_node`). The solver
    runs once on a tiny cost first so that imports and compiled code are already loaded.
    """
    obj = globals()[cls_name]()
    obj.setup()
    if "slgbuilder" in method:
        slgbuilder_surfaces([np.zeros((4, 3, 3), np.int32)], 1)
    else:
        detect_surfaces(np.zeros((4, 3, 3)), n_surfaces=2, max_distance=2)
    before = _memory_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    getattr(obj, method)()
    return (_memory_kib("VmHWM") - before) * 1024.0


def solver_bytes_per_node(cls_name: str, method: str, nodes: int) -> float:
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import bench_surfaces as b; "
            f"print(b.solver_bytes({cls_name!r}, {method!r}))")
    res = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent)],
                         capture_output=True, text=True, check=True)
    return float(res.stdout.split()[-1]) / nodes


class OneSurface100:
    """One surface, 100 x 100 columns x 100 deep, delta = 1 (1e6 nodes)."""

    unit = "integer cost units (slgbuilder - qimcore)"
    repeat = 2

    def setup(self):
        shape = (100, 100, 100)
        self.cost = np.rint(1000 * smooth_cost(shape, [waves(shape, 50, 20)])).astype(np.int32)
        self.costf = self.cost.astype(np.float64)

    def time_qimcore(self):
        detect_surfaces(self.costf, delta=1)

    def time_slgbuilder(self):
        slgbuilder_surfaces([self.cost], 1)

    def peakmem_qimcore(self):
        detect_surfaces(self.costf, delta=1)

    def peakmem_slgbuilder(self):
        slgbuilder_surfaces([self.cost], 1)

    def track_energy_difference(self):
        ours = detect_surfaces(self.costf, delta=1)
        theirs = slgbuilder_heights(*slgbuilder_surfaces([self.cost], 1))
        return energy([self.cost], theirs) - energy([self.cost], ours)


class TwoSurfaces200:
    """Two surfaces, 200 x 200 columns x 50 deep, delta = 1, 5 <= distance <= 20."""

    unit = "integer cost units (slgbuilder or banded - qimcore full solve)"
    repeat = 2
    kwargs = dict(delta=1, min_distance=5, max_distance=20)

    def setup(self):
        shape = (50, 200, 200)
        planted = [waves(shape, 15, 5), waves(shape, 32, 6)]
        self.cost = np.rint(1000 * smooth_cost(shape, planted, seed=1)).astype(np.int32)
        self.costf = self.cost.astype(np.float64)

    def _ours(self):
        return detect_surfaces(self.costf, n_surfaces=2, **self.kwargs)

    def _theirs(self):
        return slgbuilder_surfaces([self.cost, self.cost], 1, 5, 20)

    def time_qimcore(self):
        self._ours()

    def time_slgbuilder(self):
        self._theirs()

    def peakmem_qimcore(self):
        self._ours()

    def peakmem_slgbuilder(self):
        self._theirs()

    def track_energy_difference(self):
        theirs = slgbuilder_heights(*self._theirs())
        d = np.diff(theirs, axis=0)
        assert d.min() >= 5 and d.max() <= 20
        return energy([self.cost] * 2, theirs) - energy([self.cost] * 2, self._ours())

    def track_energy_banded_minus_full(self):
        banded = detect_surfaces_banded(self.costf, n_surfaces=2, band=8, factor=4,
                                        **self.kwargs)
        return energy([self.cost] * 2, banded.heights) - energy([self.cost] * 2, self._ours())


class SolverMemory:
    """The solvers' own peak memory per node, each in a fresh process (see the module notes)."""

    unit = "bytes per node"
    repeat = 1

    def track_one_surface_100_qimcore(self):
        return solver_bytes_per_node("OneSurface100", "time_qimcore", 10**6)

    def track_one_surface_100_slgbuilder(self):
        return solver_bytes_per_node("OneSurface100", "time_slgbuilder", 10**6)

    def track_two_surfaces_200_qimcore(self):
        return solver_bytes_per_node("TwoSurfaces200", "time_qimcore", 4 * 10**6)

    def track_two_surfaces_200_slgbuilder(self):
        return solver_bytes_per_node("TwoSurfaces200", "time_slgbuilder", 4 * 10**6)


class Banded512:
    """Banded mode, one surface, 512 x 512 columns x 256 deep (band 8, factor 4)."""

    unit = "fraction of columns at the band edge"
    repeat = 1
    shape = (256, 512, 512)

    def setup(self):
        self.cost = smooth_cost(self.shape, [waves(self.shape, 128, 30)], seed=2)

    def _run(self):
        return detect_surfaces_banded(self.cost, delta=1, band=8, factor=4)

    def time_banded(self):
        self._run()

    def peakmem_banded(self):
        self._run()

    def track_at_band_edge(self):
        return float(self._run().at_band_edge.mean())


class Banded1024(Banded512):
    """Banded mode, one surface, 1024 x 1024 columns x 256 deep (band 8, factor 4)."""

    shape = (256, 1024, 1024)
