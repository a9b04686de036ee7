"""napari: the viewer with every layer kind, the plugin manifest, reader, samples and widgets.

napari needs a real X display with OpenGL (Qt's offscreen platform does not work), so the
check runs this file as a script under ``xvfb-run -a`` with Mesa's software GL, in a fresh
process (napari's imports also warn, which pytest would turn into errors). It writes a JSON
report and ``test-artifacts/napari_{3d,2d}.png``, which the tests read.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO / "qimcore" / "napari.yaml"


def _scene() -> dict:
    """Tiny volume (Z, Y, X) = (20, 24, 28) with labels, 2 surfaces and 2 tracks."""
    z = np.arange(20)[:, None, None]
    volume = np.broadcast_to((z >= 8).astype(np.float32) + (z >= 14), (20, 24, 28)).copy()
    labels = np.zeros(volume.shape, np.uint8)
    labels[2:6, 4:12, 4:12] = 1
    labels[15:18, 10:20, 12:24] = 2
    heights = np.stack([np.full((24, 28), 8), np.full((24, 28), 14)])
    t = np.linspace(0, 1, 10)[:, None]
    tracks = [np.hstack([19 * t, 2 + 20 * t, 3 + 0 * t]), np.hstack([10 + 0 * t, 12 + 0 * t,
                                                                    27 * t])]
    return {"volume": volume, "labels": labels, "heights": heights, "tracks": tracks}


def _run_in_napari(out: Path) -> None:
    """The check itself (run under a display): writes ``out/report.json`` and a screenshot."""
    import napari
    from npe2 import PluginManager, PluginManifest

    import qimcore.view
    from qimcore import _napari

    pm = PluginManager.instance()
    if "qimcore" not in pm:        # not installed with the entry point: register the file
        pm.register(PluginManifest.from_file(MANIFEST))
    scene = _scene()
    viewer = qimcore.view.napari(scene["volume"], labels=scene["labels"],
                                 surfaces=scene["heights"], tracks=scene["tracks"], show=True)
    viewer.dims.ndisplay = 3
    viewer.camera.angles = (0, 30, 60)
    shot = viewer.screenshot(canvas_only=True, flash=False)
    viewer.dims.ndisplay = 2
    viewer.dims.set_point(viewer.dims.ndim - 3, 16)   # z (after the tracks' time)
    shot2d = viewer.screenshot(canvas_only=True, flash=False)

    npy = out / "volume.npy"
    np.save(npy, scene["volume"])
    readers = [r.plugin_name for r in pm.iter_compatible_readers([str(npy)])]
    read = _napari.get_reader(str(npy))(str(npy))
    widgets = []
    for name in ("Dictionary segmentation", "Layered surfaces"):
        dock, _ = viewer.window.add_plugin_dock_widget("qimcore", name)
        widgets.append(dock.name)
    surfaces = _napari.surfaces_widget(viewer.layers["volume"], n_surfaces=2, delta=1,
                                       min_distance=2)
    report = {
        "layers": {layer.name: type(layer).__name__ for layer in viewer.layers},
        "n_tracks": int(len(np.unique(viewer.layers["tracks"].data[:, 0]))),
        "surface_vertices": int(len(viewer.layers["surface 0"].data[0])),
        "screenshot_shape": list(shot.shape),
        "screenshot_std": float(shot[..., :3].std()),
        "screenshot_colours": int(len(np.unique(shot[..., :3].reshape(-1, 3), axis=0))),
        "screenshot2d_std": float(shot2d[..., :3].std()),
        "readers": readers,
        "read_shape": list(read[0][0].shape),
        "read_type": read[0][2],
        "widgets": widgets,
        "widget_surfaces": [s[0][0][:, 0].tolist()[:3] for s in surfaces],
        "samples": sorted(s.key for s in pm.get_manifest("qimcore").contributions.sample_data),
    }
    import imageio.v3 as iio

    iio.imwrite(out / "napari_3d.png", shot[..., :3])
    iio.imwrite(out / "napari_2d.png", shot2d[..., :3])
    (out / "report.json").write_text(json.dumps(report))
    viewer.close()
    napari.Viewer.close_all()


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    if find_spec("napari") is None:
        pytest.skip("napari is not installed (pip install 'qimcore[viewer]')")
    if shutil.which("xvfb-run") is None and not os.environ.get("DISPLAY"):
        pytest.skip("no display and xvfb-run is not installed (apt-get install xvfb xauth)")
    out = tmp_path_factory.mktemp("napari")
    cmd = [sys.executable, __file__, str(out)]
    if not os.environ.get("DISPLAY"):
        cmd = ["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24", *cmd]
    env = dict(os.environ, LIBGL_ALWAYS_SOFTWARE="1", QT_QPA_PLATFORM="xcb",
               PYTHONWARNINGS="ignore")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    for name in ("napari_3d.png", "napari_2d.png"):
        shutil.copy(out / name, artifacts / name)
    return json.loads((out / "report.json").read_text())


@pytest.mark.slow
def test_viewer_has_every_layer_kind(report):
    assert report["layers"] == {"volume": "Image", "labels": "Labels", "surface 0": "Surface",
                                "surface 1": "Surface", "tracks": "Tracks"}
    assert report["n_tracks"] == 2
    assert report["surface_vertices"] == 24 * 28


@pytest.mark.slow
def test_screenshot_is_not_blank(report):
    assert report["screenshot_shape"][0] > 50 and report["screenshot_shape"][1] > 50
    assert report["screenshot_std"] > 5 and report["screenshot_colours"] > 10
    assert report["screenshot2d_std"] > 5


@pytest.mark.slow
def test_plugin_reader_samples_and_widgets(report):
    assert "qimcore" in report["readers"]
    assert report["read_shape"] == [20, 24, 28] and report["read_type"] == "image"
    assert report["samples"] == ["bone", "fibres", "nerves", "shell"]
    assert len(report["widgets"]) == 2
    # surfaces widget: the dark-to-bright z edges of the volume lie at z = 7.5 and 13.5
    first, second = (set(s) for s in report["widget_surfaces"])
    assert first <= {7, 8} and second <= {13, 14}


def test_manifest_is_valid():
    npe2 = pytest.importorskip("npe2", reason="npe2 is not installed (pip install npe2)")
    manifest = npe2.PluginManifest.from_file(MANIFEST)
    manifest.validate_imports()
    ids = {c.id for c in manifest.contributions.commands}
    assert {"qimcore.get_reader", "qimcore.sample_nerves", "qimcore.segment_widget",
            "qimcore.surfaces_widget"} <= ids


def test_get_reader_declines_other_paths(tmp_path):
    from qimcore._napari import get_reader

    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "slices").mkdir()
    (tmp_path / "slices" / "s_0.tif").write_bytes(b"")
    assert get_reader(str(tmp_path / "notes.txt")) is None
    assert get_reader(str(tmp_path)) is None               # folder without slices
    assert get_reader(42) is None and get_reader([]) is None
    assert get_reader(str(tmp_path / "slices")) is not None
    assert get_reader(["a.tif", "b.zarr"]) is not None
    assert get_reader("scan.h5::data") is not None


if __name__ == "__main__":
    _run_in_napari(Path(sys.argv[1]))
