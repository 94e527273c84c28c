"""The colorization-quality harness: train a configuration on the synthetic set, evaluate it, keep one row.

    python benchmarks/quality.py --name baseline                        # the demo as `python train.py` runs it
    python benchmarks/quality.py --name lr5e-4 -- model.lr=0.0005
    python benchmarks/quality.py --name ... --seed 1 -- OVERRIDES       # the same row with another seed

Each run trains `python train.py OVERRIDES seed=SEED` in its own directory under `outputs/quality/`, scores its
`last.ckpt` with `python -m manga_cyclegan.evaluate` (the test split, the baselines, the same code users run),
and appends one row (name, overrides, seed, batches, wall time, s/batch, machine, commit, every metric of every
method) to `benchmarks/results/quality.jsonl`. The markdown table `benchmarks/results/quality.md` is rebuilt
from that log after each row, so a session that ends mid-way keeps every finished run.

`--extra-eval NAME:OVERRIDES` scores the same checkpoint on another page set too, stored in the row under
`extra`; `--sets standard` adds the page sets every deciding row is scored on (STANDARD_SETS: other scenes, and
pages at 0.5x, 0.75x and 2x the training page size, each generated once through the data config).

`--rescore NAME [NAME ...]` scores the named rows' checkpoints again with the code as it is now (the default
output changes as the work goes on; the raw output does not): the row keeps its first scores under
`scores_at_run` and says with which commit it was rescored.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
# What the table shows of each row, in this order (the JSON log keeps everything).
COLUMNS = ("char_color_acc", "env_color_acc", "ciede2000", "consistency", "ink_f1", "psnr")
METHODS = ("model", "model raw")


def shown(scores: dict, method: str) -> dict:
    """A method's figures in the table: for a row scored with evaluate's hints=N, `out` is the output with the
    simulated reader's clicks ("model + N hints")."""
    if method == "model":
        method = next((name for name in scores if name.startswith("model + ")), method)
    return scores.get(method, {})


