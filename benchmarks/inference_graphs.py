"""The generator's forward at a page's working size, as predict runs it and as a compiled or exported graph would.

    python benchmarks/inference_graphs.py                      # full model, 728x512 (a 1456x1024 page's working size)
    python benchmarks/inference_graphs.py --model demo --size 256x320 --json out.json

Rows, all in this one process, side by side, median of --repeats after a warm-up (which compiles):
- `predict`: what predict.py runs (`run_generator`: layer by layer), fp32 and under bf16 autocast, with contiguous
  activations and weights and (`predict-cl`) channels-last ones (predict's `channels_last`);
- `eager`: the plain module forward, fp32 and bf16;
- `compile`: `torch.compile` of the module forward (inductor, default mode), fp32 and bf16, with its compile time,
  contiguous and (`compile-cl`) channels-last;
- `onnxruntime`: the exported ONNX model (`export_onnx`, fp32: ONNX Runtime's CPU kernels have no bf16 conv) with
  all of the machine's cores, when the `onnx` extra is installed.
The largest difference from predict's fp32 output says each graph computes the same colors.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from predict_page import MODELS, SHORT_SIDE  # noqa: E402  (benchmarks/ is not a package)


GRAPHS = ("predict", "predict-cl", "eager", "compile", "compile-cl", "onnxruntime")


def timed(run, repeats: int) -> tuple[float, float, torch.Tensor]:
    """(seconds of the first call, median seconds of the next `repeats`, the output)."""
    start = time.perf_counter()
    out = run()
    first = time.perf_counter() - start
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = run()
        seconds.append(time.perf_counter() - start)
    return first, statistics.median(seconds), out


def onnx_runner(colorizer, page: torch.Tensor, path: str):
    """A call of ONNX Runtime on the exported generator (all cores), or None without the `onnx` extra."""
    try:
        import onnxruntime as ort

        from manga_cyclegan.colorize.export import export_onnx
    except ImportError:
        return None
    export_onnx(colorizer, path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    feed = {"page": page.numpy()}
    return lambda: torch.from_numpy(session.run(None, feed)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=MODELS, default="full")
    parser.add_argument("--size", default="512x728", help="HxW working size")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--graphs", nargs="+", default=list(GRAPHS), choices=GRAPHS)
    parser.add_argument("--json")
    args = parser.parse_args()

    from manga_cyclegan.colorize.colorizer import Colorizer, autocast, run_generator
    from manga_cyclegan.nets import ResnetGenerator

    torch.manual_seed(0)
    height, width = (int(v) for v in args.size.split("x"))
    generator = ResnetGenerator(1, 3, **MODELS[args.model]).eval()
    colorizer = Colorizer(generator, SHORT_SIDE[args.model])
    page = torch.rand(1, 1, height, width) * 2 - 1
    cpu = torch.device("cpu")
    rows, reference = [], None

    def add(graph: str, precision: str, run) -> None:
        nonlocal reference
        with torch.inference_mode(), autocast(cpu, precision):
            first, seconds, out = timed(run, args.repeats)
        out = torch.as_tensor(out).float()
        if reference is None:
            reference = out
        rows.append({"graph": graph, "precision": precision, "first_s": first, "seconds": seconds,
                     "max_abs_diff": float((out - reference).abs().max())})
        print(f"  measured {graph} {precision}", file=sys.stderr)

    for precision in ("fp32", "bf16"):
        add("predict", precision, lambda: run_generator(generator, page, None))
    for precision in ("fp32", "bf16") if "predict-cl" in args.graphs else ():
        generator.to(memory_format=torch.channels_last)
        add("predict-cl", precision, lambda: run_generator(generator, page, None))
    generator.to(memory_format=torch.contiguous_format)
    for precision in ("fp32", "bf16") if "eager" in args.graphs else ():
        add("eager", precision, lambda: generator(page))
    for graph, layout in (("compile", torch.contiguous_format), ("compile-cl", torch.channels_last)):
        generator.to(memory_format=layout)
        for precision in ("fp32", "bf16") if graph in args.graphs else ():
            torch._dynamo.reset()
            compiled = torch.compile(generator)
            add(graph, precision, lambda: compiled(page))
    generator.to(memory_format=torch.contiguous_format)
    if "onnxruntime" in args.graphs:
        with tempfile.TemporaryDirectory() as tmp:
            run = onnx_runner(colorizer, page, os.path.join(tmp, "g.onnx"))
            if run is None:
                print("  onnxruntime not installed (the `onnx` extra): no ONNX row", file=sys.stderr)
            else:
                add("onnxruntime", "fp32", run)

    from machine_peak import peak_line

    print(peak_line())
    print(f"The {args.model} generator ({MODELS[args.model]}) at {width}x{height}, median of {args.repeats} after "
          f"a warm-up; torch {torch.__version__}, {torch.get_num_threads()} threads")
    header = f"{'graph':>12} {'precision':>9} {'first s':>8} {'s':>7} {'vs predict':>10} {'max |diff|':>10}"
    print(header + "\n" + "-" * len(header))
    base = {r["precision"]: r["seconds"] for r in rows if r["graph"] == "predict"}
    for r in rows:
        print(f"{r['graph']:>12} {r['precision']:>9} {r['first_s']:8.2f} {r['seconds']:7.3f} "
              f"{base[r['precision']] / r['seconds']:9.2f}x {r['max_abs_diff']:10.4f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
