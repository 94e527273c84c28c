"""Seconds and peak memory to colorize one page, as predict.py does it (decode, colorize, encode).

    python benchmarks/predict_page.py                          # 1456x1024 and 2x its area, flat, lines and raw
    python benchmarks/predict_page.py --model demo --sizes 320x256 --repeats 1 --json out.json

The page is a B/W page of the synthetic manga set, drawn at the size asked for. The model is
the paper's full-size generator (ngf 64, 9 blocks; random weights: speed does not depend on them) recorded as
trained at short side 512 (experiment=onepiece), so "lines" runs it at 728x512 for a 1456x1024 page and carries
its chroma onto the full page, "flat" (predict's default) brings its colors to the page and fills the regions
the page's ink encloses ("flat s": that part alone, apart from the generator), while "raw" at
working_size=native runs it on every pixel of the page.

Every configuration runs in a fresh process, so its peak memory (ru_maxrss) is its own: the table gives the peak
RSS of that process and the part above the process after loading torch and the model ("page"). Seconds are the
median of --repeats runs after one warm-up page.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time

MODELS = {
    "full": dict(ngf=64, n_blocks=9),
    "demo": dict(ngf=32, n_blocks=6),
}
SHORT_SIDE = {"full": 512, "demo": 128}


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_page(height: int, width: int):
    """A B/W synthetic manga page drawn at this size (panels, characters, screentone, lettering)."""
    from manga_cyclegan.data.synthetic import make_page as draw
    from manga_cyclegan.data.synthetic import render_page

    return render_page(*draw(0, "test", 0, height, width))[1]


def child(args) -> dict:
    """One configuration, measured in this process."""
    import torch
    from PIL import Image

    from dataclasses import replace

    from manga_cyclegan.colorize.colorizer import (
        Colorizer,
        InferenceSettings,
        colorize_batch,
        working_shape,
    )
    from manga_cyclegan.colorize.flat import flat_color
    from manga_cyclegan.config.precision import resolve_precision
    from manga_cyclegan.io.decode import read_page
    from manga_cyclegan.io.outputs import encode_page
    from manga_cyclegan.nets import ResnetGenerator

    torch.manual_seed(0)
    height, width = (int(v) for v in args.size.split("x"))
    encoded = io.BytesIO()
    Image.fromarray(make_page(height, width)).save(encoded, "PNG")
    path = f"/tmp/predict_page_{height}x{width}.png"
    with open(path, "wb") as f:
        f.write(encoded.getvalue())
    colorizer = Colorizer(ResnetGenerator(1, 3, **MODELS[args.model]).eval(), SHORT_SIDE[args.model])
    precision = resolve_precision(args.precision, torch.device("cpu"))
    settings = InferenceSettings(
        mode=args.mode, working_size="native" if args.mode == "raw" else "auto", precision=precision,
        tile_pixels=args.tile_pixels or None,
    )
    base = rss_mib()

    raw = replace(settings, mode="raw")

    def once() -> tuple[float, float]:
        """Seconds for the page, and for the flat output's own work (ink, regions, medians: flat mode only)."""
        start = time.perf_counter()
        page = read_page(path, "L")
        if settings.mode == "flat":  # colorize_batch's flat mode, in its two parts
            colors = colorize_batch(colorizer, [page], raw)[0]
            flat_start = time.perf_counter()
            color = flat_color(page, colors, settings.flat_regions, settings.close_gaps, settings.split_tones,
                               settings.split_colors)
            flat_seconds = time.perf_counter() - flat_start
        else:
            color, flat_seconds = colorize_batch(colorizer, [page], settings)[0], 0.0
        encode_page(color, "png")
        return time.perf_counter() - start, flat_seconds

    once()  # warm-up: oneDNN picks and compiles its kernels for these shapes
    runs = [once() for _ in range(args.repeats)]
    seconds = [r[0] for r in runs]
    working = working_shape(height, width, colorizer.short_side, settings.working_size)
    return {
        "model": args.model, "size": args.size, "mode": args.mode, "precision": precision,
        "working": f"{working[0]}x{working[1]}", "tile_pixels": args.tile_pixels,
        "seconds": statistics.median(seconds), "flat_seconds": statistics.median(r[1] for r in runs),
        "peak_rss_mib": peak_mib(), "page_mib": peak_mib() - base,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=MODELS, default="full")
    parser.add_argument("--sizes", nargs="+", default=["1456x1024", "2059x1448"], help="HxW pages")
    parser.add_argument("--modes", nargs="+", default=["flat", "lines", "raw"])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "auto"])
    parser.add_argument("--tile-pixels", type=int, default=4194304,
                        help="tile working images above this many pixels (predict.py: auto, by free memory); 0: never")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--size", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--precision", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return

    rows = []
    for size in args.sizes:
        for mode in args.modes:
            for precision in args.precisions:
                cmd = [sys.executable, __file__, "--child", "--model", args.model, "--size", size, "--mode", mode,
                       "--precision", precision, "--tile-pixels", str(args.tile_pixels),
                       "--repeats", str(args.repeats)]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
                rows.append(json.loads(out.strip().splitlines()[-1]))
                print(f"  measured {size} {mode} {rows[-1]['precision']}", file=sys.stderr)

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from machine_peak import peak_line

    print(peak_line())
    print(f"Colorizing one page, {args.model} generator ({MODELS[args.model]}), tile_pixels={args.tile_pixels}; "
          f"per MP: per megapixel the generator works on")
    header = (f"{'page':>10} {'mode':>5} {'precision':>9} {'working':>10} {'s/page':>7} {'flat s':>6} {'s/MP':>6} "
              f"{'peak RSS MiB':>12} {'page MiB':>8} {'MiB/MP':>7}")
    print(header + "\n" + "-" * len(header))
    for r in rows:
        mp = math.prod(int(v) for v in r["working"].split("x")) / 1e6
        print(f"{r['size']:>10} {r['mode']:>5} {r['precision']:>9} {r['working']:>10} {r['seconds']:7.2f} "
              f"{r['flat_seconds']:6.2f} {r['seconds'] / mp:6.2f} {r['peak_rss_mib']:12.0f} {r['page_mib']:8.0f} {r['page_mib'] / mp:7.0f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
