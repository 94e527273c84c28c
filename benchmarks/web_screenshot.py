"""The README's picture of the web page: the app on a checkpoint, two synthetic test pages dropped, one click.

    python benchmarks/web_screenshot.py --ckpt outputs/.../last.ckpt [--out benchmarks/results/web_page.png]

Runs the real app (uvicorn, loopback, a free port) and Debian's Chromium through Playwright, as
tests/web/test_browser.py does: drops test pages 0 and 1 of the synthetic set, waits for both, slides the first
page's comparison halfway, gives its first wrongly colored character part the truth's color (the simulated
reader's first click), and saves the window.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import uvicorn  # noqa: E402

from benchmarks.flat_output import test_split  # noqa: E402
from manga_cyclegan.colorize import hints  # noqa: E402
from manga_cyclegan.colorize.colorizer import InferenceSettings  # noqa: E402
from manga_cyclegan.colorize.hints_file import hex_color  # noqa: E402
from manga_cyclegan.colorize.weights import load_colorizer  # noqa: E402
from manga_cyclegan.evaluate.hints import reader_clicks  # noqa: E402
from manga_cyclegan.predict.sinks import OutputOptions  # noqa: E402
from manga_cyclegan.web.server import Chapters, create_app  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--data", type=Path, default=REPO / "data" / "synthetic")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "web_page.png")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright
    from PIL import Image

    pages, meta = test_split(args.data)
    colorizer = load_colorizer(args.ckpt)
    seen = hints.see_pages(colorizer, [p["bw"] for p in pages[:2]], InferenceSettings())
    clicks = [c for c, _ in reader_clicks(seen, [p["labels"] for p in pages[:2]], meta, 12) if c.page == "0"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for i in (0, 1):
            Image.fromarray(pages[i]["bw"]).save(tmp / f"page_{i:04d}.png")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        app = create_app(Chapters(tmp / "sessions", colorizer, InferenceSettings(), OutputOptions(format="png")))
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1000, "height": 560})
            page.goto(f"http://127.0.0.1:{port}/")
            page.set_input_files("input[type=file]", [str(tmp / "page_0000.png"), str(tmp / "page_0001.png")])
            for i in (0, 1):
                img = page.locator(f'[data-page="page_{i:04d}.png"] img.colorized')
                img.wait_for(timeout=120_000)
                page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
            first = page.locator('[data-page="page_0000.png"] img.colorized')
            for click in clicks[:1]:  # none where the model gets page 0's parts right
                page.fill("#color", hex_color(click.color))
                box = first.bounding_box()
                old = first.get_attribute("src")
                height, width = pages[0]["bw"].shape
                page.mouse.click(box["x"] + (click.x + 0.5) * box["width"] / width,
                                 box["y"] + (click.y + 0.5) * box["height"] / height)
                page.wait_for_function("([img, old]) => img.src !== old && img.complete",
                                       arg=[first.element_handle(), old])
            page.locator('[data-page="page_0001.png"] input[type=range]').fill("50")
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out))
            browser.close()
        server.should_exit = True
    print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
