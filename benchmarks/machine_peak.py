"""This machine's peak: TFLOP/s of a large matrix product in fp32 and bf16 (and fp16 on a GPU).

    python benchmarks/machine_peak.py [--size 2048] [--json out.json]

Every other benchmark prints this line too, so its figures can be read as a share of what the hardware does. On a
CPU without bf16 units (no AMX, no AVX-512 BF16) bf16 is emulated and hundreds of times slower than fp32: that is
why `precision=auto` and `fast_precision` pick bf16 only where the units exist.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch


def device_name() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name()
    return f"CPU {torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads"


def matmul_tflops(dtype: torch.dtype, size: int, device: torch.device, repeats: int = 5) -> float:
    """Median TFLOP/s of `n x n @ n x n` after a warm-up, for n up to `size`: doubled from 256 while one product
    takes under 50 ms, so an emulated dtype is measured on a small product in well under a second."""
    n = min(256, size)
    while True:
        a = torch.randn(n, n, device=device).to(dtype)
        b = torch.randn(n, n, device=device).to(dtype)

        def once() -> float:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            a @ b
            if device.type == "cuda":
                torch.cuda.synchronize()
            return time.perf_counter() - start

        first = once()
        if 2 * n > size or first > 0.05:
            return 2 * n**3 / statistics.median(once() for _ in range(repeats)) / 1e12
        n *= 2


def peaks(size: int = 2048) -> dict[str, float]:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    if device.type == "cuda":
        dtypes["fp16"] = torch.float16
    return {name: matmul_tflops(dtype, size, device) for name, dtype in dtypes.items()}


def peak_line(size: int = 2048) -> str:
    """One line: the device and its large-matmul TFLOP/s per dtype."""
    measured = peaks(size)
    return f"Machine peak ({device_name()}): " + ", ".join(f"{k} {v:.3f} TFLOP/s" for k, v in measured.items()) + \
        f" (square matmul up to {size})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--json")
    args = parser.parse_args()
    measured = peaks(args.size)
    print(f"{'device':<40}{'dtype':<7}{'TFLOP/s':>9}")
    for name, value in measured.items():
        print(f"{device_name():<40}{name:<7}{value:>9.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": device_name(), "torch": torch.__version__, "tflops": measured}, f, indent=2)


if __name__ == "__main__":
    main()
