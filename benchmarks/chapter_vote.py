"""A chapter vote against the flat output, on a synthetic test split taken as one chapter: can the regions the model
sees alike settle one color per part among themselves?

The generator colors each panel on its own, so the same character part comes out in its own color on most panels
and in another character's on some. `vote` ties the regions of a run together by what the generator sees in them
(the hints' description, `hints.describe`: its bottleneck features averaged over the region), never by position:
each region's neighbours are the regions of the whole run at least `similarity` alike; their flat colors, put in
`classes` k-means clusters of the run's region colors, are counted by area, and where a cluster other than the
region's own holds at least `share` of that area, the region takes the cluster's area-weighted mean color (with its
cel shading kept, as a hint paints it). A region the model colored like most of its look-alikes keeps its color.

    python benchmarks/chapter_vote.py --ckpt outputs/.../last.ckpt [--data data/synthetic] [--json rows.json]

For each (similarity, share) setting the table gives what `evaluate` scores (character and environment accuracy,
consistency, CIEDE2000) of the voted pages, beside the flat output itself, and how many regions the vote
recolored. Pages are colorized once; every setting votes on the same regions.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from manga_cyclegan.color import lab_to_rgb, rgb_to_lab  # noqa: E402
from manga_cyclegan.colorize import hints  # noqa: E402
from manga_cyclegan.colorize.flat import MIN_REGION_PX  # noqa: E402
from manga_cyclegan.colorize.colorizer import InferenceSettings  # noqa: E402
from manga_cyclegan.colorize.palette import kmeans, nearest_center  # noqa: E402
from manga_cyclegan.colorize.weights import load_colorizer  # noqa: E402
from manga_cyclegan.data.synthetic import ensure_synthetic_set  # noqa: E402
from manga_cyclegan.evaluate.report import format_table  # noqa: E402
from manga_cyclegan.evaluate.scoring import score_pages  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
METRICS = ("char_color_acc", "env_color_acc", "consistency", "ciede2000")

CLASSES = 24
# Regions are compared in blocks of this many rows, so a long chapter's similarity matrix is never whole.
BLOCK = 2048


def vote(seen: list[hints.SeenPage], similarity: float, share: float,
         classes: int = CLASSES) -> list[dict[int, tuple[int, int, int]]]:
    """Per page, the regions whose color the vote changes (region id -> RGB)."""
    pages, ids, described, areas, colors = [], [], [], [], []
    for index, page in enumerate(seen):
        description = hints.describe(page)
        if description is None:  # a page run in strips or tiles keeps its colors
            continue
        keep = np.flatnonzero(page.sizes >= MIN_REGION_PX)
        keep = keep[keep > 0]
        pages.append(np.full(len(keep), index))
        ids.append(keep)
        described.append(description[keep])
        areas.append(page.sizes[keep].astype(np.float64))
        colors.append(rgb_to_lab(page.colors[keep][None])[0])
    changes: list[dict[int, tuple[int, int, int]]] = [{} for _ in seen]
    if not pages or sum(len(i) for i in ids) < 2:
        return changes
    pages, ids, described = np.concatenate(pages), np.concatenate(ids), np.concatenate(described)
    areas, lab = np.concatenate(areas), np.concatenate(colors).astype(np.float64)
    centers = kmeans(lab, classes, seed=0)
    own = nearest_center(lab, centers)
    onehot = np.zeros((len(lab), len(centers)))
    onehot[np.arange(len(lab)), own] = areas
    weighted_lab = onehot[:, :, None] * lab[:, None, :]  # [R, K, 3]: area x Lab in the region's own class
    for start in range(0, len(lab), BLOCK):
        block = slice(start, start + BLOCK)
        near = (described[block] @ described.T) >= similarity  # [B, R]
        rows = np.arange(near.shape[0])
        near[rows, start + rows] = True  # each region its own neighbour
        votes = near @ onehot  # [B, K]: neighbours' area per color class
        winner = votes.argmax(axis=1)
        strong = votes[np.arange(len(winner)), winner] >= share * votes.sum(axis=1)
        for row in np.flatnonzero(strong & (winner != own[block])):
            k = winner[row]
            members = near[row] & (own == k)
            mean = weighted_lab[members, k].sum(axis=0) / areas[members].sum()
            rgb = lab_to_rgb(mean, as_uint8=True)
            region = start + row
            changes[pages[region]][int(ids[region])] = tuple(int(v) for v in rgb)
    return changes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--data", type=Path, default=REPO / "data" / "synthetic")
    parser.add_argument("--seed", type=int, default=7, help="the seed of a set --data does not hold yet")
    parser.add_argument("--n-test", type=int, default=48, help="test pages of a set --data does not hold yet")
    parser.add_argument("--similarities", type=float, nargs="+", default=[0.8, 0.85, 0.9, 0.95])
    parser.add_argument("--shares", type=float, nargs="+", default=[0.5, 0.7])
    parser.add_argument("--classes", type=int, default=CLASSES)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if not (args.data / "meta.json").exists():
        ensure_synthetic_set(args.data, seed=args.seed, n_test=args.n_test, n_train_a=64, n_train_b=64)
    from benchmarks.flat_output import test_split

    pages, meta = test_split(args.data)
    colorizer = load_colorizer(args.ckpt)
    seen = hints.see_pages(colorizer, [p["bw"] for p in pages], InferenceSettings())

    def scored(images, **extra):
        scores = score_pages([{**p, "pred": image} for p, image in zip(pages, images)], meta=meta)
        return {m: scores[m] for m in METRICS} | extra

    rows = {"flat output": scored([s.flat.image for s in seen], regions_changed=0)}
    for similarity, share in itertools.product(args.similarities, args.shares):
        changes = vote(seen, similarity, share, args.classes)
        images = [hints.paint(page, change) for page, change in zip(seen, changes)]
        rows[f"vote {similarity:.2f}, share {share:.2f}"] = scored(
            images, regions_changed=sum(len(c) for c in changes))
    print(f"{args.data} ({len(pages)} pages), {args.ckpt}")
    print(format_table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
