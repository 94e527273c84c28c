"""How close tiled generation comes to the untiled forward, and what it costs in memory and seconds.

    python benchmarks/tiling.py                        # all parts
    python benchmarks/tiling.py --parts error --models demo --json out.json
    python benchmarks/tiling.py --parts memory --repeats 3

Parts:
- falloff: the effective receptive field: the generator on one window of a page (untiled statistics), the largest
  error of the window's pixels at least d pixels from its cut edges, for a range of d.
- error: B/W test pages of the synthetic set (256x320, --page-size), tiled with small tiles to stand in for large
  pages; every
  norm-statistics method x blend x tile/overlap, error of the tiled output against the untiled forward in 0..255
  units (mean and max over pixels and channels), and the seconds of the statistics passes.
- large: a 1456x1024 synthetic page drawn at that size through the full-size generator, tile 512: error and seconds.
- memory: the same page, each setting in a fresh subprocess: peak RSS growth (ru_maxrss after the run minus after
  loading model and page) and median seconds, untiled vs tiled, fp32 and bf16 autocast.

Models: "demo" is G_AB of a trained demo checkpoint (--demo-ckpt; ngf 32, 6 blocks), "full" a random-init
ResnetGenerator(1, 3, ngf=64, n_blocks=9) (the paper's generator).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from manga_cyclegan.color import from_uint8
from manga_cyclegan.colorize.colorizer import autocast
from manga_cyclegan.colorize.norm_stats import (
    NormStatistics,
    fixed_statistics,
    record_statistics,
)
from manga_cyclegan.colorize.tiling import (
    BLENDS,
    DEFAULT_OVERLAP,
    DEFAULT_TILE,
    METHODS,
    generate_tiled,
    tile_axes,
    tiled_statistics,
)
from manga_cyclegan.colorize.weights import load_colorizer
from manga_cyclegan.data.synthetic import make_page, render_page
from manga_cyclegan.nets import ResnetGenerator
from manga_cyclegan.nets.padding import pad_to_multiple

ROOT = Path(__file__).resolve().parents[1]
DEMO_CHECKPOINT: Path | None = None  # --demo-ckpt
TEST_SIZE = (256, 320)  # --page-size: the synthetic set's test pages
LARGE_SIZE = (1456, 1024)  # --large-size
# Statistics methods compared: the module's own and the oracle.
PARTS = ("falloff", "error", "large", "memory")
STAT_METHODS = (*METHODS, "oracle")


def statistics_for(model, x: torch.Tensor, method: str, tile: int, overlap: int) -> NormStatistics:
    """The module's methods, and "oracle": the statistics recorded on the untiled forward (the test-only path)."""
    if method == "oracle":
        return record_statistics(model, pad_to_multiple(x))
    return tiled_statistics(model, x, tile, overlap, method)


def load_model(name: str) -> torch.nn.Module:
    if name == "demo":
        if not DEMO_CHECKPOINT:
            raise SystemExit("--models demo needs --demo-ckpt: a checkpoint of `python train.py` (experiment=demo)")
        return load_colorizer(DEMO_CHECKPOINT).generator.eval()
    torch.manual_seed(0)
    return ResnetGenerator(1, 3, ngf=64, n_blocks=9).eval()


def test_page(index: int) -> torch.Tensor:
    """B/W test page `index` of the synthetic set, drawn at TEST_SIZE."""
    return from_uint8(render_page(*make_page(0, "test", index, *TEST_SIZE))[1]).unsqueeze(0)


def large_page() -> torch.Tensor:
    labels, shadow = make_page(0, "test", 1, *LARGE_SIZE)
    return from_uint8(render_page(labels, shadow)[1]).unsqueeze(0)


def errors(y: torch.Tensor, ref: torch.Tensor) -> tuple[float, float]:
    """Mean and max abs difference in 0..255 units."""
    diff = (y.float() - ref.float()).abs() * 127.5
    return diff.mean().item(), diff.max().item()


