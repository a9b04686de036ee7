"""The notebook widgets in a real JupyterLab 4 and Notebook 7, driven by headless chromium.

- The Annotator: starts the server on a free port (token auth), opens a notebook that shows an
  Annotator (an in-memory image at zoom 4, or a lazy dask volume zoomed to fit the window),
  draws one stroke of class 1 and one of class 2 with the mouse, and checks the kernel's
  ``labels`` (written by an ``on_update`` callback), the propagated segmentation, and the
  canvas pixels against :func:`qimcore.view.overlay_rgb`. Screenshots:
  ``test-artifacts/annotator_{lab,notebooks,lab_lazy}.png``.
- The 3D view: :func:`qimcore.view.view3d` of a volume with labels, a surface and tracks in
  JupyterLab, with WebGL in software (SwiftShader); the render must not be blank and must
  change where the objects are, compared with a render of the volume alone, and show the class
  colours only with the objects. JupyterLab runs with the settings overrides the install puts
  in place: no news pop-up. Screenshots: ``test-artifacts/view3d_*.png``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import secrets
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qimcore.view import overlay_rgb
from tests.browser_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    WEBGL_ARGS,
    Clip,
    canvas_rgb,
    coloured,
    draw,
    open_notebook,
    start_session,
    steady_render,
    wait_for,
)

REPO = Path(__file__).resolve().parents[2]
ZOOM = 4

pytestmark = pytest.mark.slow

if not Path(CHROMIUM).exists():
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api",
                                     reason="playwright is not installed (pip install playwright)")
pytest.importorskip("ipycanvas", reason="ipycanvas is not installed (pip install ipycanvas)")
nbformat = pytest.importorskip("nbformat")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


FRONT_ENDS = {"jupyterlab": "lab/tree", "notebook": "notebooks"}   # module -> notebook URL


@contextlib.contextmanager
def _jupyter(tmp_path: Path, module: str, cells: list[str], name: str, *,
             overrides: Path | None = None):
    """JupyterLab 4 or Notebook 7 serving ``tmp_path`` with notebook ``name`` of ``cells``
    (``__OUT__`` replaced by an output folder) and its kernel started, with the settings
    ``overrides`` file as the install puts it; yields (notebook url, token, out dir)."""
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install {module})")
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        cell.replace("__OUT__", out.as_posix())) for cell in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, tmp_path / name)
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "ws"),
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", module, f"--port={port}", "--ip=127.0.0.1",
           f"--ServerApp.token={token}", "--ServerApp.open_browser=False",
           f"--ServerApp.root_dir={tmp_path}", "--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if overrides is not None:     # as installed into <environment>/share/jupyter/lab/settings
        app_settings = tmp_path / "app-settings"
        app_settings.mkdir()
        (app_settings / "overrides.json").write_text(overrides.read_text())
        cmd.append(f"--LabApp.app_settings_dir={app_settings}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = (tmp_path / "lab.log").open("w")
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def up():
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_for(lambda: up() or None, 40, "JupyterLab to listen")
        start_session(url, token, name)
        yield f"{url}/{FRONT_ENDS[module]}/{name}", token, out
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(params=[("jupyterlab", "memory"), ("notebook", "memory"), ("jupyterlab", "lazy")],
                ids=["lab", "notebook", "lab-lazy"])
def lab(request, tmp_path):
    """JupyterLab 4 or Notebook 7 with the Annotator notebook on an in-memory image (zoom 4)
    or a lazy dask volume (zoom to fit); yields (url, token, out dir, lazy)."""
    module, mode = request.param
    cell = (REPO / "tests" / "view" / "browser" / "annotate_cell.py.in").read_text()
    cell = cell.replace("LAZY = False", f"LAZY = {mode == 'lazy'}")
    with _jupyter(tmp_path, module, [cell], "annotate.ipynb") as served:
        yield (*served, mode == "lazy")


def _load(path: Path):
    try:
        return np.load(path)
    except (OSError, ValueError, EOFError):   # missing or half written
        return None


def _labels_with(out: Path, value: int) -> np.ndarray | None:
    """The kernel's labels once they contain ``value``."""
    labels = _load(out / "labels.npy")
    return labels if labels is not None and (labels == value).any() else None


