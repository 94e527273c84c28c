"""Pages per minute and peak memory over a whole chapter, as predict.py colorizes a .cbz: decoding, the generator,
the flat output and encoding, with and without the overlap (`overlap=true`, predict's default: pages read ahead and
written behind in threads while the generator runs), and with the generator compiled (`compile=true`).

    python benchmarks/predict_chapter.py                               # 24 and 6 pages of 1456x1024, full model
    python benchmarks/predict_chapter.py --model demo --pages 24 --json out.json

The chapter holds B/W pages of the synthetic manga set drawn at the size asked for (a different page each), as PNG
members. The model is the paper's full-size generator (random weights: speed does not depend on them) recorded
as trained at short side 512, as in benchmarks/predict_page.py. Every configuration runs in a fresh process, so
its peak RSS is its own; the same chapter at two lengths shows whether memory stays flat with the page count.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import time
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from predict_page import MODELS, SHORT_SIDE  # noqa: E402  (benchmarks/ is not a package)


def make_chapter(path: str, pages: int, height: int, width: int) -> None:
    from PIL import Image

    from manga_cyclegan.data.synthetic import make_page, render_page

    with zipfile.ZipFile(path, "w") as zf:
        for i in range(pages):
            buffer = io.BytesIO()
            Image.fromarray(render_page(*make_page(0, "test", i, height, width))[1]).save(buffer, "PNG")
            zf.writestr(f"{i:03d}.png", buffer.getvalue())


def child(args) -> dict:
    import tempfile
    from pathlib import Path

    import torch

    from manga_cyclegan.colorize.colorizer import Colorizer, InferenceSettings
    from manga_cyclegan.config.precision import resolve_precision
    from manga_cyclegan.nets import ResnetGenerator
    from manga_cyclegan.predict.run import predict_pages
    from manga_cyclegan.predict.sinks import OutputOptions

    torch.manual_seed(0)
    colorizer = Colorizer(ResnetGenerator(1, 3, **MODELS[args.model]).eval(), SHORT_SIDE[args.model])
    settings = InferenceSettings(precision=resolve_precision(args.precision, torch.device("cpu")),
                                 compile=args.compile == "on")
    with tempfile.TemporaryDirectory() as tmp:
        warm_up = Path(tmp) / "warm-up.cbz"  # the chapter's first page: oneDNN picks its kernels for these shapes
        with zipfile.ZipFile(args.chapter) as source, zipfile.ZipFile(warm_up, "w") as zf:
            zf.writestr("000.png", source.read("000.png"))
        start = time.perf_counter()
        predict_pages(colorizer, str(warm_up), Path(tmp) / "warm-up", settings, OutputOptions(), progress=False,
                      overlap=args.overlap == "on")
        warm_up_seconds = time.perf_counter() - start
        start = time.perf_counter()
        summary = predict_pages(colorizer, args.chapter, Path(tmp) / "out", settings, OutputOptions(),
                                progress=False, overlap=args.overlap == "on")
        seconds = time.perf_counter() - start
    assert summary.counts["colorized"] == args.pages, summary.report()
    return {"model": args.model, "pages": args.pages, "size": args.size, "overlap": args.overlap,
            "compile": args.compile, "precision": settings.precision, "warm_up_s": warm_up_seconds, "seconds": seconds, "pages_per_min": 60 * args.pages / seconds,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=MODELS, default="full")
    parser.add_argument("--size", default="1456x1024", help="HxW of every page")
    parser.add_argument("--lengths", nargs="+", type=int, default=[24, 6], help="pages per chapter")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--configs", nargs="+", default=["off-eager", "on-eager", "on-compile"],
                        choices=["off-eager", "on-eager", "off-compile", "on-compile"],
                        help="overlap on/off, generator eager/compiled")
    parser.add_argument("--json")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--chapter", help=argparse.SUPPRESS)
    parser.add_argument("--pages", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--overlap", help=argparse.SUPPRESS)
    parser.add_argument("--compile", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return

    height, width = (int(v) for v in args.size.split("x"))
    rows = []
    for pages in args.lengths:
        chapter = f"/tmp/predict_chapter_{pages}x{args.size}.cbz"
        make_chapter(chapter, pages, height, width)
        for config in args.configs:  # side by side, the same chapter
            overlap, graph = config.split("-")
            cmd = [sys.executable, __file__, "--child", "--model", args.model, "--chapter", chapter, "--pages",
                   str(pages), "--size", args.size, "--overlap", overlap, "--precision", args.precision,
                   "--compile", "on" if graph == "compile" else "off"]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
            print(f"  measured {pages} pages, overlap {overlap}, {graph}", file=sys.stderr)

    from machine_peak import peak_line

    print(peak_line())
    print(f"A .cbz chapter of {args.size} pages through predict (flat mode), {args.model} generator "
          f"({MODELS[args.model]}); seconds after one warm-up page (its own seconds: 'warm-up s', which compiles)")
    header = (f"{'pages':>5} {'overlap':>7} {'compile':>7} {'precision':>9} {'warm-up s':>9} {'s total':>8} "
              f"{'s/page':>7} {'pages/min':>9} {'peak RSS MiB':>12}")
    print(header + "\n" + "-" * len(header))
    for r in rows:
        print(f"{r['pages']:5d} {r['overlap']:>7} {r['compile']:>7} {r['precision']:>9} {r['warm_up_s']:9.1f} "
              f"{r['seconds']:8.1f} {r['seconds'] / r['pages']:7.2f} {r['pages_per_min']:9.1f} "
              f"{r['peak_rss_mib']:12.0f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
