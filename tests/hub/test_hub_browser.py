"""A user's whole path through the real hub, in headless chromium (WebGL in software).

A user signs up and is approved (as in tests/hub/test_hub.py), logs in on the hub's login page,
lands on the welcome notebook, then runs the nerve case study's interactive path in
JupyterLab: the case study's own cells (``notebooks/nerves.ipynb``: parameters with
``interactive = True``, loading, the dictionary and the Annotator, the 3D view of the tracks),
saved as a notebook in the user's folder. The user paints a stroke on the Annotator and the
canvas overlay changes (and the kernel's labels with it); the 3D view is not blank and changes
when the tracks are hidden. Screenshots: ``test-artifacts/hub_*.png``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from tests.browser_support import (
    CHROMIUM,
    WEBGL_ARGS,
    Clip,
    canvas_rgb,
    draw,
    open_notebook,
    start_session,
    steady_render,
    wait_for,
)

if not Path(CHROMIUM).exists():
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api",
                                     reason="playwright is not installed (pip install playwright)")
pytest.importorskip("k3d", reason="k3d is not installed (pip install k3d)")
pytest.importorskip("ipycanvas", reason="ipycanvas is not installed (pip install ipycanvas)")
from test_hub import Hub  # noqa: E402  (the real-hub helper)

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = "notebooks/nerves_interactive.ipynb"   # in the user's folder


def _case_study_cells() -> list[str]:
    """The interactive path of notebooks/nerves.ipynb: its parameters (``interactive = True``),
    loading, dictionary + Annotator cell, tracking and 3D view; then a cell hiding the tracks
    (the comparison render) and one recording the painted labels."""
    nb = json.loads((REPO / "notebooks" / "nerves.ipynb").read_text())
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]

    def cell(text: str) -> str:
        return next(c for c in code if text in c)

    parameters = cell("interactive = False")
    view = cell("view3d(volume")
    return [parameters.replace("interactive = False", "interactive = True"),
            cell("volume = sample(sample_name)"),
            cell("Annotator(volume"),
            "tracks = track_nerves(volume)\ntable = nerve_table(tracks, voxel_size)",
            view.replace("\nview3d(", "\nplot = view3d(") + "\nplot",
            "import json\n\nfor obj in plot.objects[1:]:\n    obj.visible = False\n"
            "Path('hidden.json').write_text(json.dumps([o.name for o in plot.objects]));",
            "Path('painted.json').write_text(json.dumps(\n"
            "    [annotator.index, np.unique(annotator.labels[annotator.index]).tolist(),\n"
            "     int((annotator.labels > 0).sum()),\n"
            "     int((load_scribbles(data_dir() / scribbles_file) > 0).sum())]));"]


def _contents(hub: Hub, name: str, path: str):
    """The parsed JSON file ``path`` of ``name``'s folder, or None while it is missing."""
    r = hub.server_api(name, "GET", f"/contents/{path}")
    return json.loads(r.json()["content"]) if r.ok else None


def _scroll_to(locator) -> None:
    """Scroll ``locator`` to the middle of the window (playwright's own scrolling waits for the
    notebook's windowed list to be stable, which it may never be)."""
    locator.evaluate("e => e.scrollIntoView({block: 'center'})")
    time.sleep(1)


