"""Procedural "synthetic manga": the default training data and the quality benchmark.

Every page is drawn once as a label map + cel-shadow mask (:func:`make_page`), then rendered
twice (:func:`render_page`):

* colour (domain B): each class has ONE flat palette colour; cel shadow = ``shade(colour)``
  (75 % brightness) over ~30 % of each character part; ink is pure black (0, 0, 0) and nothing
  else is.
* B/W (domain A): ``screentone(luma(colour))`` -- each pixel's tone depends ONLY on the Rec.601
  luma of its colour (white / fixed-grid 45-degree dot screen / hatching / solid black), so ink
  lines are identical and the B/W page is exactly the "printed" version of the colour page.

The palette is designed so that most character parts share their luma (hence their screentone)
with a clearly different colour of ANOTHER character (:data:`AMBIGUOUS_PAIRS`): a tone-to-colour
lookup cannot beat ~50 % on character regions; only shape and context disambiguate.

On-disk layout written by :func:`ensure_synthetic_set` (a contract other code relies on)::

    root/trainA/page_0000.png  B/W pages, mode "L"      (scenes disjoint from trainB's)
    root/trainB/page_0000.png  colour pages, mode "RGB"
    root/testA/page_0000.png   B/W test pages, mode "L"
    root/testB/page_0000.png   colour truth of the SAME scene as testA/page_0000.png
    root/testLabels/page_0000.png  label ids (uint8, mode "L")
    root/meta.json             {"format", "version", "params", "classes", "character_parts", "palette", ...}
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from manga_cyclegan.color import ciede2000, rgb_to_lab
from manga_cyclegan.data.layout import (
    META_FILE,
    TEST_A,
    TEST_B,
    TEST_LABELS,
    TRAIN_A,
    TRAIN_B,
)

from .synthetic_draw import (
    BALLOON,
    CHARACTER_TYPE_NAMES,
    GROUND,
    HAIR,
    INK,
    INTERIOR,
    N_CHARACTERS,
    OUTFIT,
    PAPER,
    SEA,
    SKIN,
    SKY,
    part_id,
)
from .synthetic_scene import draw_page

__all__ = ["AMBIGUOUS_PAIRS", "CHARACTER_PART_IDS", "CLASSES", "DEFAULT_PARAMS", "PALETTE", "INK_COLOR",
           "INK", "PAPER", "BALLOON", "SKY", "SEA", "GROUND", "INTERIOR", "part_id",
           "ensure_synthetic_set", "generate_synthetic_set", "make_page", "render_page", "render_color",
           "render_bw", "screentone", "luma", "shade", "srgb_to_lab", "ciede2000", "contact_sheet"]

FORMAT = "manga-cyclegan-synthetic"
VERSION = 2  # 2: meta.json gained shade_factor
DEFAULT_PARAMS = {"seed": 0, "page_height": 320, "page_width": 256,
                  "n_train_a": 300, "n_train_b": 300, "n_test": 24}
SPLIT_CODES = {"trainA": 0, "trainB": 1, "test": 2}  # part of the per-page RNG seed
SPLIT_DIRS = (TRAIN_A, TRAIN_B, TEST_A, TEST_B, TEST_LABELS)

_PART_NAMES = ("hair", "skin", "outfit")
CLASSES = ["ink", "paper", "balloon", "sky", "sea", "ground", "interior"] + [
    f"char{k}_{p}" for k in range(N_CHARACTERS) for p in _PART_NAMES]
CHARACTER_PART_IDS = [part_id(k, p) for k in range(N_CHARACTERS) for p in (HAIR, SKIN, OUTFIT)]
INK_COLOR = (0, 0, 0)

# Character colours were searched (integer RGB near a target hue) so that each group below has
# EXACTLY equal integer luma, both flat and shaded, while pairwise CIEDE2000 > 30:
#   luma  95: char0 hair red      / char1 hair green
#   luma 118: char2 hair magenta  / char3 hair+cap blue
#   luma 143: char0 vest teal     / char1 coat purple / char3 skin brown
#   luma 180: char1 skin tan      / char3 shirt sky blue
#   luma 215: char0 skin peach    / char2 dress mint
#   luma 232: char2 skin pale (the only unambiguous part)
# Within a character the three parts have three different tones, so the B/W drawing stays legible.
_CHARACTER_COLORS = (
    ((204, 48, 47), (247, 207, 176), (64, 179, 161)),    # 0 spiky hair / vest
    ((49, 126, 52), (220, 171, 125), (171, 119, 197)),   # 1 long hair / coat
    ((207, 64, 163), (252, 225, 212), (168, 241, 201)),  # 2 bob+bun / dress
    ((67, 122, 227), (188, 131, 91), (123, 196, 243)),   # 3 cap / striped shirt
)
PALETTE: dict[int, tuple[int, int, int]] = {
    PAPER: (255, 255, 255), BALLOON: (255, 255, 255), SKY: (150, 200, 245),
    SEA: (120, 175, 225), GROUND: (185, 212, 130), INTERIOR: (242, 236, 224),
}
for _k, _cols in enumerate(_CHARACTER_COLORS):
    for _p, _c in zip((HAIR, SKIN, OUTFIT), _cols):
        PALETTE[part_id(_k, _p)] = _c


# ----------------------------------------------------------------------------------------------
# Colour science helpers (also used by tests / benchmarks)
# ----------------------------------------------------------------------------------------------
def luma(rgb) -> np.ndarray:
    """Integer Rec.601 luma, round-half-up: (299 R + 587 G + 114 B + 500) // 1000."""
    c = np.asarray(rgb, np.int64)
    return (299 * c[..., 0] + 587 * c[..., 1] + 114 * c[..., 2] + 500) // 1000


