"""Would Winograd convolutions beat the hardware's limit? The generator's residual 3x3 conv, direct against F(4x4, 3x3).

    python benchmarks/winograd.py [--sizes 64x64 182x128] [--channels 256] [--compile off on] [--json out.json]

Nine of every ten FLOPs of the ResNet generator are its residual blocks' 3x3 convolutions (256 channels at quarter
resolution), and on a CPU they already run near the large-matmul peak (benchmarks/train_step.py). Winograd's
F(4x4, 3x3) (Lavin & Gray 2016) computes the same output with 4x fewer multiplications: the input is cut into 6x6
tiles and transformed, 36 independent (tiles x C) @ (C x K) products replace the conv, and the results are
transformed back. This measures whether that pays on this machine: the direct conv (oneDNN), the Winograd conv in
eager PyTorch and with torch.compile fusing its transforms, and its 36 products alone (what it would cost with free
transforms). Sizes are the conv's output: 64x64 is a 256x256 training crop, 182x128 a page colorized at 728x512.
Errors are the largest absolute difference from a float64 conv, for the direct conv and for Winograd.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine_peak import peak_line

# F(4x4, 3x3) with interpolation points 0, +-1, +-2 and infinity: input transform B^T, filter transform G, output A^T.
G = torch.tensor([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                  [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], dtype=torch.float64)


def input_transform_1d(d: list[torch.Tensor]) -> list[torch.Tensor]:
    """B^T d, written out (B^T is sparse) so that torch.compile fuses the whole 2-D transform into one loop."""
    d0, d1, d2, d3, d4, d5 = d
    return [4 * d0 - 5 * d2 + d4, -4 * d1 - 4 * d2 + d3 + d4, 4 * d1 - 4 * d2 - d3 + d4,
            -2 * d1 - d2 + 2 * d3 + d4, 2 * d1 - d2 - 2 * d3 + d4, 4 * d1 - 5 * d3 + d5]


def output_transform_1d(m: list[torch.Tensor]) -> list[torch.Tensor]:
    """A^T m."""
    m0, m1, m2, m3, m4, m5 = m
    return [m0 + m1 + m2 + m3 + m4, m1 - m2 + 2 * m3 - 2 * m4, m1 + m2 + 4 * m3 + 4 * m4, m1 - m2 + 8 * m3 - 8 * m4 + m5]


def tiles_transformed(x: torch.Tensor, th: int, tw: int) -> torch.Tensor:
    """36 x N x C x (th * tw): B^T d B for every 6x6 tile d of x taken with stride 4."""
    rows = input_transform_1d([x[:, :, i : i + 4 * th : 4] for i in range(6)])
    v = [input_transform_1d([r[..., j : j + 4 * tw : 4] for j in range(6)]) for r in rows]
    return torch.stack([t for row in v for t in row]).flatten(3)


def tiles_untransformed(m: torch.Tensor, n: int, k: int, th: int, tw: int) -> torch.Tensor:
    """N x K x 4th x 4tw: A^T m A for every tile, laid back into the image."""
    m = m.view(6, 6, n, k, th, tw)
    half = output_transform_1d([m[p] for p in range(6)])
    out = [output_transform_1d([h[q] for q in range(6)]) for h in half]
    return torch.stack([torch.stack(row, -1) for row in out], -3).reshape(n, k, th * 4, tw * 4)


def transformed_filters(weight: torch.Tensor) -> torch.Tensor:
    """36 x 1 x K x C: G g G^T for every filter, laid out for the batched product."""
    k, c = weight.shape[:2]
    g = G.to(weight.dtype)
    return (g @ weight @ g.T).permute(2, 3, 0, 1).reshape(36, 1, k, c)


def winograd_conv3x3(x, weight, bias, transform_in=tiles_transformed, transform_out=tiles_untransformed):
    """F.conv2d(x, weight, bias) for a 3x3 kernel, stride 1, no padding."""
    n, _, hp, wp = x.shape
    h, w = hp - 2, wp - 2
    th, tw = -(-h // 4), -(-w // 4)
    x = F.pad(x, (0, 4 * tw + 2 - wp, 0, 4 * th + 2 - hp))
    m = torch.matmul(transformed_filters(weight), transform_in(x, th, tw))
    return transform_out(m, n, weight.shape[0], th, tw)[..., :h, :w] + bias[:, None, None]


def seconds(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(height: int, width: int, channels: int, compile_modes: list[str], repeats: int) -> dict:
    torch.manual_seed(0)
    x = torch.randn(1, channels, height + 2, width + 2)
    weight = torch.randn(channels, channels, 3, 3) * (2 / (9 * channels)) ** 0.5
    bias = torch.randn(channels) * 0.1
    exact = F.conv2d(x.double(), weight.double(), bias.double())
    th, tw = -(-height // 4), -(-width // 4)
    u, v = transformed_filters(weight), torch.randn(36, 1, channels, th * tw)
    row = {"size": f"{height}x{width}", "channels": channels,
           "gflop_direct": 2 * channels * channels * 9 * height * width / 1e9}
    with torch.no_grad():
        row["direct_s"] = seconds(lambda: F.conv2d(x, weight, bias), repeats)
        row["direct_error"] = (F.conv2d(x, weight, bias).double() - exact).abs().max().item()
        row["products_only_s"] = seconds(lambda: torch.matmul(u, v), repeats)
        for mode in compile_modes:
            if mode == "on":
                # dynamic=False: one specialization per page size, as a chapter of same-size pages would run
                ins = torch.compile(tiles_transformed, dynamic=False)
                outs = torch.compile(tiles_untransformed, dynamic=False)
                start = time.perf_counter()
                winograd_conv3x3(x, weight, bias, ins, outs)
                row["compile_s"] = time.perf_counter() - start
            else:
                ins, outs = tiles_transformed, tiles_untransformed
            row[f"winograd_{mode}_s"] = seconds(lambda i=ins, o=outs: winograd_conv3x3(x, weight, bias, i, o), repeats)
            got = winograd_conv3x3(x, weight, bias, ins, outs)
            row[f"winograd_{mode}_error"] = (got.double() - exact).abs().max().item()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["64x64", "182x128"], help="conv output HxW")
    parser.add_argument("--channels", type=int, default=256)
    parser.add_argument("--compile", nargs="+", choices=["off", "on"], default=["off", "on"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json")
    args = parser.parse_args()
    print(peak_line())
    rows = [measure(*map(int, s.split("x")), args.channels, args.compile, args.repeats) for s in args.sizes]
    header = f"{'size':>9} {'ch':>4} {'GFLOP':>6} {'direct s':>9} {'36 products s':>14}"
    header += "".join(f" {'winograd ' + m + ' s':>15} {'speedup':>8}" for m in args.compile)
    header += f" {'max err direct':>15}" + "".join(f" {'err wino ' + m:>13}" for m in args.compile)
    print(header)
    print("-" * len(header))
    for r in rows:
        line = f"{r['size']:>9} {r['channels']:>4} {r['gflop_direct']:>6.1f} {r['direct_s']:>9.4f} {r['products_only_s']:>14.4f}"
        line += "".join(f" {r[f'winograd_{m}_s']:>15.4f} {r['direct_s'] / r[f'winograd_{m}_s']:>7.2f}x" for m in args.compile)
        line += f" {r['direct_error']:>15.1e}" + "".join(f" {r[f'winograd_{m}_error']:>13.1e}" for m in args.compile)
        print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"torch": torch.__version__, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
