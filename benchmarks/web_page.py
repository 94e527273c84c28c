"""How live the web page feels: the API calls the page makes, timed in process (FastAPI's test client: the HTTP
stack without a socket), on synthetic pages of 1456x1024 (`--size`).

    python benchmarks/web_page.py --ckpt outputs/.../last.ckpt [--pages 24]

Rows: a page dropped until its colorized PNG is back (upload + color.png); a click until that page's new PNG is
back; a click on a chapter of `--pages` pages, all shown, until every page it reached is back. Each is the best of
`--repeats`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi.testclient import TestClient  # noqa: E402

from manga_cyclegan.colorize.colorizer import InferenceSettings  # noqa: E402
from manga_cyclegan.colorize.weights import load_colorizer  # noqa: E402
from manga_cyclegan.data.synthetic import make_page, render_page  # noqa: E402
from manga_cyclegan.evaluate.report import format_table  # noqa: E402
from manga_cyclegan.predict.sinks import OutputOptions  # noqa: E402
from manga_cyclegan.web.server import Chapters, create_app  # noqa: E402
from tests.helpers import png_bytes  # noqa: E402

def best(times: list[float]) -> float:
    return min(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--pages", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", default="1456x1024", help="page width x height")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    pages = [png_bytes(render_page(*make_page(0, "test", i, height, width))[1]) for i in range(args.pages)]
    colorizer = load_colorizer(args.ckpt)
    with tempfile.TemporaryDirectory() as tmp:
        chapters = Chapters(Path(tmp), colorizer, InferenceSettings(), OutputOptions(format="png"))
        client = TestClient(create_app(chapters))
        drop, click_page = [], []
        for r in range(args.repeats):
            tab = f"single-page-{r}"
            start = time.perf_counter()
            client.post(f"/api/chapters/{tab}/pages", files={"file": ("p.png", pages[0])}).raise_for_status()
            client.get(f"/api/chapters/{tab}/pages/0/color.png").raise_for_status()
            drop.append(time.perf_counter() - start)
            start = time.perf_counter()
            client.post(f"/api/chapters/{tab}/clicks",
                        json={"page": "p.png", "x": width // 2 + r, "y": height // 2, "color": "#f08a24"}).raise_for_status()
            client.get(f"/api/chapters/{tab}/pages/0/color.png").raise_for_status()
            click_page.append(time.perf_counter() - start)
        tab = "whole-chapter"
        for i, data in enumerate(pages):
            client.post(f"/api/chapters/{tab}/pages", files={"file": (f"{i:03d}.png", data)}).raise_for_status()
            client.get(f"/api/chapters/{tab}/pages/{i}/color.png").raise_for_status()
        click_chapter, reached = [], 0
        for r in range(args.repeats):
            start = time.perf_counter()
            answer = client.post(f"/api/chapters/{tab}/clicks",
                                 json={"page": "000.png", "x": width // 2 + r, "y": height // 2, "color": "#3a5fcd"})
            answer.raise_for_status()
            changed = answer.json()["changed"]
            for name in changed:  # the page reloads what changed
                client.get(f"/api/chapters/{tab}/pages/{int(name[:3])}/color.png").raise_for_status()
            click_chapter.append(time.perf_counter() - start)
            reached = max(reached, len(changed))
    rows = {
        f"drop a {width}x{height} page, colorized PNG back": {"s": best(drop)},
        "a click, that page repainted": {"s": best(click_page)},
        f"a click on a {args.pages}-page chapter ({reached} pages repainted)": {"s": best(click_chapter)},
    }
    print(f"{args.ckpt}, best of {args.repeats}")
    print(format_table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
