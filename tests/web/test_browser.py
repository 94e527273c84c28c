"""The web page in a real headless Chromium (Debian's, driven by Playwright): offline (any request to another host
fails the test), a dropped page comes back colorized, a click with a picked color sets that region's color."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from urllib.parse import urlparse

import pytest
from PIL import Image

from manga_cyclegan.colorize.colorizer import InferenceSettings
from manga_cyclegan.predict.sinks import OutputOptions
from manga_cyclegan.web.server import Chapters, create_app
from tests.colorize.test_hints import panel_page

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,  # a browser and a server
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here: install Debian's `chromium` (.ci/run does) to run "
                                                "the web page in a real browser"),
]


@pytest.fixture
def server(colorizer, tmp_path):
    uvicorn = pytest.importorskip("uvicorn")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(Chapters(tmp_path / "sessions", colorizer, InferenceSettings(), OutputOptions(format="png")))
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


def test_drop_a_page_see_it_colorized_click_a_region_and_get_the_picked_color(server, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    page_file = tmp_path / "p01.png"
    Image.fromarray(panel_page()).save(page_file)
    elsewhere = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            app_host = urlparse(server).netloc

            def guard(route):
                if urlparse(route.request.url).netloc != app_host and not route.request.url.startswith(("blob:", "data:")):
                    elsewhere.append(route.request.url)
                    return route.abort()
                return route.continue_()

            page.route("**/*", guard)
            page.goto(server + "/")
            page.set_input_files("input[type=file]", str(page_file))
            colorized = page.locator('[data-page="p01.png"] img.colorized')
            colorized.wait_for(timeout=60_000)
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=colorized.element_handle())
            # Pick a color, click the circle's middle (page pixel 30, 30 of the 120x60 page).
            page.fill("#color", "#3a5fcd")
            box = colorized.bounding_box()
            old_src = colorized.get_attribute("src")
            page.mouse.click(box["x"] + 30.5 * box["width"] / 120, box["y"] + 30.5 * box["height"] / 60)
            page.wait_for_function("([img, old]) => img.src !== old && img.complete && img.naturalWidth > 0",
                                   arg=[colorized.element_handle(), old_src], timeout=60_000)
            # The pixel as the browser shows it, read back through a canvas.
            rgb = page.evaluate("""img => { const c = document.createElement('canvas');
                c.width = img.naturalWidth; c.height = img.naturalHeight;
                const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
                return Array.from(ctx.getImageData(30, 30, 1, 1).data.slice(0, 3)); }""",
                                colorized.element_handle())
            errors = page.locator("#errors").inner_text()
        finally:
            browser.close()
    assert elsewhere == [], f"the page asked other hosts: {elsewhere}"
    assert errors.strip() == ""
    assert rgb == [0x3A, 0x5F, 0xCD]


def test_the_readme_screenshot_script_runs(tmp_path, tiny_synthetic_set):
    import subprocess
    import sys

    from tests.helpers import REPO, save_training_checkpoint

    save_training_checkpoint(tmp_path / "m.ckpt", load_size=64)
    out = tmp_path / "shot.png"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "web_screenshot.py"), "--ckpt",
                           str(tmp_path / "m.ckpt"), "--data", str(tiny_synthetic_set), "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert Image.open(out).size == (1000, 560)