def seam_error(y: torch.Tensor, ref: torch.Tensor, tile: int, overlap: int) -> tuple[float, float]:
    """Error of the step between neighbouring pixels, 0..255 units: across tile core edges, and everywhere.

    A seam is a step the untiled output does not have: the first number well above the second.
    """
    d = (y.float() - ref.float()) * 127.5
    dy, dx = (d[..., 1:, :] - d[..., :-1, :]).abs(), (d[..., :, 1:] - d[..., :, :-1]).abs()
    rows, cols = tile_axes(pad_to_multiple(ref), tile, overlap)
    at_rows = [dy[..., b - 1, :] for b in rows.bounds[1:-1] if b < d.shape[-2]]
    at_cols = [dx[..., :, b - 1] for b in cols.bounds[1:-1] if b < d.shape[-1]]
    seams = torch.cat([t.flatten() for t in at_rows + at_cols]) if at_rows or at_cols else torch.zeros(1)
    return seams.mean().item(), torch.cat([dy.flatten(), dx.flatten()]).mean().item()


def error_part(args) -> list[dict]:
    rows = []
    for model_name in args.models:
        model = load_model(model_name)
        for page_index in args.pages:
            x = test_page(page_index)
            with torch.inference_mode():
                ref = model(x)
                for tile, overlap in args.settings:
                    for method in args.methods:
                        start = time.perf_counter()
                        stats = statistics_for(model, x, method, tile, overlap)
                        stats_s = time.perf_counter() - start
                        for blend in args.blends if method in args.blend_methods else ["crop"]:
                            start = time.perf_counter()
                            y = generate_tiled(model, x, tile, overlap, blend=blend, stats=stats)
                            tiles_s = time.perf_counter() - start
                            (mean, worst), (seam, step) = errors(y, ref), seam_error(y, ref, tile, overlap)
                            rows.append({
                                "model": model_name, "page": page_index, "tile": tile, "overlap": overlap,
                                "stats": method, "blend": blend, "mean_err": mean, "max_err": worst,
                                "seam_step_err": seam, "step_err": step, "stats_s": stats_s, "tiles_s": tiles_s,
                            })
                            print(f"  {model_name} page {page_index} tile {tile}/{overlap} {method:<14} {blend:<7}"
                                  f" mean {mean:7.3f} max {worst:7.2f} seam {seam:6.3f} step {step:6.3f}"
                                  f" stats {stats_s:6.2f} s tiles {tiles_s:6.2f} s", flush=True)
    return rows


def summarize_error(rows: list[dict]) -> None:
    """One line per model x setting x method x blend: mean over pages of the mean error, max of the max."""
    keys = []
    for r in rows:
        key = (r["model"], r["tile"], r["overlap"], r["stats"], r["blend"])
        if key not in keys:
            keys.append(key)
    header = (f"{'model':<6}{'tile':>5}{'ovl':>5}  {'stats':<15}{'blend':<8}{'mean err':>9}{'max err':>9}"
              f"{'seam':>7}{'step':>7}{'stats s':>9}{'tiles s':>9}")
    print("\nTiled vs untiled in 0..255 units: mean over pages of the mean abs error, max over pages of the max;"
          " seam / step: error of the step between neighbouring pixels across tile core edges / everywhere")
    print(header + "\n" + "-" * len(header))
    for key in keys:
        group = [r for r in rows if (r["model"], r["tile"], r["overlap"], r["stats"], r["blend"]) == key]
        avg = {name: statistics.mean(r[name] for r in group)
               for name in ("mean_err", "seam_step_err", "step_err", "stats_s", "tiles_s")}
        print(f"{key[0]:<6}{key[1]:>5}{key[2]:>5}  {key[3]:<15}{key[4]:<8}{avg['mean_err']:>9.3f}"
              f"{max(r['max_err'] for r in group):>9.2f}{avg['seam_step_err']:>7.3f}{avg['step_err']:>7.3f}"
              f"{avg['stats_s']:>9.2f}{avg['tiles_s']:>9.2f}")


FALLOFF_DISTANCES = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 128)


def window_error_by_distance(model, x: torch.Tensor, y0: int, x0: int, size: tuple[int, int]) -> dict[int, float]:
    """The generator on one window of the page, with the untiled statistics: the largest error (0..255) among the
    window's pixels at least d pixels from its edges, for each d: what a crop halo of d pixels would leave."""
    with torch.inference_mode():
        ref = model(x)
        with fixed_statistics(model, record_statistics(model, pad_to_multiple(x))):
            y = model(x[..., y0 : y0 + size[0], x0 : x0 + size[1]])
    error = ((y - ref[..., y0 : y0 + size[0], x0 : x0 + size[1]]).abs() * 127.5).amax(dim=(0, 1))
    rows, cols = torch.arange(size[0]), torch.arange(size[1])
    distance = torch.minimum(torch.minimum(rows, size[0] - 1 - rows)[:, None],
                             torch.minimum(cols, size[1] - 1 - cols)[None, :])
    return {d: error[distance >= d].max().item() for d in FALLOFF_DISTANCES if (distance >= d).any()}