@pytest.mark.hub
@pytest.mark.slow
def test_user_logs_in_and_runs_the_interactive_case_study(tmp_path):
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    hub = Hub(tmp_path)
    try:
        name = "ana"
        _, token = hub.user(name)             # signed up, approved by the admin; an API token
        password = hub.users[name][2]
        with playwright_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=WEBGL_ARGS)
            page = browser.new_page(viewport={"width": 1000, "height": 1100})
            try:
                # log in on the hub's page: the server starts and shows the welcome notebook
                page.goto(f"{hub.url}/hub/login", timeout=30_000)
                page.fill("input[name=username]", name)
                page.fill("input[name=password]", password)
                page.click("#login_submit, input[type=submit], button[type=submit]")
                heading = page.locator(".jp-RenderedMarkdown h1", has_text="Start here").first
                heading.wait_for(timeout=150_000)
                assert heading.is_visible()
                assert page.url.startswith(f"{hub.url}/user/{name}/lab/tree/notebooks/START_HERE.ipynb")

                # the case study's interactive path, saved in the user's folder
                nb = {"cells": [{"cell_type": "code", "metadata": {}, "source": c,
                                 "outputs": [], "execution_count": None}
                                for c in _case_study_cells()],
                      "metadata": {"kernelspec": {"name": "python3", "language": "python",
                                                  "display_name": "Python 3"}},
                      "nbformat": 4, "nbformat_minor": 5}
                r = hub.server_api(name, "PUT", f"/contents/{NOTEBOOK}",
                                   json={"type": "notebook", "format": "json", "content": nb})
                assert r.status_code == 201, r.text
                start_session(f"{hub.url}/user/{name}", token, NOTEBOOK)
                notebook = open_notebook(page, f"{hub.url}/user/{name}/lab/tree/{NOTEBOOK}")
                for _ in range(5):        # up to the 3D view; the hiding cell is next
                    page.keyboard.press("Shift+Enter")
                cells = notebook.locator(".jp-Cell")

                # the 3D view: a steady, non-blank render that changes without the tracks
                output = cells.nth(4).locator(".jp-OutputArea-output").last
                output.locator("canvas").first.wait_for(timeout=150_000, state="attached")
                _scroll_to(output)
                view = Clip(page, output)
                full = steady_render(view, 90, "a steady, non-blank 3D render")
                page.keyboard.press("Shift+Enter")
                objects = wait_for(lambda: _contents(hub, name, "notebooks/hidden.json"), 60,
                                   "the cell hiding the tracks")
                assert objects == ["volume", "axon_diameter"]   # tracks named after their values
                _scroll_to(output)                  # the new active cell scrolled the page
                view = Clip(page, output)
                bare = steady_render(view, 90, "the render without the tracks",
                                     differs_from=full)

                # the Annotator: one stroke across the middle of its slice changes the overlay
                canvas = cells.nth(2).locator(".jp-OutputArea canvas").first
                _scroll_to(canvas)
                def settled():
                    first = canvas_rgb(canvas)
                    time.sleep(0.5)
                    rgb = canvas_rgb(canvas)
                    return rgb if rgb.std() > 1 and np.array_equal(rgb, first) else None

                def stroke_seen():
                    diff = np.abs(canvas_rgb(canvas).astype(int) - before).max(axis=-1) > 10
                    along = diff[:, nx // 4:nx * 3 // 4].any(axis=0).all()   # whole stroke
                    return diff if along else None

                before = wait_for(settled, 30, "the Annotator's first drawing")
                ny, nx = before.shape[:2]
                row = ny // 2
                draw(page, canvas.bounding_box(), [(row, nx // 8), (row, nx * 7 // 8)], (ny, nx))
                changed = wait_for(stroke_seen, 30, "the stroke on the overlay")
                rows = np.flatnonzero(changed.any(axis=1))
                print(f"stroke: {changed.sum()} canvas pixels changed in rows "
                      f"{rows.min()}-{rows.max()} of {ny}")
                assert abs(rows.min() - row) <= 8 and abs(rows.max() - row) <= 8

                # the kernel has the painted labels
                cells.last.locator(".cm-content").click()
                page.keyboard.press("Shift+Enter")
                index, classes, painted, scribbled = wait_for(
                    lambda: _contents(hub, name, "notebooks/painted.json"), 60,
                    "the cell recording the labels")
                print(f"slice {index}: classes {classes}; {scribbled} scribbled voxels, "
                      f"{painted} after the stroke")
                assert painted > scribbled
            finally:
                page.screenshot(path=str(artifacts / "hub_case_study.png"))
                browser.close()
    finally:
        hub.stop()
    import PIL.Image

    PIL.Image.fromarray(full.astype(np.uint8)).save(artifacts / "hub_view3d_tracks.png")
    PIL.Image.fromarray(bare.astype(np.uint8)).save(artifacts / "hub_view3d_volume_only.png")
    moved = (np.abs(full - bare).max(axis=-1) > 30).sum()
    print(f"3D view: {moved} pixels change with the tracks")
    assert moved > 1000                     # the tracks are drawn (about 3300 pixels here)