def machine() -> str:
    """The CPU's model name and its bf16 units, as `lscpu` says."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown"
    name = re.search(r"Model name:\s*(.+)", text)
    family = re.search(r"CPU family:\s*(\d+)", text)
    model = re.search(r"^Model:\s*(\d+)", text, re.M)
    flags = re.search(r"Flags:\s*(.+)", text)
    units = [u for u in ("amx_bf16", "avx512_bf16", "avx2") if flags and u in flags.group(1).split()]
    label = name.group(1).strip() if name else "unknown"
    if family and model:
        label += f" (family {family.group(1)} model {model.group(1)})"
    return f"{label}, {os.cpu_count()} cores, {units[0] if units else 'no avx2'}"


def commit() -> str:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "manga_cyclegan"], cwd=REPO,
                           capture_output=True, text=True).stdout.strip()
    return head + ("+dirty" if dirty else "")


def synthetic_set(root: str, seed: int, scale: float, n_test: int = 24) -> str:
    """Overrides for a synthetic page set: its own folder, seed and page size (the training set's 320x256 times
    `scale`); 64 pages per training domain are enough for the tone lookup's fit (evaluate's baseline_fit_pages)."""
    h, w = round(320 * scale), round(256 * scale)
    return (f"data.root=data/{root} data.synthetic.seed={seed} data.synthetic.page_height={h} "
            f"data.synthetic.page_width={w} data.synthetic.n_train_a=64 data.synthetic.n_train_b=64 "
            f"data.synthetic.n_test={n_test}")


# The page sets a lever must hold on besides the test split: other scenes (another seed), and the same kind of
# pages at other sizes, where the characters, lines and screentone reach the model at other scales.
STANDARD_SETS = {
    "scenes": synthetic_set("synthetic_scenes", 7, 1.0, n_test=48),
    "x0.5": synthetic_set("synthetic_x0.5", 11, 0.5),
    "x0.75": synthetic_set("synthetic_x0.75", 12, 0.75),
    "x2": synthetic_set("synthetic_x2", 13, 2.0),
}


def trained_batches(ckpt: Path) -> int:
    import torch

    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    # Two optimizers: Lightning counts two steps per batch, one per warm-up batch (model.warmup_batches).
    warmup = min(int(state.get("hyper_parameters", {}).get("warmup_batches", 0)), int(state["global_step"]))
    return warmup + (int(state["global_step"]) - warmup) // 2


def data_overrides(overrides: list[str]) -> list[str]:
    """The overrides that name the page set (its folder and the synthetic set's parameters): the run is scored on
    the test split of the set it trained on."""
    return [o for o in overrides if o.startswith(("data.root=", "data.synthetic."))]


def run_row(name: str, overrides: list[str], seed: int, extra_evals: list[str], run_root: Path,
            eval_only: Path | None = None) -> dict:
    """Train `python train.py OVERRIDES` (or, with `eval_only`, take that checkpoint and pass OVERRIDES to
    evaluate instead: a lever of the output, not of training), then score it on the test split and `extra_evals`."""
    run_dir = run_root / f"{name}_s{seed}"
    wall = 0.0
    if eval_only is None:
        train = [sys.executable, "train.py", *overrides, f"seed={seed}", f"hydra.run.dir={run_dir}"]
        print("$", " ".join(train[1:]), flush=True)
        start = time.perf_counter()
        subprocess.run(train, cwd=REPO, check=True)
        wall = time.perf_counter() - start
        ckpt, eval_overrides = run_dir / "checkpoints" / "last.ckpt", []
    else:
        ckpt, eval_overrides = eval_only.resolve(), [o for o in overrides if o not in data_overrides(overrides)]
    batches = trained_batches(ckpt)
    row = {
        "name": name, "overrides": overrides, "seed": seed, "batches": batches, "wall_s": round(wall, 1),
        "s_per_batch": round(wall / max(1, batches), 4), "machine": machine(), "commit": commit(),
        "date": time.strftime("%Y-%m-%d %H:%M"), "ckpt": str(ckpt.relative_to(REPO)) if ckpt.is_relative_to(REPO) else str(ckpt),
        "scores": evaluate(ckpt, run_dir / "eval.json", data_overrides(overrides) + eval_overrides),
        "extra": {},
    }
    if eval_only is not None:
        row["eval_only"] = True
    for spec in extra_evals:
        label, _, more = spec.partition(":")
        row["extra"][label] = evaluate(ckpt, run_dir / f"eval_{label}.json", more.split() + eval_overrides)
    return row


def evaluate(ckpt: Path, out: Path, overrides: list[str]) -> dict:
    command = [sys.executable, "-m", "manga_cyclegan.evaluate", f"ckpt={ckpt}", f"json={out}",
               f"hydra.run.dir={out.parent / ('eval_' + out.stem)}", *overrides]
    subprocess.run(command, cwd=REPO, check=True)
    return json.loads(out.read_text())["scores"]


def load_rows(log: Path) -> list[dict]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def fmt(value) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.2f}"


def write_table(rows: list[dict], table: Path) -> None:
    """The markdown table: one line per run, model and raw figures side by side, baselines once at the end."""
    head = ["#", "name", "seed", "batches", "wall s", "s/batch"]
    head += [f"{c} ({'raw' if m == 'model raw' else 'out'})" for c in COLUMNS for m in METHODS]
    lines = [
        "# Quality runs",
        "",
        "Every row is one `python benchmarks/quality.py --name NAME --seed SEED -- OVERRIDES` run: `python train.py`",
        "with those overrides, then `python -m manga_cyclegan.evaluate` on its `last.ckpt` (synthetic test split, 24",
        "pages). `out` is predict's default output (with the simulated reader's clicks in rows scored with `hints=N`),",
        "`raw` the generator's RGB. Higher is better for char_color_acc, env_color_acc,",
        "ink_f1 and psnr; lower for ciede2000 and consistency. The full rows (every metric, the baselines, the",
        "machine, the commit) are in `quality.jsonl`. `*`: the default output was scored again with a later",
        "version of it (`--rescore`); the figures the run first had are in the log. The overrides column runs each",
        "row with today's defaults (`reproduce` in the log where the defaults moved since the run).",
        "",
        "| " + " | ".join(head + ["overrides", "machine"]) + " |",
        "|" + "---|" * (len(head) + 2),
    ]
    for i, row in enumerate(rows, 1):
        scores = row["scores"]
        name = row["name"] + (" *" if "rescored_with" in row else "")
        cells = [str(i), name, str(row["seed"]), str(row["batches"]), f"{row['wall_s']:.0f}", f"{row['s_per_batch']:.3f}"]
        cells += [fmt(shown(scores, m).get(c)) for c in COLUMNS for m in METHODS]
        # The command as it ran; where the defaults have moved since, "reproduce" says how to run it today.
        command = row.get("reproduce", " ".join(row["overrides"]))
        cells += ["`" + command + "`" if command else "(demo)", row["machine"]]
        lines.append("| " + " | ".join(cells) + " |")
    if rows:
        lines += ["", "Baselines on the same split (from the last row):", "",
                  "| method | " + " | ".join(COLUMNS) + " |", "|---|" + "---|" * len(COLUMNS)]
        for method in ("gray copy", "tone lookup"):
            values = rows[-1]["scores"].get(method, {})
            lines.append(f"| {method} | " + " | ".join(fmt(values.get(c)) for c in COLUMNS) + " |")
    extras = [(i, row) for i, row in enumerate(rows, 1) if row.get("extra")]
    if extras:
        lines += ["", "Other page sets (same checkpoints):", "",
                  "| # | name | set | " + " | ".join(f"{c} ({'raw' if m == 'model raw' else 'out'})" for c in COLUMNS for m in METHODS)
                  + " | tone lookup acc |", "|---|---|---|" + "---|" * (2 * len(COLUMNS) + 1)]
        for i, row in extras:
            for label, scores in row["extra"].items():
                cells = [fmt(shown(scores, m).get(c)) for c in COLUMNS for m in METHODS]
                cells.append(fmt(scores.get("tone lookup", {}).get("char_color_acc")))
                lines.append(f"| {i} | {row['name']} | {label} | " + " | ".join(cells) + " |")
    table.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", help="the row's name (the lever it measures); needed to train a row")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--extra-eval", action="append", default=[], metavar="LABEL:OVERRIDES",
                        help="also score on another page set, e.g. 'big:data.root=data/synthetic_big ...'")
    parser.add_argument("--sets", choices=["standard"], help="also score on STANDARD_SETS")
    parser.add_argument("--eval-only", type=Path, metavar="CKPT",
                        help="score this checkpoint (e.g. with a new output) as a row instead of training one")
    parser.add_argument("--run-root", type=Path, default=REPO / "outputs" / "quality")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where quality.jsonl and quality.md are")
    parser.add_argument("--table-only", action="store_true", help="rebuild the markdown table from the log")
    parser.add_argument("--rescore", nargs="+", metavar="NAME", help="score these rows' checkpoints again")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for train.py (after --)")
    args = parser.parse_args(argv)
    if args.sets == "standard":
        args.extra_eval += [f"{label}:{overrides}" for label, overrides in STANDARD_SETS.items()]
    args.results.mkdir(parents=True, exist_ok=True)
    log, table = args.results / "quality.jsonl", args.results / "quality.md"
    if args.rescore:
        rows = load_rows(log)
        for row in rows:
            if row["name"] in args.rescore:
                ckpt = REPO / row["ckpt"]
                row.setdefault("scores_at_run", row["scores"])
                row["scores"] = evaluate(ckpt, ckpt.parent.parent / "rescore.json", data_overrides(row["overrides"]))
                row["rescored_with"] = commit()
        log.write_text("".join(json.dumps(row) + "\n" for row in rows))
    elif not args.table_only:
        if not args.name:
            parser.error("--name is needed to train a row")
        row = run_row(args.name, args.overrides, args.seed, args.extra_eval, args.run_root, args.eval_only)
        with log.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps({k: row["scores"][k] for k in row["scores"]}, indent=1))
    write_table(load_rows(log), table)
    print(f"Table: {table}")


if __name__ == "__main__":
    main()
