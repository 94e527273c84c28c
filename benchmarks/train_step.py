"""Seconds per CycleGAN training step (G phase + D phase), through the real LightningModule and Trainer.

    python benchmarks/train_step.py                       # full-size and demo model, every precision and lever
    python benchmarks/train_step.py --models demo --steps 3 --warmup 1 --compile off --json out.json

Each configuration runs `warmup + steps` batches of random pages in one Trainer; the table gives the median
seconds of the timed steps, images/s, achieved TFLOP/s (FLOPs of one step counted by torch's FlopCounterMode),
its share of the machine's large-matmul peak in the step's compute dtype, and the speed-up over the first row of
the same model in this invocation (fp32, eager, contiguous, each generator pass its own call: the reference's
way). With --compile on, the first
steps include compilation: warm-up must cover them (the default 2 does on this project's models).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import time
import warnings

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset
from torch.utils.flop_counter import FlopCounterMode

from manga_cyclegan.config.precision import cpu_has_bf16_units
from manga_cyclegan.train.module import CycleGAN

MODELS = {
    "full": dict(ngf=64, ndf=64, n_blocks=9),  # the paper's generator, as the reference runs it
    "demo": dict(ngf=32, ndf=32, n_blocks=6),  # experiment=demo
}
DEFAULT_SIZES = {"full": 256, "demo": 128}
# The dtype whose matmul peak bounds each precision (mixed precision computes convolutions in the low dtype).
PEAK_DTYPE = {"32": "fp32", "bf16-mixed": "bf16", "16-mixed": "fp16"}


class RandomPages(Dataset):
    def __init__(self, n: int, size: int):
        self.n, self.size = n, size

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        g = torch.Generator().manual_seed(i)
        return {
            "A": torch.rand(1, self.size, self.size, generator=g) * 2 - 1,
            "B": torch.rand(3, self.size, self.size, generator=g) * 2 - 1,
        }


class StepTimer(pl.Callback):
    def __init__(self):
        self.seconds: list[float] = []

    def on_train_batch_start(self, *args) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, *args) -> None:
        self.seconds.append(time.perf_counter() - self._start)


def step_flops(model_kwargs: dict, size: int, batch: int) -> int:
    """FLOPs of one training step (forward and backward of both phases), counted once in fp32."""
    model = CycleGAN(**model_kwargs)
    real_A, real_B = torch.rand(batch, 1, size, size), torch.rand(batch, 3, size, size)
    with FlopCounterMode(display=False) as counter:
        g_losses, images = model.generator_losses(real_A, real_B)
        sum(g_losses.values()).backward()
        sum(model.discriminator_losses(images).values()).backward()
    return counter.get_total_flops()


def time_steps(model_kwargs: dict, size: int, batch: int, precision: str, warmup: int, steps: int,
               passes: str = "batched") -> list[float]:
    """Seconds of each of the `steps` timed training steps of a fresh model, after `warmup` untimed ones."""
    model = CycleGAN(**model_kwargs, batched_passes=passes == "batched", image_log_every_n_batches=10**9)
    loader = DataLoader(RandomPages((warmup + steps) * batch, size), batch_size=batch)
    timer = StepTimer()
    trainer = pl.Trainer(
        accelerator="auto", devices=1, precision=precision, max_epochs=1, logger=False, callbacks=[timer],
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
    )
    trainer.fit(model, train_dataloaders=loader)
    return timer.seconds[warmup:]


def default_precisions() -> list[str]:
    """fp32, and the mixed precisions the hardware computes natively (emulated bf16 is hundreds of times slower)."""
    if torch.cuda.is_available():
        return ["32", "bf16-mixed", "16-mixed"] if torch.cuda.is_bf16_supported() else ["32", "16-mixed"]
    return ["32", "bf16-mixed"] if cpu_has_bf16_units() else ["32"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["full", "demo"], choices=sorted(MODELS))
    parser.add_argument("--precisions", nargs="+", default=None,
                        help="default: 32 and the mixed precisions the hardware has units for (16-mixed on GPUs)")
    parser.add_argument("--channels-last", nargs="+", default=["off", "on"], choices=["off", "on"])
    parser.add_argument("--compile", nargs="+", default=["off", "on"], choices=["off", "on"],
                        help="torch.compile of the four networks (model.compile)")
    parser.add_argument("--passes", nargs="+", default=["separate", "batched"], choices=["separate", "batched"],
                        help="each generator pass its own call (the reference's way) or a generator's independent "
                             "passes in one batch (model.batched_passes)")
    parser.add_argument("--size", type=int, default=None, help="crop size (default: 256 full, 128 demo)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    args.precisions = args.precisions or default_precisions()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from machine_peak import device_name, peaks

    peak = peaks()

    rows = []
    for name in args.models:
        size = args.size or DEFAULT_SIZES[name]
        flops = step_flops(MODELS[name], size, args.batch)
        baseline = None
        for precision, layout, compiled, passes in itertools.product(
                args.precisions, args.channels_last, args.compile, args.passes):
            kwargs = {**MODELS[name], "channels_last": layout == "on", "compile": compiled == "on"}
            seconds = statistics.median(time_steps(kwargs, size, args.batch, precision, args.warmup, args.steps, passes))
            baseline = baseline or seconds  # a model's first row: fp32, eager, contiguous, separate passes by default
            tflops = flops / seconds / 1e12
            rows.append({
                "model": name, "size": size, "batch": args.batch, "precision": precision, "channels_last": layout,
                "compile": compiled, "passes": passes, "s_per_step": seconds, "images_per_s": args.batch / seconds, "tflops": tflops,
                "share_of_peak": tflops / peak[PEAK_DTYPE.get(precision, "fp32")], "speedup": baseline / seconds,
                "gflop_per_step": flops / 1e9,
            })
            print(f"  {name} {precision} channels_last={layout} compile={compiled} passes={passes}: {seconds:.3f} s/step",
                  flush=True)

    print(f"\nTraining step ({device_name()}, torch {torch.__version__}, median of {args.steps} after {args.warmup} "
          f"warm-up)")
    print("Machine peak: " + ", ".join(f"{k} {v:.3f} TFLOP/s" for k, v in peak.items()) + " (large matmul)")
    header = (f"{'model':<6}{'size':>5}{'batch':>6}  {'precision':<11}{'ch-last':<8}{'compile':<8}{'passes':<9}{'s/step':>8}"
              f"{'img/s':>7}{'TFLOP/s':>9}{'of peak':>8}{'GFLOP':>7}{'speedup':>9}")
    print(header + "\n" + "-" * len(header))
    for r in rows:
        print(f"{r['model']:<6}{r['size']:>5}{r['batch']:>6}  {r['precision']:<11}{r['channels_last']:<8}"
              f"{r['compile']:<8}{r['passes']:<9}{r['s_per_step']:>8.3f}{r['images_per_s']:>7.2f}{r['tflops']:>9.3f}"
              f"{r['share_of_peak']:>8.0%}{r['gflop_per_step']:>7.0f}{r['speedup']:>8.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": device_name(), "torch": torch.__version__, "peak_tflops": peak, "rows": rows}, f,
                      indent=2)


if __name__ == "__main__":
    main()