def falloff_part(args) -> list[dict]:
    """Effective receptive field: how far from a cut the generator's output still changes."""
    cases = [(name, f"test page {i}", test_page(i), 64, 48, (192, 160)) for name in args.models for i in args.pages]
    if "full" in args.models:
        cases.append(("full", f"{LARGE_SIZE[0]}x{LARGE_SIZE[1]}", large_page(), 480, 256, (512, 512)))
    rows = []
    for name, page_name, x, y0, x0, size in cases:
        by_distance = window_error_by_distance(load_model(name), x, y0, x0, size)
        rows.append({"model": name, "page": page_name, "window": list(size), "max_err_beyond": by_distance})
        print(f"  {name} {page_name}: " + " ".join(f"{d}:{e:.2f}" for d, e in by_distance.items()), flush=True)
    print("\nLargest error (0..255) of a window's pixels at >= d px from its cut edges, untiled statistics")
    header = f"{'model':<6}{'page':<14}" + "".join(f"{d:>7}" for d in FALLOFF_DISTANCES)
    print(header + "\n" + "-" * len(header))
    for r in rows:
        print(f"{r['model']:<6}{r['page']:<14}" + "".join(f"{r['max_err_beyond'].get(d, float('nan')):>7.2f}"
                                                         for d in FALLOFF_DISTANCES))
    return rows


def large_part(args) -> list[dict]:
    model, x, rows = load_model("full"), large_page(), []
    with torch.inference_mode():
        start = time.perf_counter()
        ref = model(x)
        print(f"  untiled fp32: {time.perf_counter() - start:.1f} s", flush=True)
        for overlap in args.large_overlaps:
            for method in args.large_methods:
                start = time.perf_counter()
                stats = statistics_for(model, x, method, DEFAULT_TILE, overlap)
                stats_s = time.perf_counter() - start
                start = time.perf_counter()
                y = generate_tiled(model, x, DEFAULT_TILE, overlap, stats=stats)
                mean, worst = errors(y, ref)
                rows.append({"model": "full", "size": list(LARGE_SIZE), "tile": DEFAULT_TILE, "overlap": overlap,
                             "stats": method, "blend": "crop", "mean_err": mean, "max_err": worst,
                             "stats_s": stats_s, "tiles_s": time.perf_counter() - start})
                print(f"  tile {DEFAULT_TILE}/{overlap} {method:<12} mean {mean:7.3f} max {worst:7.2f}"
                      f" stats {stats_s:.1f} s tiles {rows[-1]['tiles_s']:.1f} s", flush=True)
    print(f"\n{LARGE_SIZE[0]}x{LARGE_SIZE[1]} page, full-size generator, tile {DEFAULT_TILE}, crop blend, fp32")
    header = f"{'ovl':>5}  {'stats':<12}{'mean err':>9}{'max err':>9}{'stats s':>9}{'tiles s':>9}"
    print(header + "\n" + "-" * len(header))
    for r in rows:
        print(f"{r['overlap']:>5}  {r['stats']:<12}{r['mean_err']:>9.3f}{r['max_err']:>9.2f}"
              f"{r['stats_s']:>9.1f}{r['tiles_s']:>9.1f}")
    return rows


def child(setting: dict) -> dict:
    """Runs in a fresh process: peak RSS growth and median seconds of one setting on the large page."""
    model, x = load_model(setting["model"]), large_page()
    device = torch.device("cpu")
    with torch.inference_mode():
        model(x[..., :64, :64])  # load the kernels before the baseline
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        stats_s, tiles_s = [], []
        for _ in range(setting["repeats"]):
            with autocast(device, setting["precision"]):
                start = time.perf_counter()
                if setting["tile"]:
                    tile, overlap = setting["tile"], setting["overlap"]
                    stats = tiled_statistics(model, x, tile, overlap, setting["stats"])
                    stats_s.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    y = generate_tiled(model, x, tile, overlap, stats=stats)
                else:
                    stats_s.append(0.0)
                    y = model(x)
                tiles_s.append(time.perf_counter() - start)
            del y
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    total = [a + b for a, b in zip(stats_s, tiles_s)]
    return {**setting, "peak_rss_mb": (peak - baseline) / 1024, "seconds": statistics.median(total),
            "stats_s": statistics.median(stats_s), "tiles_s": statistics.median(tiles_s), "all_seconds": total}