def test_annotator_in_the_browser(lab):
    url, token, out, lazy = lab
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    shape = (48, 64)
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        try:
            open_notebook(page, f"{url}?token={token}")
            page.keyboard.press("Shift+Enter")
            canvas = page.locator(".jp-OutputArea canvas").first
            canvas.wait_for(timeout=60_000)
            wait_for(lambda: (canvas.bounding_box() or {}).get("width", 0) > 200 or None, 20,
                     "the canvas to be zoomed")
            canvas.scroll_into_view_if_needed()
            if lazy:        # zoom to fit: the aspect kept, the canvas and the status in view
                canvas.evaluate("c => c.scrollIntoView({block: 'end'})")
                box = canvas.bounding_box()
                assert box["height"] == pytest.approx(box["width"] * shape[0] / shape[1], abs=2)
                assert box["height"] <= 0.65 * 1100 + 2 and box["width"] > shape[1] * ZOOM
                assert box["y"] + box["height"] <= 1100
                status = page.locator(".jp-OutputArea .widget-label",
                                      has_text="updated in").first.bounding_box()
                assert status is not None and 0 <= status["y"] < box["y"]
            box = canvas.bounding_box()
            if not lazy:
                assert box["width"] == pytest.approx(shape[1] * ZOOM, abs=2)

            # class 1 on the left half (row 10, x 4..24)
            draw(page, box, [(10, 4), (10, 24)], shape)
            labels = wait_for(lambda: _labels_with(out, 1), 30, "labels after stroke 1")
            assert set(np.unique(labels)) == {0, 1}
            assert (labels[10, 5:24] == 1).all()                 # brush radius 1 around the line
            assert not labels[:8].any() and not labels[13:].any() and not labels[:, 32:].any()

            # class 2 on the right half (column 50, y 30..40)
            page.locator(".widget-toggle-button", has_text="2").first.click()
            draw(page, box, [(30, 50), (40, 50)], shape)
            labels = wait_for(lambda: _labels_with(out, 2), 30, "labels after stroke 2")
            assert (labels[31:40, 50] == 2).all()
            assert (labels[labels == 2].size > 0) and not (labels[:, :32] == 2).any()
            probabilities = wait_for(lambda: _load(out / "probabilities.npy"), 10,
                                     "the propagated segmentation")
            segmentation = probabilities.argmax(axis=0) + 1
            # exact halves for the stand-in; the dictionary may hesitate at the boundary
            margin = 0 if (out / "segmenter.txt").read_text() == "MeanSegmenter" else 4
            assert (segmentation[:, :32 - margin] == 1).all()
            assert (segmentation[:, 32 + margin:] == 2).all()

            # the canvas shows exactly this overlay (after the final redraw arrives)
            image = np.full(shape, 0.2, np.float32)
            image[:, 32:] = 0.8
            want = (overlay_rgb(image, labels, probabilities, opacity=0.5, n_classes=2)
                    * 255).round().astype(np.uint8)

            def matches_overlay():
                got = canvas_rgb(canvas)
                diff = np.abs(got.astype(int) - want).max(axis=-1)
                seen.append(f"max difference {diff.max()} at {np.argwhere(diff > 1)[:3].tolist()}"
                            f" of {(diff > 1).sum()} pixels: {got[diff > 1][:3].tolist()} "
                            f"!= {want[diff > 1][:3].tolist()}")
                return got if diff.max() <= 1 else None

            seen: list[str] = []
            try:
                wait_for(matches_overlay, 15, "the overlay to match overlay_rgb")
            except AssertionError as err:
                raise AssertionError(f"{err}: {seen[-1]}") from None
            update_s = float((out / "updates.txt").read_text())
            print(f"{(out / 'segmenter.txt').read_text()}: last update {update_s:.3f} s")
        finally:
            page.screenshot(path=str(artifacts / f"annotator_{url.split('/')[3]}"
                                     f"{'_lazy' if lazy else ''}.png"))
            browser.close()


def test_view3d_renders_objects_in_the_browser(tmp_path):
    """qimcore.view.view3d in JupyterLab, headless chromium with WebGL (SwiftShader)."""
    pytest.importorskip("k3d", reason="k3d is not installed (pip install k3d)")
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    cells = (REPO / "tests" / "view" / "browser" / "view3d_cell.py.in").read_text().split("# %% cell\n")
    overrides = REPO / "qimcore" / "jupyterlab_overrides.json"       # the news pop-up off
    with _jupyter(tmp_path, "jupyterlab", cells, "view3d.ipynb", overrides=overrides) as (
            url, token, out), playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=WEBGL_ARGS)
        page = browser.new_page(viewport={"width": 760, "height": 1400})
        try:
            open_notebook(page, f"{url}?token={token}")
            page.keyboard.press("Shift+Enter")
            assert page.evaluate("() => !!document.createElement('canvas')"
                                 ".getContext('webgl2')"), "no WebGL2 in this chromium"
            wait_for(lambda: (out / "objects.txt").exists() or None, 60, "the 3D view cell")
            assert (out / "objects.txt").read_text() == \
                "volume,labels,surface 0,tracks"
            page.locator(".jp-OutputArea-output canvas").first.wait_for(timeout=60_000,
                                                                        state="attached")
            canvas = Clip(page, page.locator(".jp-OutputArea-output").first)   # the k3d widget
            full = steady_render(canvas, 60, "a steady, non-blank 3D render")
            page.keyboard.press("Shift+Enter")                       # hide all but the volume
            wait_for(lambda: (out / "hidden.txt").exists() or None, 30, "the hiding cell")
            bare = steady_render(canvas, 60, "the render without the objects",
                                 differs_from=full)
            assert page.get_by_text("official Jupyter news").count() == 0   # no pop-up
        finally:
            page.screenshot(path=str(artifacts / "view3d_lab.png"))
            browser.close()
    import PIL.Image

    PIL.Image.fromarray(full.astype(np.uint8)).save(artifacts / "view3d_objects.png")
    PIL.Image.fromarray(bare.astype(np.uint8)).save(artifacts / "view3d_volume_only.png")
    scene = (slice(110, None), slice(full.shape[1] // 6, full.shape[1] * 3 // 4))  # no menus
    full, bare = full[scene], bare[scene]
    changed = (np.abs(full - bare).max(axis=-1) > 30).mean()
    blue, orange = coloured(full)
    print(f"3D view: {changed:.1%} of the pixels change with the objects; "
          f"{blue} blue and {orange} orange pixels")
    assert changed > 0.02                       # the objects cover a visible part of the view
    assert blue > 200 and orange > 200          # class 1 and class 2 colours are drawn
    assert coloured(bare) == (0, 0)            # and only by the objects (grey volume)
