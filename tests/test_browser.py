"""The Annotator in a real JupyterLab 4 and Notebook 7, driven by headless chromium's mouse.

Starts the server on a free port (token auth), opens a notebook that shows an Annotator,
draws one stroke of class 1 and one of class 2, and checks the kernel's ``labels`` (written by
an ``on_update`` callback), the propagated segmentation, and the canvas pixels against
:func:`qimcore.view.overlay_rgb`. Screenshots:
``test-artifacts/annotator_lab.png`` and ``test-artifacts/annotator_notebooks.png``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from qimcore.view import overlay_rgb

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
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


def _wait_for(predicate, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        result = predicate()
        if result is not None:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


FRONT_ENDS = {"jupyterlab": "lab/tree", "notebook": "notebooks"}   # module -> notebook URL


@pytest.fixture(params=list(FRONT_ENDS))
def lab(request, tmp_path):
    """JupyterLab 4 or Notebook 7 serving ``tmp_path``; yields (notebook url, token, out dir)."""
    if importlib.util.find_spec(request.param) is None:
        pytest.skip(f"{request.param} is not installed (pip install {request.param})")
    out = tmp_path / "out"
    out.mkdir()
    cell = (REPO / "tests" / "browser" / "annotate_cell.py.in").read_text()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        cell.replace("__OUT__", out.as_posix()))])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, tmp_path / "annotate.ipynb")
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "ws"))
    cmd = [sys.executable, "-m", request.param, f"--port={port}", "--ip=127.0.0.1",
           f"--ServerApp.token={token}", "--ServerApp.open_browser=False",
           f"--ServerApp.root_dir={tmp_path}", "--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
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
        _wait_for(lambda: up() or None, 40, "JupyterLab to listen")
        _start_session(url, token, "annotate.ipynb")
        yield f"{url}/{FRONT_ENDS[request.param]}/annotate.ipynb", token, out
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def _start_session(url: str, token: str, path: str) -> None:
    """Start the notebook's kernel via the REST API, so that the page attaches to it."""
    body = json.dumps({"path": path, "type": "notebook", "name": path,
                       "kernel": {"name": "python3"}}).encode()
    request = urllib.request.Request(f"{url}/api/sessions", data=body, method="POST",
                                     headers={"Authorization": f"token {token}",
                                              "Content-Type": "application/json"})

    def post():
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return True if response.status == 201 else None
        except urllib.error.URLError:     # server not ready yet
            return None

    _wait_for(post, 30, "a kernel session")


def _draw(page, box, points_yx, shape):
    """Drag the mouse through image pixels ``(y, x)`` on the canvas ``box``."""
    ny, nx = shape

    def screen(y, x):
        return (box["x"] + (x + 0.5) * box["width"] / nx,
                box["y"] + (y + 0.5) * box["height"] / ny)

    page.mouse.move(*screen(*points_yx[0]))
    page.mouse.down()
    for y, x in points_yx[1:]:
        page.mouse.move(*screen(y, x), steps=8)
    page.mouse.up()


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
    url, token, out = lab
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    shape = (48, 64)
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        try:
            page.goto(f"{url}?token={token}")
            editor = page.locator(".jp-Notebook .jp-Cell .cm-content").first
            editor.wait_for(timeout=40_000)
            accept = page.locator(".jp-Dialog .jp-mod-accept")   # "Select Kernel", if asked
            try:
                accept.wait_for(timeout=5_000)
                accept.click()
            except playwright_api.TimeoutError:
                pass
            editor.click()
            page.keyboard.press("Shift+Enter")
            canvas = page.locator(".jp-OutputArea canvas").first
            canvas.wait_for(timeout=60_000)
            _wait_for(lambda: (canvas.bounding_box() or {}).get("width", 0) > 200 or None, 20,
                      "the canvas to be zoomed")
            canvas.scroll_into_view_if_needed()
            box = canvas.bounding_box()
            assert box["width"] == pytest.approx(shape[1] * ZOOM, abs=2)

            # class 1 on the left half (row 10, x 4..24)
            _draw(page, box, [(10, 4), (10, 24)], shape)
            labels = _wait_for(lambda: _labels_with(out, 1), 30, "labels after stroke 1")
            assert set(np.unique(labels)) == {0, 1}
            assert (labels[10, 5:24] == 1).all()                 # brush radius 1 around the line
            assert not labels[:8].any() and not labels[13:].any() and not labels[:, 32:].any()

            # class 2 on the right half (column 50, y 30..40)
            page.locator(".widget-toggle-button", has_text="2").first.click()
            _draw(page, box, [(30, 50), (40, 50)], shape)
            labels = _wait_for(lambda: _labels_with(out, 2), 30, "labels after stroke 2")
            assert (labels[31:40, 50] == 2).all()
            assert (labels[labels == 2].size > 0) and not (labels[:, :32] == 2).any()
            probabilities = _wait_for(lambda: _load(out / "probabilities.npy"), 10,
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

            def canvas_rgb():
                data = canvas.evaluate(
                    "c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height)"
                    ".data)")
                got = np.array(data, dtype=np.uint8).reshape(*shape, 4)[..., :3]
                diff = np.abs(got.astype(int) - want).max(axis=-1)
                seen.append(f"max difference {diff.max()} at {np.argwhere(diff > 1)[:3].tolist()}"
                            f" of {(diff > 1).sum()} pixels: {got[diff > 1][:3].tolist()} "
                            f"!= {want[diff > 1][:3].tolist()}")
                return got if diff.max() <= 1 else None

            seen: list[str] = []
            try:
                _wait_for(canvas_rgb, 15, "the overlay to match overlay_rgb")
            except AssertionError as err:
                raise AssertionError(f"{err}: {seen[-1]}") from None
            update_s = float((out / "updates.txt").read_text())
            print(f"{(out / 'segmenter.txt').read_text()}: last update {update_s:.3f} s")
        finally:
            page.screenshot(path=str(artifacts / f"annotator_{url.split('/')[3]}.png"))
            browser.close()