def memory_part(args) -> list[dict]:
    settings = [{"tile": 0, "stats": "-"}]
    settings += [{"tile": tile, "stats": method} for tile in args.memory_tiles for method in args.memory_methods]
    rows = []
    for precision in args.precisions:
        for setting in settings:
            setting = {"model": "full", "precision": precision, "overlap": DEFAULT_OVERLAP, "repeats": args.repeats,
                       **setting}
            done = subprocess.run([sys.executable, __file__, "--child", json.dumps(setting)],
                                  check=False, capture_output=True, text=True)
            if done.returncode:  # keep the other settings' numbers
                print(f"  {setting}: child failed ({done.returncode}): {done.stderr.strip()[-500:]}", flush=True)
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append(r)
            print(f"  {precision} tile {r['tile'] or 'untiled'} {r['stats']}: {r['peak_rss_mb']:.0f} MB,"
                  f" {r['seconds']:.1f} s (runs {', '.join(f'{t:.1f}' for t in r['all_seconds'])})", flush=True)
    print(f"\n{LARGE_SIZE[0]}x{LARGE_SIZE[1]} page, full-size generator, CPU {torch.get_num_threads()} threads,"
          f" overlap {DEFAULT_OVERLAP}, crop blend; peak RSS growth in a fresh process, median of {args.repeats} runs")
    header = f"{'precision':<10}{'tile':>9}  {'stats':<8}{'peak RSS MB':>12}{'seconds':>9}{'stats s':>9}{'tiles s':>9}"
    print(header + "\n" + "-" * len(header))
    for r in rows:
        print(f"{r['precision']:<10}{r['tile'] or 'untiled':>9}  {r['stats']:<8}{r['peak_rss_mb']:>12.0f}"
              f"{r['seconds']:>9.1f}{r['stats_s']:>9.1f}{r['tiles_s']:>9.1f}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS)
    parser.add_argument("--models", nargs="+", default=["full"], choices=["demo", "full"])
    parser.add_argument("--demo-ckpt", type=Path, default=None, help="checkpoint for --models demo")
    parser.add_argument("--pages", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--page-size", default="256x320", help="HxW of the test pages")
    parser.add_argument("--large-size", default="1456x1024", help="HxW of the large page")
    parser.add_argument("--settings", nargs="+", default=["96/48", "128/32", "128/64"], help="tile/overlap pairs")
    parser.add_argument("--methods", nargs="+", default=list(STAT_METHODS), choices=STAT_METHODS)
    parser.add_argument("--blends", nargs="+", default=list(BLENDS), choices=list(BLENDS))
    parser.add_argument("--blend-methods", nargs="+", default=["tile", "pooled", "exact"],
                        help="statistics methods for which every blend is measured (crop only for the others)")
    parser.add_argument("--large-overlaps", nargs="+", type=int, default=[64, 128])
    parser.add_argument("--large-methods", nargs="+", default=["tile", "pooled", "exact", "oracle"],
                        choices=STAT_METHODS)
    parser.add_argument("--memory-tiles", nargs="+", type=int, default=[DEFAULT_TILE])
    parser.add_argument("--memory-methods", nargs="+", default=["exact", "pooled"], choices=METHODS)
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    global DEMO_CHECKPOINT, TEST_SIZE, LARGE_SIZE
    DEMO_CHECKPOINT = args.demo_ckpt
    TEST_SIZE = tuple(int(v) for v in args.page_size.split("x"))
    LARGE_SIZE = tuple(int(v) for v in args.large_size.split("x"))
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    args.settings = [tuple(int(v) for v in s.split("/")) for s in args.settings]

    results = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    if "error" in args.parts:
        results["error"] = error_part(args)
        summarize_error(results["error"])
    if "falloff" in args.parts:
        results["falloff"] = falloff_part(args)
    if "large" in args.parts:
        results["large"] = large_part(args)
    if "memory" in args.parts:
        results["memory"] = memory_part(args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
