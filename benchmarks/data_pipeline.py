"""Pages per second the training DataModule delivers, against the pages per second a training step consumes.

    python benchmarks/data_pipeline.py                             # 1456x1024 JPEG pages, data=folder defaults
    python benchmarks/data_pipeline.py --workers 0 1 2 --batches 50 --step-seconds 19.1 --json out.json

The pages are synthetic manga pages drawn at full scan size and saved as JPEG (quality 90): B/W ones in trainA,
color ones in trainB. The DataModule is the one `python train.py experiment=custom data.root=...` builds, with its
default augmentation (short-side resize if `data.load_size`, random scale, 256 crop, flip) and default worker count
unless --workers says otherwise. One item is a pair (an A page and a B page); the table counts pairs per second,
after the first `--warmup` batches (worker start-up). A training step consumes `batch_size` pairs per step: its
rate comes from --step-seconds, or is measured here on the full-size model (benchmarks/train_step.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from hydra import compose, initialize_config_module
from PIL import Image

import manga_cyclegan.config  # noqa: F401  (the config resolvers)
from manga_cyclegan.data.synthetic import make_page, render_page

def write_pages(root: Path, n: int, height: int, width: int) -> None:
    (root / "trainA").mkdir(parents=True)
    (root / "trainB").mkdir()
    for i in range(n):
        color, bw = render_page(*make_page(0, "test", i, height, width))
        Image.fromarray(bw).save(root / "trainA" / f"page_{i:03d}.jpg", quality=90)
        Image.fromarray(color).save(root / "trainB" / f"page_{i:03d}.jpg", quality=90)


def datamodule(root: Path, workers: int | None, overrides: list[str]):
    import hydra

    args = ["experiment=custom", f"data.root={root}", f"paths.output_dir={root / 'run'}", *overrides]
    if workers is not None:
        args += [f"data.num_workers={workers}", f"data.persistent_workers={workers > 0}"]
    with initialize_config_module(config_module="manga_cyclegan.conf", version_base="1.3"):
        cfg = compose("train", overrides=args)
    dm = hydra.utils.instantiate(cfg.data)
    dm.prepare_data()
    dm.setup("fit")
    return dm, cfg.data


def pairs_per_second(loader, warmup: int, batches: int) -> tuple[float, int]:
    """Pairs per second over `batches` batches after `warmup` (two epochs' worth if needed)."""
    seen, start, batch_size = 0, None, 1
    while seen < warmup + batches:
        for batch in loader:
            batch_size = batch["A"].shape[0]
            seen += 1
            if seen == warmup:
                start = time.perf_counter()
            if seen == warmup + batches:
                break
    return batches * batch_size / (time.perf_counter() - start), batch_size


def measured_step_seconds() -> float:
    sys.path.insert(0, str(Path(__file__).parent))
    from train_step import MODELS, time_steps

    from manga_cyclegan.config.precision import fast_precision

    return statistics.median(time_steps(MODELS["full"], 256, 1, fast_precision("auto"), warmup=1, steps=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=16, help="pages per domain")
    parser.add_argument("--size", default="1456x1024", help="HxW of the pages")
    parser.add_argument("--workers", nargs="+", type=int, default=[None], help="worker counts (default: config's)")
    parser.add_argument("--warmup", type=int, default=4)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--step-seconds", type=float, help="seconds per training step (default: measured)")
    parser.add_argument("--json")
    parser.add_argument("overrides", nargs="*", help="extra config overrides, e.g. data.load_size=1024")
    args = parser.parse_args()
    height, width = (int(v) for v in args.size.split("x"))

    sys.path.insert(0, str(Path(__file__).parent))
    from machine_peak import device_name

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "pages"
        write_pages(root, args.pages, height, width)
        for workers in args.workers:
            dm, data_cfg = datamodule(root, workers, args.overrides)
            rate, batch_size = pairs_per_second(dm.train_dataloader(), args.warmup, args.batches)
            rows.append({"workers": data_cfg.num_workers, "crop": data_cfg.crop_size, "load_size": data_cfg.load_size,
                         "batch_size": batch_size, "pairs_per_s": rate})
            print(f"  {data_cfg.num_workers} workers: {rate:.1f} pairs/s", file=sys.stderr, flush=True)
    step_seconds = args.step_seconds or measured_step_seconds()
    consumed = rows[0]["batch_size"] / step_seconds

    print(f"\nData pipeline ({device_name()}), {args.pages}+{args.pages} JPEG pages of {args.size} (HxW), "
          f"{args.batches} batches timed after {args.warmup}")
    print(f"A training step ({step_seconds:.2f} s) consumes {consumed:.3f} pairs/s")
    header = f"{'workers':>8}{'crop':>6}{'load_size':>10}{'batch':>6}{'pairs/s':>9}{'x consumed':>12}"
    print(header + "\n" + "-" * len(header))
    for r in rows:
        r["times_consumed"] = r["pairs_per_s"] / consumed
        print(f"{r['workers']:>8}{r['crop']:>6}{r['load_size']!s:>10}{r['batch_size']:>6}{r['pairs_per_s']:>9.1f}"
              f"{r['times_consumed']:>11.0f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": device_name(), "step_seconds": step_seconds, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