SHADE_FACTOR = 0.75


def shade(rgb) -> np.ndarray:
    """Cel-shadow colour: SHADE_FACTOR (75 %) brightness, rounded (uint8-safe)."""
    return ((np.asarray(rgb, np.int64) * 3 + 2) // 4).astype(np.uint8)


def srgb_to_lab(rgb) -> np.ndarray:
    """sRGB (0..255 integers, any leading shape) -> CIE L*a*b* (D65), via the metrics' conversion."""
    return rgb_to_lab(np.asarray(rgb, np.float64) / 255.0)


def _ambiguous_pairs(min_de: float = 25.0):
    lab = {i: srgb_to_lab(PALETTE[i]) for i in CHARACTER_PART_IDS}
    out = []
    for i in CHARACTER_PART_IDS:
        for j in CHARACTER_PART_IDS:
            if i < j and (i - 7) // 3 != (j - 7) // 3 and luma(PALETTE[i]) == luma(PALETTE[j]) \
                    and luma(shade(PALETTE[i])) == luma(shade(PALETTE[j])) \
                    and float(ciede2000(lab[i], lab[j])) > min_de:
                out.append((i, j))
    return out


# Pairs of parts of different characters with identical screentone (flat AND shaded) but
# CIEDE2000 > 25: (7,10) (8,15) (9,12) (9,17) (11,18) (12,17) (13,16).
AMBIGUOUS_PAIRS: list[tuple[int, int]] = _ambiguous_pairs()


# ----------------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------------
TONE_PERIOD = 8  # screen tile; the 45-degree dot screen has 2 dots per tile -> 5.7 px dot pitch


def _dot_rank() -> np.ndarray:
    """Order in which tile pixels turn black as darkness grows: dots grow from (0,0) and (4,4)."""
    y, x = np.mgrid[0:TONE_PERIOD, 0:TONE_PERIOD]
    spot = np.cos(np.pi * (x + y) / 4) + np.cos(np.pi * (x - y) / 4)
    dy, dx = (y + 2) % 4 - 2, (x + 2) % 4 - 2  # offset to the nearest dot centre
    dot = ((x + 2) // 4 + (y + 2) // 4) % 2
    angle = np.round(np.arctan2(dy, dx), 3)
    order = np.lexsort((dot.ravel(), angle.ravel(), -np.round(spot, 6).ravel()))  # last key = primary
    rank = np.empty(TONE_PERIOD ** 2, np.int64)
    rank[order] = np.arange(TONE_PERIOD ** 2)
    return rank.reshape(TONE_PERIOD, TONE_PERIOD)


def _tone_lut() -> np.ndarray:
    """(256, 8, 8) uint8: screentone tile for every luma value."""
    y, x = np.mgrid[0:TONE_PERIOD, 0:TONE_PERIOD]
    rank = _dot_rank()
    lut = np.empty((256, TONE_PERIOD, TONE_PERIOD), np.uint8)
    for v in range(256):
        d = 1.0 - v / 255.0  # darkness
        if v >= 236:
            black = np.zeros_like(rank, bool)  # very light -> plain paper
        elif d >= 0.92:
            black = np.ones_like(rank, bool)  # very dark -> solid black
        elif d >= 0.82:
            black = (x + y) % 8 != 0  # dense hatching: sparse white diagonals
        elif d >= 0.70:
            black = (x + y) % 4 != 0  # hatching
        else:
            black = rank < int(np.clip(round(d * 64), 1, 63))  # dot screen, density = darkness
        lut[v] = np.where(black, 0, 255)
    return lut


TONE_LUT = _tone_lut()
_FLAT = np.zeros((256, 3), np.uint8)
for _i, _c in PALETTE.items():
    _FLAT[_i] = _c
_SHADED = shade(_FLAT)


def screentone(lum: np.ndarray) -> np.ndarray:
    """B/W page (uint8 0/255, HxW) from a luma image, on a fixed page-aligned screen grid."""
    lum = np.asarray(lum)
    h, w = lum.shape
    ys, xs = np.arange(h) % TONE_PERIOD, np.arange(w) % TONE_PERIOD
    return TONE_LUT[lum, ys[:, None], xs[None, :]]


def render_color(labels: np.ndarray, shadow: np.ndarray) -> np.ndarray:
    """Colour truth (HxWx3 uint8): flat palette colour, ``shade`` where ``shadow``, ink black."""
    return np.where(shadow[..., None], _SHADED[labels], _FLAT[labels])


def render_bw(color: np.ndarray) -> np.ndarray:
    """B/W screentone page (HxW uint8) of a colour page: depends only on per-pixel luma."""
    return screentone(luma(color).astype(np.uint8))


def make_page(seed: int, split: str, index: int, page_height: int, page_width: int):
    """Draw page ``index`` of ``split`` ("trainA", "trainB" or "test"): (labels, shadow).

    Seeded by (seed, split, index) only, so any page can be regenerated on its own.
    """
    rng = np.random.default_rng([int(seed), SPLIT_CODES[split], int(index)])
    return draw_page(rng, int(page_height), int(page_width))


def render_page(labels: np.ndarray, shadow: np.ndarray):
    """(colour HxWx3, bw HxW) renderings of one drawn page."""
    color = render_color(labels, shadow)
    return color, render_bw(color)


# ----------------------------------------------------------------------------------------------
# Dataset on disk
# ----------------------------------------------------------------------------------------------
def _params(**kw) -> dict:
    unknown = set(kw) - set(DEFAULT_PARAMS)
    if unknown:
        raise TypeError(f"unknown synthetic-set parameter(s): {sorted(unknown)}")
    p = {**DEFAULT_PARAMS, **{k: int(v) for k, v in kw.items()}}
    if p["seed"] < 0 or min(p["page_height"], p["page_width"]) < 64:
        raise ValueError(f"need seed >= 0 and pages of at least 64x64 px, got {p}")
    if min(p["n_train_a"], p["n_train_b"], p["n_test"]) < 0:
        raise ValueError(f"page counts must be >= 0, got {p}")
    return p


def _meta(params: dict) -> dict:
    return {"format": FORMAT, "version": VERSION, "params": params, "classes": CLASSES,
            "character_parts": CHARACTER_PART_IDS,
            "palette": {str(i): list(c) for i, c in sorted(PALETTE.items())},
            # A region in cel shadow has its palette color times this; the metrics count it as its own color.
            "shade_factor": SHADE_FACTOR,
            "ink_color": list(INK_COLOR),
            "character_types": list(CHARACTER_TYPE_NAMES),
            "ambiguous_pairs": [list(p) for p in AMBIGUOUS_PAIRS]}


def _save(arr: np.ndarray, path: Path):
    Image.fromarray(np.ascontiguousarray(arr)).save(path, format="PNG")  # no timestamps: deterministic


def generate_synthetic_set(root, **params) -> Path:
    """Generate the set into ``root`` (created if needed) in place; meta.json is written last.

    Raw generation: no caching, and stale files already in ``root`` are not removed. Prefer
    :func:`ensure_synthetic_set`, which adds caching and atomic replacement.
    """
    p = _params(**params)
    root = Path(root)
    for d in SPLIT_DIRS:
        (root / d).mkdir(parents=True, exist_ok=True)
    h, w = p["page_height"], p["page_width"]
    for split, key, out in (("trainA", "n_train_a", TRAIN_A), ("trainB", "n_train_b", TRAIN_B)):
        for i in range(p[key]):
            color, bw = render_page(*make_page(p["seed"], split, i, h, w))
            _save(bw if out == TRAIN_A else color, root / out / f"page_{i:04d}.png")
    for i in range(p["n_test"]):
        labels, shadow = make_page(p["seed"], "test", i, h, w)
        color, bw = render_page(labels, shadow)
        stem = f"page_{i:04d}.png"
        _save(bw, root / TEST_A / stem)
        _save(color, root / TEST_B / stem)
        _save(labels, root / TEST_LABELS / stem)
    (root / META_FILE).write_text(json.dumps(_meta(p), indent=1))
    return root


def _is_complete(root: Path, params: dict) -> bool:
    try:
        meta = json.loads((root / META_FILE).read_text())
    except (OSError, ValueError):
        return False
    if meta.get("format") != FORMAT or meta.get("version") != VERSION or meta.get("params") != params:
        return False
    counts = {TRAIN_A: params["n_train_a"], TRAIN_B: params["n_train_b"], TEST_A: params["n_test"],
              TEST_B: params["n_test"], TEST_LABELS: params["n_test"]}
    try:
        return all(len([f for f in os.listdir(root / d) if f.endswith(".png")]) == n for d, n in counts.items())
    except OSError:
        return False


def ensure_synthetic_set(root, *, seed: int = 0, page_height: int = 320, page_width: int = 256,
                         n_train_a: int = 300, n_train_b: int = 300, n_test: int = 24) -> Path:
    """Return ``root`` holding the synthetic set for these params, generating it if needed.

    Reused untouched when ``root/meta.json`` has the same params (and all pages are there).
    Otherwise the set is generated in a hidden temporary sibling folder and renamed into place,
    so a crash never leaves a half-written set that looks complete, and a set generated with
    other params is replaced. Same params -> byte-identical files.
    """
    params = _params(seed=seed, page_height=page_height, page_width=page_width,
                     n_train_a=n_train_a, n_train_b=n_train_b, n_test=n_test)
    root = Path(root)
    if _is_complete(root, params):
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.tmp-", dir=root.parent))
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the installed set should be readable
        generate_synthetic_set(tmp, **params)
        for attempt in range(5):
            try:
                os.rename(tmp, root)  # atomic; fails if root is a non-empty directory
                return root
            except OSError:
                if _is_complete(root, params):  # a concurrent caller installed the same set
                    return root
                trash = root.parent / f".{root.name}.old-{os.getpid()}-{attempt}"
                try:
                    os.rename(root, trash)
                except FileNotFoundError:
                    continue
                shutil.rmtree(trash, ignore_errors=True)
        raise RuntimeError(f"could not install synthetic set at {root}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ----------------------------------------------------------------------------------------------
# Preview / CLI
# ----------------------------------------------------------------------------------------------
def label_colors() -> np.ndarray:
    """(256, 3) uint8 categorical colours for visualising label maps (ink black, paper white)."""
    lut = np.zeros((256, 3), np.uint8)
    for i in range(1, len(CLASSES)):
        h = (i * 0.618034) % 1.0
        lut[i] = (np.array([np.cos(2 * np.pi * (h + o)) for o in (0, 1 / 3, 2 / 3)]) * 100 + 140).clip(0, 255)
    lut[PAPER], lut[BALLOON] = (255, 255, 255), (225, 225, 225)
    return lut


def contact_sheet(root, n: int = 4) -> np.ndarray:
    """Rows of [testA | testB | labels] for the first ``n`` test pages of a set on disk."""
    root, rows, lut = Path(root), [], label_colors()
    for i in range(n):
        stem = f"page_{i:04d}.png"
        a = np.asarray(Image.open(root / TEST_A / stem).convert("RGB"))
        b = np.asarray(Image.open(root / TEST_B / stem))
        lab = lut[np.asarray(Image.open(root / TEST_LABELS / stem))]
        gap = np.full((a.shape[0], 4, 3), 128, np.uint8)
        rows.append(np.concatenate([a, gap, b, gap, lab], 1))
    sep = np.full((4, rows[0].shape[1], 3), 128, np.uint8)
    return np.concatenate([x for r in rows for x in (r, sep)][:-1], 0)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Generate the synthetic manga set (cached by params).")
    ap.add_argument("--root", required=True)
    for k, v in DEFAULT_PARAMS.items():
        ap.add_argument("--" + k.replace("_", "-"), type=int, default=v)
    ap.add_argument("--preview", help="also write a contact sheet of test pages to this PNG")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    root = ensure_synthetic_set(a.root, **{k: getattr(a, k) for k in DEFAULT_PARAMS})
    print(f"synthetic set ready at {root} ({time.perf_counter() - t0:.1f} s)")
    if a.preview and a.n_test > 0:
        _save(contact_sheet(root, min(4, a.n_test)), Path(a.preview))


if __name__ == "__main__":
    main()
