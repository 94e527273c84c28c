"""The flat output's own cost (ink, regions, medians, paper guard), side by side with the flat.py of another
revision, on synthetic pages of the given sizes with the same colors.

    python benchmarks/flat_speed.py --against HEAD~1 [--sizes 1456x1024 2059x1448] [--repeats 5] [--json out.json]

Each row: median seconds of `flat_color` now and at `--against` (alternating, in one process), the ratio, and
whether the two outputs are identical.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from manga_cyclegan.colorize import flat  # noqa: E402
from manga_cyclegan.data.synthetic import make_page, render_page  # noqa: E402
from manga_cyclegan.evaluate.report import format_table  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def flat_at(revision: str, folder: Path):
    source = subprocess.run(["git", "show", f"{revision}:manga_cyclegan/colorize/flat.py"], cwd=REPO, check=True,
                            capture_output=True, text=True).stdout
    path = folder / "flat_then.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("flat_then", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", required=True, help="a git revision whose flat.py to compare with")
    parser.add_argument("--sizes", nargs="+", default=["1456x1024", "2059x1448"], help="WxH pages")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        then = flat_at(args.against, Path(tmp))
        for size in args.sizes:
            width, height = (int(v) for v in size.split("x"))
            bw = render_page(*make_page(0, "test", 0, height, width))[1]
            noise = np.random.default_rng(0).integers(0, 255, (height // 2, width // 2, 3), dtype=np.uint8)
            color = cv2.GaussianBlur(noise, (0, 0), 3)
            times = {"now": [], "then": []}
            for _ in range(args.repeats):
                for name, module in (("now", flat), ("then", then)):
                    start = time.perf_counter()
                    module.flat_color(bw, color)
                    times[name].append(time.perf_counter() - start)
            now, before = statistics.median(times["now"]), statistics.median(times["then"])
            rows[size] = {"now s": now, f"{args.against} s": before, "speedup": before / now,
                          "identical": bool(np.array_equal(flat.flat_color(bw, color), then.flat_color(bw, color)))}
    print(f"flat_color, median of {args.repeats}")
    print(format_table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
