"""How close the training step's convolutions come to the machine's matmul peak.

    python benchmarks/conv_peak.py                                 # full-size model, 256 crops, bf16, channels-last
    python benchmarks/conv_peak.py --model demo --precision 32 --channels-last off --json out.json

One training step (G phase + D phase, as benchmarks/train_step.py runs it) is profiled with torch.profiler after
three warm-up steps. The step's FLOPs, counted as train_step.py counts them (FlopCounterMode: in this step, its
convolutions are all it counts), over the time spent in the convolutions' forward and backward kernels (`aten::mkldnn_convolution`, `aten::convolution_backward`, with
the reorders they do inside) give their rate, set against the large-matmul peak of the step's compute dtype
measured in the same run. The whole step's rate is train_step.py's `of peak` column.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

import torch
from torch.profiler import ProfilerActivity, profile

from manga_cyclegan.train.module import CycleGAN

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_step import DEFAULT_SIZES, MODELS, step_flops  # noqa: E402  (benchmarks/ is not a package)

CONV_KERNELS = ("aten::mkldnn_convolution", "aten::convolution_backward", "aten::cudnn_convolution")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(MODELS), default="full")
    parser.add_argument("--size", type=int, default=None, help="crop size (default: 256 full, 128 demo)")
    parser.add_argument("--precision", choices=["32", "bf16-mixed"], default="bf16-mixed")
    parser.add_argument("--channels-last", choices=["off", "on"], default="on")
    parser.add_argument("--json")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from machine_peak import device_name, peaks

    torch.manual_seed(0)
    size = args.size or DEFAULT_SIZES[args.model]
    model = CycleGAN(**MODELS[args.model], channels_last=args.channels_last == "on")
    model.setup("fit")
    opt_g = torch.optim.Adam(list(model.G_AB.parameters()) + list(model.G_BA.parameters()))
    opt_d = torch.optim.Adam(list(model.D_A.parameters()) + list(model.D_B.parameters()))
    real_A = model._layout(torch.rand(1, 1, size, size) * 2 - 1)
    real_B = model._layout(torch.rand(1, 3, size, size) * 2 - 1)
    bf16 = args.precision == "bf16-mixed"

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            g_losses, images = model.generator_losses(real_A, real_B)
        opt_g.zero_grad()
        sum(g_losses.values()).backward()
        opt_g.step()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            d_losses = model.discriminator_losses({k: v.detach() for k, v in images.items()})
        opt_d.zero_grad()
        sum(d_losses.values()).backward()
        opt_d.step()

    conv_flops = step_flops(MODELS[args.model], size, 1)
    for _ in range(3):
        step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        step()
        step_s = time.perf_counter() - start
    conv_s = sum(e.cpu_time_total for e in prof.key_averages() if e.key in CONV_KERNELS) / 1e6
    peak = peaks()["bf16" if bf16 else "fp32"]
    row = {"device": device_name(), "model": args.model, "size": size, "precision": args.precision,
           "channels_last": args.channels_last, "conv_gflop": conv_flops / 1e9, "conv_s": conv_s,
           "step_s_profiled": step_s, "conv_tflops": conv_flops / conv_s / 1e12, "peak_tflops": peak}
    row["conv_share_of_peak"] = row["conv_tflops"] / peak
    print(f"Convolutions of one training step ({row['device']}, torch {torch.__version__}, profiled)")
    print(f"{'model':<6}{'size':>5}  {'precision':<11}{'ch-last':<8}{'conv GFLOP':>11}{'conv s':>8}{'step s':>8}"
          f"{'conv TFLOP/s':>13}{'peak':>7}{'of peak':>8}")
    print(f"{args.model:<6}{size:>5}  {args.precision:<11}{args.channels_last:<8}{row['conv_gflop']:>11.0f}"
          f"{conv_s:>8.3f}{step_s:>8.3f}{row['conv_tflops']:>13.3f}{peak:>7.3f}{row['conv_share_of_peak']:>8.0%}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(row, f, indent=2)


if __name__ == "__main__":
    main()
