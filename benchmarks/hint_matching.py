"""Which description of a region tells "the same character part" best, for hints that travel across a chapter.

    python benchmarks/hint_matching.py --ckpt outputs/.../last.ckpt [--data data/synthetic] [--json rows.json]

Every flat region of the synthetic test split (the regions the flat output fills, `colorize.flat.page_regions`)
is described in several ways from what the model sees: its colors, the generator's bottleneck features, its last
decoder features, or both feature sets. For each character part, the region a reader would click (the part's
largest piece on the first page where it appears) is compared with every region of the split; a region "is" the
part when most of its pixels are. Per descriptor the table gives, averaged over the parts:

- auc: how often a region of the part is nearer the click than a region of another part (1: always);
- recall@2%: the share of the part's regions reached before other parts' regions make up 2% of those reached
  (the spill the hints issue allows), with the best threshold for each part;
- recall@tau: the same with one threshold for every part (the engine's: `colorize.hints.MATCH_SIMILARITY`), and
  spill@tau, the share of reached regions that belong to another part.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from manga_cyclegan.colorize import hints  # noqa: E402
from manga_cyclegan.colorize.colorizer import InferenceSettings  # noqa: E402
from manga_cyclegan.colorize.flat import MIN_REGION_PX  # noqa: E402
from manga_cyclegan.colorize.weights import load_colorizer  # noqa: E402
from manga_cyclegan.data.synthetic import ensure_synthetic_set  # noqa: E402
from manga_cyclegan.evaluate.hints import click_for_part, region_truth, simulate  # noqa: E402
from manga_cyclegan.evaluate.report import format_table  # noqa: E402
from manga_cyclegan.evaluate.scoring import score_pages  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SPILL = 0.02


def recall_at_spill(sim: np.ndarray, positive: np.ndarray, spill: float = SPILL) -> float:
    """Largest share of positives among the regions at or above some threshold while negatives stay <= spill."""
    order = np.argsort(-sim, kind="stable")
    pos = np.cumsum(positive[order])
    taken = np.arange(1, len(order) + 1)
    ok = (taken - pos) <= spill * taken
    return float(pos[ok].max() / max(1, positive.sum())) if ok.any() else 0.0


def auc(sim: np.ndarray, positive: np.ndarray) -> float:
    p, n = sim[positive], sim[~positive]
    if len(p) == 0 or len(n) == 0:
        return float("nan")
    return float((p[:, None] > n[None, :]).mean() + 0.5 * (p[:, None] == n[None, :]).mean())


def score_reference(colorizer, pages: list[dict], seen: list, meta: dict, k: int) -> dict:
    """The truth of page k as the reference (predict's reference=): the other pages without and with it."""
    others = [i for i in range(len(pages)) if i != k]
    anchors = hints.reference_anchors(colorizer, {"truth": pages[k]["truth"]}, InferenceSettings())
    with_reference = [hints.paint(seen[i], hints.colors_of(hints.assign(seen[i], str(i), anchors))) for i in others]
    rows = {}
    for name, preds in (("model", [seen[i].flat.image for i in others]), (f"model + reference page {k}", with_reference)):
        scored = score_pages([{**pages[i], "pred": q} for i, q in zip(others, preds)], meta)
        rows[name] = {key: scored[key] for key in ("char_color_acc", "env_color_acc", "consistency", "ciede2000")}
    rows[f"model + reference page {k}"]["anchors"] = len(anchors)
    return rows


def write_example(path: Path, pages: list[dict], seen: list, meta: dict) -> None:
    """The README's picture: the page of the reader's first click, B/W | model | with the 12 clicks (a cross marks
    the one on this page) | truth."""
    import cv2

    from manga_cyclegan.evaluate.hints import reader_clicks
    from manga_cyclegan.evaluate.report import contact_sheet
    from manga_cyclegan.io.atomic import atomic_write_bytes

    labels = [p["labels"] for p in pages]
    click, _ = reader_clicks(seen, labels, meta, 1)[0]
    painted, _ = simulate(seen, labels, meta, 12)
    index = int(click.page)
    after = painted[index].copy()
    cv2.drawMarker(after, (click.x, click.y), (255, 255, 255), cv2.MARKER_CROSS, 9, 3)
    cv2.drawMarker(after, (click.x, click.y), (0, 0, 0), cv2.MARKER_CROSS, 9, 1)
    sheet = contact_sheet({"B/W": [pages[index]["bw"]], "model": [seen[index].flat.image], "with hints": [after],
                           "truth": [pages[index]["truth"]]}, 1)
    ok, data = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    atomic_write_bytes(path, data.tobytes())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--data", type=Path, default=REPO / "data" / "synthetic")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--example", type=Path, help="write the README's before/after picture here")
    parser.add_argument("--reference-page", type=int, help="also score the truth of this page as reference=")
    parser.add_argument("--seed", type=int, default=7, help="the seed of a set --data does not hold yet")
    parser.add_argument("--n-test", type=int, default=48, help="test pages of a set --data does not hold yet")
    parser.add_argument("--thresholds", type=float, nargs="*", help="similarity thresholds to simulate")
    args = parser.parse_args(argv)
    if not (args.data / "meta.json").exists():  # another set: a test split of other scenes, say
        ensure_synthetic_set(args.data, seed=args.seed, n_test=args.n_test, n_train_a=64, n_train_b=64)
    from benchmarks.flat_output import test_split

    pages, meta = test_split(args.data)
    colorizer = load_colorizer(args.ckpt)
    seen = hints.see_pages(colorizer, [p["bw"] for p in pages], InferenceSettings(), ("bottleneck", "decoder"))
    truth = [region_truth(s.regions, p["labels"]) for s, p in zip(seen, pages)]
    owner = np.concatenate([t[0] for t in truth])
    # The regions a hint may reach (the engine's MIN_REGION_PX); the rest keep their colors.
    large = np.concatenate([s.sizes >= MIN_REGION_PX for s in seen])
    parts = [int(c) for c in meta["character_parts"]]
    rows = {}
    for name in hints.DESCRIPTORS:
        described = np.concatenate([hints.describe(s, name) for s in seen])
        offsets = np.cumsum([0] + [len(s.colors) for s in seen])
        scores = {"auc": [], "recall@2%": [], "recall@tau": [], "spill@tau": []}
        for part in parts:
            click = click_for_part([p["labels"] for p in pages], part)
            if click is None:
                continue
            page, (y, x) = click
            region = seen[page].regions[y, x]
            if region == 0:
                continue
            query = described[offsets[page] + region]
            sim = hints.similarity(query[None], described[large], name)[0]
            positive = owner[large] == part
            scores["auc"].append(auc(sim, positive))
            scores["recall@2%"].append(recall_at_spill(sim, positive))
            reached = sim >= hints.MATCH_SIMILARITY[name]
            scores["recall@tau"].append(float((reached & positive).sum() / max(1, positive.sum())))
            scores["spill@tau"].append(float((reached & ~positive).sum() / max(1, reached.sum())))
        rows[name] = {k: float(np.nanmean(v)) for k, v in scores.items()}
    print(format_table(rows))
    # The whole reader simulation (evaluate hints=12) at a few thresholds per description.
    sims = {}
    labels = [p["labels"] for p in pages]
    for name in hints.DESCRIPTORS:
        base = hints.MATCH_SIMILARITY[name]
        for tau in args.thresholds or (base - 0.1, base - 0.05, base, base + 0.05):
            painted, info = simulate(seen, labels, meta, 12, name, tau)
            scored = score_pages([{**p, "pred": q} for p, q in zip(pages, painted)], meta)
            sims[f"{name} tau={tau:.2f}"] = {k: scored[k] for k in ("char_color_acc", "consistency", "ciede2000")} | info
    print(format_table(sims))
    rows = {"matching": rows, "simulated": sims}
    if args.reference_page is not None:
        rows["reference"] = score_reference(colorizer, pages, seen, meta, args.reference_page)
        print(format_table(rows["reference"]))
    if args.example:
        write_example(args.example, pages, seen, meta)
    if args.json:
        args.json.write_text(json.dumps({"ckpt": args.ckpt, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
