"""Do bf16-mixed (or 16-mixed) loss curves track fp32's? The same run, same seed, in each precision.

    python benchmarks/precision_curves.py                                  # the demo, 300 batches
    python benchmarks/precision_curves.py model.ngf=8 model.n_blocks=1 --batches 100 --precisions 32 bf16-mixed

Each precision trains `python train.py` (the demo unless overrides say otherwise) for --batches batches from the
same seed, logging every step; the table gives the generator and discriminator losses averaged over windows of
the run and, last, the largest gap between the smoothed curves relative to fp32's. Two runs in the same precision
agree exactly (the data order and augmentation are seeded), so any gap is the precision's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

REPO = Path(__file__).resolve().parents[1]
CURVES = ("loss/G", "loss/D")


def train(precision: str, batches: int, run_dir: Path, overrides: list[str]) -> None:
    # Lightning counts an optimizer step per phase: two per batch.
    args = [f"trainer.precision={precision}", f"++trainer.max_steps={2 * batches}", f"trainer.max_epochs={batches}",
            "trainer.log_every_n_steps=1", "trainer.check_val_every_n_epoch=1000", "trainer.num_sanity_val_steps=0",
            f"hydra.run.dir={run_dir}"]
    subprocess.run([sys.executable, str(REPO / "train.py"), *args, *overrides], check=True, cwd=REPO,
                   stdout=subprocess.DEVNULL)


def curves(run_dir: Path) -> dict[str, list[float]]:
    """Each curve's values in step order, from the run's TensorBoard events."""
    (events,) = {p.parent for p in run_dir.rglob("events.out.tfevents.*")}
    acc = EventAccumulator(str(events), size_guidance={"scalars": 0})
    acc.Reload()
    return {name: [e.value for e in sorted(acc.Scalars(name), key=lambda e: e.step)] for name in CURVES}


def windows(values: list[float], n: int) -> list[float]:
    size = max(1, len(values) // n)
    return [statistics.fmean(values[i : i + size]) for i in range(0, size * n, size) if values[i : i + size]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--precisions", nargs="+", default=["32", "bf16-mixed"])
    parser.add_argument("--windows", type=int, default=6)
    parser.add_argument("--json")
    parser.add_argument("overrides", nargs="*", help="train.py overrides, e.g. model.ngf=8 (before the options)")
    args = parser.parse_args()

    runs: list[tuple[str, dict[str, list[float]]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, precision in enumerate(args.precisions):
            run_dir = Path(tmp) / f"{i}_{precision}"
            train(precision, args.batches, run_dir, args.overrides)
            runs.append((precision, {name: windows(v, args.windows) for name, v in curves(run_dir).items()}))
            print(f"  trained {precision}", file=sys.stderr, flush=True)

    print(f"\nLoss curves over {args.batches} batches, mean of each of {args.windows} windows; max gap: largest "
          f"difference to the first run's window relative to it (overrides: {' '.join(args.overrides) or 'none'})")
    header = f"{'curve':<8}{'precision':<12}" + "".join(f"{f'w{i + 1}':>8}" for i in range(args.windows)) + \
        f"{'max gap':>9}"
    print(header + "\n" + "-" * len(header))
    rows = []
    for name in CURVES:
        base = runs[0][1][name]
        for precision, result in runs:
            values = result[name]
            gap = max(abs(v - b) / abs(b) for v, b in zip(values, base))
            rows.append({"curve": name, "precision": precision, "windows": values, "max_gap": gap})
            print(f"{name:<8}{precision:<12}" + "".join(f"{v:>8.3f}" for v in values) + f"{gap:>8.1%}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
