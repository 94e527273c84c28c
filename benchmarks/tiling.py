"""How close tiled generation comes to the untiled forward, and what it costs in memory and seconds.

    python benchmarks/tiling.py                        # all parts
    python benchmarks/tiling.py --parts error --models demo --json out.json
    python benchmarks/tiling.py --parts memory --repeats 3

Parts:
- falloff: the effective receptive field: the generator on one window of a page (untiled statistics), the largest
  error of the window's pixels at least d pixels from its cut edges, for a range of d.
- error: B/W test pages of the synthetic set (256x320, --page-size), tiled with small tiles to stand in for large
  pages; every norm-statistics method x blend x tile/overlap, error of the tiled output against the untiled
  forward in 0..255 units (mean and max over pixels and channels), and the seconds of the statistics passes.
  The colorizer keeps "exact" statistics and the "crop" blend (manga_cyclegan/colorize/tiling.py); the others it
  was compared with (below) live only here.
- large: a 1456x1024 synthetic page drawn at that size through the full-size generator, tile 512: error and seconds.
- memory: the same page, each setting in a fresh subprocess: peak RSS growth (ru_maxrss after the run minus after
  loading model and page) and median seconds, untiled vs tiled, fp32 and bf16 autocast.

Models: "demo" is G_AB of a trained demo checkpoint (--demo-ckpt; ngf 32, 6 blocks), "full" a random-init
ResnetGenerator(1, 3, ngf=64, n_blocks=9) (the paper's generator).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from manga_cyclegan.color import from_uint8
from manga_cyclegan.colorize.colorizer import autocast
from manga_cyclegan.colorize.norm_stats import (
    NormStatistics,
    fixed_statistics,
    gather_statistics,
    image_norms,
    record_statistics,
)
from manga_cyclegan.colorize.tiling import (
    DEFAULT_OVERLAP,
    DEFAULT_TILE,
    TileAxis,
    generate_tiled,
    tile_axes,
    tile_pieces,
    tiled_statistics,
)
from manga_cyclegan.colorize.weights import load_colorizer
from manga_cyclegan.data.synthetic import make_page, render_page
from manga_cyclegan.nets import ResnetGenerator
from manga_cyclegan.nets.padding import SIZE_MULTIPLE, pad_to_multiple

ROOT = Path(__file__).resolve().parents[1]
DEMO_CHECKPOINT: Path | None = None  # --demo-ckpt
TEST_SIZE = (256, 320)  # --page-size: the synthetic set's test pages
LARGE_SIZE = (1456, 1024)  # --large-size
PARTS = ("falloff", "error", "large", "memory")
# Norm-statistics methods and blends compared: the colorizer's ("exact", "crop") and the ones it was chosen over.
METHODS = ("exact", "pooled", "downscaled", "tile")
STAT_METHODS = (*METHODS, "oracle")
BLENDS = ("crop", "linear", "cosine")


# ---- the statistics and blends the colorizer's tiling was compared with ---------------------------------------
def statistics_for(model, x: torch.Tensor, method: str, tile: int, overlap: int) -> NormStatistics:
    """Instance-norm statistics of the page for a tiled run.

    - "exact": the colorizer's (`tiled_statistics`): those of the untiled forward, one partial tiled pass per norm
      layer.
    - "pooled": one tiled pass in which each tile normalizes with its own statistics while every layer's input is
      measured over the whole page. Shared by all tiles, so seamless, but not the untiled output.
    - "downscaled": one untiled pass on the page shrunk to a tile's area. Cheapest, and furthest off.
    - "tile": none; each tile normalizes with its own statistics (naive: seams).
    - "oracle": the statistics recorded on the untiled forward.
    """
    if method == "oracle":
        return record_statistics(model, pad_to_multiple(x))
    if method == "exact":
        return tiled_statistics(model, x, tile, overlap)
    if not image_norms(model) or method == "tile":
        return {}
    if method == "downscaled":
        return record_statistics(model, downscale_to(x, tile * tile))
    padded = pad_to_multiple(x)
    return gather_statistics(model, tile_pieces(padded, *tile_axes(padded, tile, overlap)), {})


def downscale_to(x: torch.Tensor, max_pixels: int) -> torch.Tensor:
    """Area-shrink `x` so that H*W <= max_pixels (screentone averages to its tone); unchanged if it fits."""
    h, w = x.shape[-2:]
    if h * w <= max_pixels:
        return x
    scale = math.sqrt(max_pixels / (h * w))
    size = (max(1, math.floor(h * scale)), max(1, math.floor(w * scale)))
    return F.interpolate(x.float(), size=size, mode="area").to(x.dtype)


def ramp(n: int, blend: str) -> torch.Tensor:
    """Rising weights over n pixels, sampled at pixel centres: r(t) + r(n - 1 - t) = 1 for both shapes."""
    t = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    return t if blend == "linear" else 0.5 - 0.5 * torch.cos(math.pi * t)


def blend_weights(axis: TileAxis, i: int, blend: str) -> torch.Tensor:
    """1-D blend weight of tile i over its `size` pixels (before normalization by the sum over tiles)."""
    w = torch.ones(axis.size, dtype=torch.float64)
    start = axis.starts[i]
    if i > 0:  # ramp up over the overlap with the previous tile
        a = axis.starts[i - 1] + axis.size - start
        w[:a] *= ramp(a, blend)
    if i + 1 < len(axis.starts):  # ramp down over the overlap with the next tile
        b = start + axis.size - axis.starts[i + 1]
        w[axis.size - b :] *= ramp(b, blend).flip(0)
    return w


def weight_sum(axis: TileAxis, blend: str) -> torch.Tensor:
    total = torch.zeros(axis.length, dtype=torch.float64)
    for i, s in enumerate(axis.starts):
        total[s : s + axis.size] += blend_weights(axis, i, blend)
    return total


@torch.no_grad()
def generate_blended(model, x: torch.Tensor, tile: int, overlap: int, blend: str,
                     stats: NormStatistics) -> torch.Tensor:
    """`generate_tiled` with the tiles blended: "crop" is the colorizer's (each pixel from the one tile whose core
    holds it); "linear" and "cosine" feather, ramping each tile's weight across the whole overlap."""
    padded = pad_to_multiple(x, SIZE_MULTIPLE)
    if blend == "crop" or (padded.shape[-2] <= tile and padded.shape[-1] <= tile):
        return generate_tiled(model, x, tile, overlap, stats=stats)
    h, w = x.shape[-2:]
    rows, cols = tile_axes(padded, tile, overlap)
    out: torch.Tensor | None = None
    row_weights = [blend_weights(rows, i, blend).to(x.device, torch.float32) for i in range(len(rows.starts))]
    col_weights = [blend_weights(cols, j, blend).to(x.device, torch.float32) for j in range(len(cols.starts))]
    with fixed_statistics(model, stats):
        for i in range(len(rows.starts)):
            for j in range(len(cols.starts)):
                y0, x0 = rows.starts[i], cols.starts[j]
                y = model(padded[..., y0 : y0 + rows.size, x0 : x0 + cols.size])
                if out is None:
                    out = torch.zeros((x.shape[0], y.shape[1], h, w), dtype=torch.float32, device=x.device)
                b, d = min(y0 + rows.size, h) - y0, min(x0 + cols.size, w) - x0
                if b > 0 and d > 0:
                    weight = row_weights[i][:b, None] * col_weights[j][None, :d]
                    out[..., y0 : y0 + b, x0 : x0 + d].addcmul_(y[..., :b, :d].float(), weight)
    # weights are separable, so their sum over tiles is the outer product of the 1-D sums
    out.div_(weight_sum(rows, blend)[:h, None].to(out.device, torch.float32))
    out.div_(weight_sum(cols, blend)[None, :w].to(out.device, torch.float32))
    return out


# ---- the parts -------------------------------------------------------------------------------------------------


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
                            y = generate_blended(model, x, tile, overlap, blend, stats)
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
                    stats = statistics_for(model, x, setting["stats"], tile, overlap)
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
