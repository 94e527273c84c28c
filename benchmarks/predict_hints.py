"""What hints cost in predict: a chapter colorized without hints and with N clicks, side by side in one run.

    python benchmarks/predict_hints.py --ckpt outputs/.../last.ckpt [--data data/synthetic_x2] [--clicks 5]

The chapter is the test split of a synthetic set (24 pages; data/synthetic_x2 holds pages twice the training
size), written to a folder as predict reads it; the clicks are the simulated reader's (evaluate hints=N: the
parts the model colors wrong, one click each), in a hints file. Each way runs `--repeats` times, alternating;
the table gives the best time per page and the ratio.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.flat_output import test_split  # noqa: E402
from manga_cyclegan.colorize import hints  # noqa: E402
from manga_cyclegan.colorize.colorizer import InferenceSettings  # noqa: E402
from manga_cyclegan.colorize.hints_file import read_hints, write_hints  # noqa: E402
from manga_cyclegan.colorize.weights import load_colorizer  # noqa: E402
from manga_cyclegan.data.synthetic import ensure_synthetic_set  # noqa: E402
from manga_cyclegan.evaluate.hints import reader_clicks  # noqa: E402
from manga_cyclegan.evaluate.report import format_table  # noqa: E402
from manga_cyclegan.predict.run import predict_pages  # noqa: E402
from manga_cyclegan.predict.sinks import OutputOptions  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--data", type=Path, default=REPO / "data" / "synthetic_x2")
    parser.add_argument("--clicks", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if not (args.data / "meta.json").exists():  # the 2x set of the quality harness
        ensure_synthetic_set(args.data, seed=13, page_height=640, page_width=512, n_train_a=64, n_train_b=64)
    pages, meta = test_split(args.data)
    colorizer = load_colorizer(args.ckpt)
    settings = InferenceSettings()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        chapter = tmp / "chapter"
        chapter.mkdir()
        names = [f"{i:03d}.png" for i in range(len(pages))]
        for name, page in zip(names, pages):
            Image.fromarray(page["bw"]).save(chapter / name)
        seen = hints.see_pages(colorizer, [p["bw"] for p in pages], settings)
        chosen = reader_clicks(seen, [p["labels"] for p in pages], meta, args.clicks)
        clicks = [hints.Click(names[int(c.page)], c.x, c.y, c.color) for c, _ in chosen]
        write_hints(tmp / "hints.json", clicks)
        times = {"no hints": [], f"{len(clicks)} hints": []}
        for repeat in range(args.repeats):
            for way in times:
                out = tmp / f"out{repeat}{len(way)}"
                given = read_hints(tmp / "hints.json") if way != "no hints" else None
                start = time.perf_counter()
                predict_pages(colorizer, str(chapter), out, settings, OutputOptions(), progress=False, clicks=given)
                times[way].append((time.perf_counter() - start) / len(pages))
    best = {way: min(t) for way, t in times.items()}
    base = best["no hints"]
    rows = {way: {"pages": len(pages), "s/page": t, "ratio": t / base} for way, t in best.items()}
    print(f"{args.ckpt} on {args.data.name}: {pages[0]['bw'].shape[1]}x{pages[0]['bw'].shape[0]} pages")
    print(format_table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
