"""Helpers shared by the browser tests (tests/view/test_browser.py, tests/hub/test_hub_browser.py):
headless chromium settings, polling, starting a kernel session, drawing with the mouse and
steady, non-blank screenshots of a WebGL render."""

from __future__ import annotations

import io
import json
import time
import urllib.error
import urllib.request

import numpy as np

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
WEBGL_ARGS = [a for a in CHROMIUM_ARGS if a != "--disable-gpu"] + [
    "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"]


def wait_for(predicate, timeout: float, what: str):
    """Poll ``predicate`` until it returns something other than None."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        result = predicate()
        if result is not None:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def start_session(url: str, token: str, path: str) -> None:
    """Start the kernel of notebook ``path`` on the server at ``url`` via the REST API, so that
    the page attaches to it."""
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

    wait_for(post, 30, "a kernel session")


def open_notebook(page, url: str):
    """Open the notebook at ``url``, answer JupyterLab's "Select Kernel" dialog if it asks and
    focus its first cell; return the notebook's locator (the visible one: a notebook restored
    from the workspace may be open in another tab)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.goto(url)
    notebook = page.locator(".jp-Notebook").filter(visible=True).first
    editor = notebook.locator(".jp-Cell .cm-content").first
    editor.wait_for(timeout=40_000)
    accept = page.locator(".jp-Dialog .jp-mod-accept")
    try:
        accept.wait_for(timeout=5_000)
        accept.click()
    except PlaywrightTimeout:
        pass
    editor.click()
    return notebook


def draw(page, box, points_yx, shape):
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


def canvas_rgb(canvas) -> np.ndarray:
    """The (height, width, 3) pixels of a 2D canvas element (a playwright locator)."""
    width, height, data = canvas.evaluate(
        "c => [c.width, c.height, Array.from(c.getContext('2d')"
        ".getImageData(0, 0, c.width, c.height).data)]")
    return np.array(data, dtype=np.uint8).reshape(height, width, 4)[..., :3]


def png(data: bytes) -> np.ndarray:
    import PIL.Image

    return np.asarray(PIL.Image.open(io.BytesIO(data)).convert("RGB")).astype(int)


def steady_render(locator, timeout: float, what: str, differs_from=None) -> np.ndarray:
    """Screenshot of ``locator`` once two shots in a row agree (and differ from the other)."""
    last = [None]

    def shot():
        img = png(locator.screenshot())
        prev, last[0] = last[0], img
        if prev is None or prev.shape != img.shape or np.abs(prev - img).max() > 2:
            return None
        if (img.max(axis=-1) - img.min(axis=-1)).max() < 10 and img.std() < 1:
            return None                                   # blank canvas
        if differs_from is not None and np.abs(img - differs_from).max() <= 2:
            return None
        return img

    return wait_for(shot, timeout, what)


class Clip:
    """Screenshots of the page region of an element, given by a playwright locator (the
    notebook's windowing makes element screenshots wait for a scroll that never settles)."""

    def __init__(self, page, locator) -> None:
        self.page = page
        self.box = locator.evaluate("e => { const r = e.getBoundingClientRect(); "
                                    "return {x: r.x, y: r.y, width: r.width, height: r.height}; }")

    def screenshot(self) -> bytes:
        return self.page.screenshot(clip=self.box, timeout=120_000)   # software WebGL: slow


def coloured(img: np.ndarray) -> tuple[int, int]:
    """Pixels clearly blue (class/surface 1) and clearly orange (class/surface 2)."""
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    return int(((b > r + 40) & (b > g)).sum()), int(((r > b + 60) & (g > b)).sum())
