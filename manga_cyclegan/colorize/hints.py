"""Color hints: a reader's click sets a region's color, and the same part on the run's other panels and pages follows.

A click (`Click`: a page, x, y in the page's own pixels, a color) falls in one of the regions the flat output fills
(`colorize.flat.page_regions`); that region takes the color, the page's ink and cel shading kept (`paint`). By
default (scope "chapter") it travels: every region of the run that the model sees as the same thing takes it too.
"The same thing" is decided from what the generator sees, never from where a region is: each region is described
by the generator's features averaged over it (`describe`), and a region takes the color of the most similar click
when the cosine similarity reaches MATCH_SIMILARITY and the model colored both alike (COLOR_GATE) (`assign`).
`benchmarks/hint_matching.py` measures which description tells parts apart best, and how far a hint reaches before
it spills onto other parts. Scope "page" keeps a click on its own page (its other panels still follow), "region"
on the clicked region alone.

A reference page (a colored page or crop) works as many clicks at once: each of its regions is a click of its own
color (`reference_anchors`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
from scipy import ndimage, sparse

from manga_cyclegan.color import luma, rgb_to_lab
from manga_cyclegan.colorize.colorizer import generator_colors
from manga_cyclegan.colorize.flat import MIN_REGION_PX, FlatPage, flatten
from manga_cyclegan.nets.generator import ResnetBlock

SCOPES = ("chapter", "page", "region")
# The descriptions of a region `benchmarks/hint_matching.py` compares, and the one the hints use.
DESCRIPTORS = ("color", "bottleneck", "decoder", "features")
DESCRIPTOR = "bottleneck"
# Cosine similarity (color: 1 - CIE76 distance / 100) from which a region counts as the clicked part: for the
# bottleneck, the lowest that kept the spill under 2% on a test split of other scenes (benchmarks/results/
# hint_matching.md).
MATCH_SIMILARITY = {"color": 0.95, "bottleneck": 0.9, "decoder": 0.95, "features": 0.9}
# The generator layers each description reads (FeatureTap's names).
TAPPED = {"color": (), "bottleneck": ("bottleneck",), "decoder": ("decoder",), "features": ("bottleneck", "decoder")}
# A region reached by features must also have been colored by the model within this CIE76 distance of the
# clicked region's color (None: no such gate): less spill on every page set, accuracy within noise
# (benchmarks/results/hint_matching.md).
COLOR_GATE: float | None = 20.0
# Cel shading kept under a hint: pixels whose local tone (Gaussian TONE_SIGMA px, ink left out) is below
# SHADOW_TONE of the region's lit tone are in shadow, and take the hint's color times the median tone ratio of the
# region's shadow (never below SHADE_FLOOR). Chosen on other scenes (benchmarks/results/hint_matching.md): mean
# CIEDE2000 of the hinted pixels to the truth 3.81, against 4.88 without shading and 6.49 with sigma 2 and 0.9.
SHADOW_TONE = 0.8
SHADE_FLOOR = 0.5
TONE_SIGMA = 4.0


@dataclass
class SeenPage:
    """A page as the hints see it: its flat output (`flat`, whose `regions` are the clickable regions) and, per
    region id, its pixel count (`sizes`), its flat color (`colors`, uint8) and the generator's features averaged
    over it (`features`: name -> float32 [regions, channels]; a name is missing where the run could not keep it)."""

    bw: np.ndarray
    flat: FlatPage
    sizes: np.ndarray
    colors: np.ndarray
    features: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def regions(self) -> np.ndarray:
        return self.flat.regions


class FeatureTap(contextlib.AbstractContextManager):
    """Keeps the outputs of a ResnetGenerator's last residual block ("bottleneck") and last decoder activation
    ("decoder"), or of those in `names`, while it runs. A layer that ran more than once (a page run in strips or
    tiles) keeps nothing."""

    def __init__(self, generator: torch.nn.Module, names: tuple[str, ...] = ("bottleneck", "decoder")):
        blocks = [layer for layer in generator.model if isinstance(layer, ResnetBlock)]
        activations = [layer for layer in generator.model if isinstance(layer, torch.nn.ReLU)]
        layers = {"bottleneck": blocks[-1], "decoder": activations[-1]}
        self.layers = {name: layers[name] for name in names}
        self.outputs: dict[str, list[torch.Tensor]] = {name: [] for name in self.layers}
        self._handles = []

    def __enter__(self) -> FeatureTap:
        for name, layer in self.layers.items():
            self._handles.append(layer.register_forward_hook(
                lambda _m, _i, out, name=name: self.outputs[name].append(out.detach().float().cpu())))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()

    def image(self, name: str) -> torch.Tensor | None:
        """Feature map [C, h, w] of the one image the generator ran on, or None."""
        outs = self.outputs[name]
        return outs[0][0] if len(outs) == 1 and len(outs[0]) == 1 else None


def region_means(values: np.ndarray, labels: np.ndarray, n: int, extent: tuple[int, int] | None = None) -> np.ndarray:
    """Mean of `values` (float [C, h, w], a grid over `extent` (rows, cols) of the page; default: its own size)
    over each region of `labels` (int HxW page pixels, ids < n; 0 left out) -> float32 [n, C]; each page pixel
    reads its nearest grid cell."""
    c, h, w = values.shape
    height, width = labels.shape
    ext_h, ext_w = extent or (height, width)
    rows = np.minimum(((np.arange(height) + 0.5) * h / ext_h).astype(np.int64), h - 1)
    cols = np.minimum(((np.arange(width) + 0.5) * w / ext_w).astype(np.int64), w - 1)
    cell = (rows[:, None] * w + cols[None, :]).ravel()
    ids = labels.ravel()
    keep = ids > 0
    weights = sparse.csr_matrix((np.ones(int(keep.sum()), np.float32), (ids[keep], cell[keep])), shape=(n, h * w))
    counts = np.asarray(weights.sum(axis=1)).ravel()
    sums = weights @ values.reshape(c, -1).T
    return (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)


def see(bw: np.ndarray, color: np.ndarray, tap: FeatureTap | None = None, **flat_options) -> SeenPage:
    """The SeenPage of uint8 HxW page `bw` from the generator's colors for it (uint8 hxwx3, at the working size it
    ran at) and, where a tap ran on that page alone, its features."""
    flat = flatten(bw, color, regions=True, **flat_options)
    labels = flat.regions
    n = int(labels.max()) + 1
    sizes = np.bincount(labels.ravel(), minlength=n)
    sizes[0] = 0
    colors = np.zeros((n, 3), np.uint8)
    colors[labels] = flat.image  # every pixel of a filled region holds its color; small regions: one of theirs
    features = {}
    if tap is not None:
        work_h, work_w = color.shape[:2]
        for name in tap.layers:
            fmap = tap.image(name)
            if fmap is None:
                continue
            # The generator pads its input to its size multiple: the grid spans the padded working image.
            padded = _padded_extent(fmap.shape[1:], (work_h, work_w))
            extent = (round(bw.shape[0] * padded[0] / work_h), round(bw.shape[1] * padded[1] / work_w))
            features[name] = region_means(fmap.numpy(), labels, n, extent)
    return SeenPage(bw, flat, sizes, colors, features)


def _padded_extent(grid: tuple[int, int], working: tuple[int, int]) -> tuple[int, int]:
    """The (rows, cols) of the padded working image a feature grid covers: the smallest multiple of its stride."""
    out = []
    for cells, size in zip(grid, working):
        stride = max(1, round(size / cells))
        out.append(cells * stride if cells * stride >= size else size)
    return out[0], out[1]


def describe(page: SeenPage, name: str = DESCRIPTOR) -> np.ndarray | None:
    """float32 [regions, D]: each region's description `name` (see DESCRIPTORS): unit-length features, or the Lab
    of its color; None where the page lacks those features (a page run in strips or tiles)."""
    if name == "color":
        return rgb_to_lab(page.colors[None])[0].astype(np.float32)
    if name == "features":
        if not {"bottleneck", "decoder"} <= page.features.keys():
            return None
        return np.concatenate([_unit(page.features["bottleneck"]), _unit(page.features["decoder"])], 1) / np.sqrt(2)
    return _unit(page.features[name]) if name in page.features else None


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-6)


def similarity(queries: np.ndarray, regions: np.ndarray, name: str) -> np.ndarray:
    """[Q, R] similarity of descriptions `name`: cosine for features, 1 - CIE76 / 100 for colors."""
    if name == "color":
        return 1.0 - np.linalg.norm(queries[:, None, :] - regions[None, :, :], axis=-1) / 100.0
    return queries @ regions.T


def ink_free_tone(bw: np.ndarray, ink: np.ndarray, sigma: float = TONE_SIGMA) -> np.ndarray:
    """float32 HxW: the page's tone with its screen blurred away, ink left out (normalized convolution)."""
    free = (~ink).astype(np.float32)
    total = cv2.GaussianBlur(bw.astype(np.float32) * free, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
    share = cv2.GaussianBlur(free, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
    return total / np.maximum(share, 1e-3)


def paint(page: SeenPage, region_colors: dict[int, tuple[int, int, int]]) -> np.ndarray:
    """The page's flat image with each region in `region_colors` (id -> RGB) painted that color: its lit pixels
    exactly, its shadow (local tone below SHADOW_TONE of the region's lit tone, the 90th percentile) darkened by
    the median tone ratio of its shadow, as cel shading is; ink stays black."""
    out = page.flat.image.copy()
    if not region_colors:
        return out
    labels = page.regions
    ids = np.fromiter(region_colors, np.int64)
    table = np.zeros((len(page.sizes), 3), np.float32)
    table[ids] = np.array([region_colors[i] for i in ids], np.float32)
    chosen = np.zeros(len(page.sizes), bool)
    chosen[ids] = True
    where = chosen[labels]
    tone = ink_free_tone(page.bw, page.flat.ink)
    lit = np.zeros(len(page.sizes), np.float32)
    lit[ids] = ndimage.labeled_comprehension(tone, labels, ids, lambda v: np.percentile(v, 90), np.float32, 0)
    ratio = tone / np.maximum(lit[labels], 1.0)
    shadow = where & (ratio < SHADOW_TONE)
    shade = np.ones(len(page.sizes), np.float32)
    if shadow.any():
        shade_ids = np.unique(labels[shadow])
        shade[shade_ids] = ndimage.median(ratio, labels=np.where(shadow, labels, 0), index=shade_ids)
    factor = np.where(shadow, np.maximum(shade[labels], SHADE_FLOOR), 1.0)
    out[where] = np.clip(np.rint(table[labels[where]] * factor[where, None]), 0, 255).astype(np.uint8)
    return out


def see_pages(colorizer, pages: list[np.ndarray], settings, features: tuple[str, ...] = TAPPED[DESCRIPTOR]
              ) -> list[SeenPage]:
    """Colorize uint8 HxW pages (`generator_colors`, one at a time so that each one's features are its own) and
    keep what the hints need of each: the generator `features` (FeatureTap's names) the description reads."""
    seen = []
    for page in pages:
        with FeatureTap(colorizer.generator, features) as tap:
            (color,) = generator_colors(colorizer, [page], settings)
        seen.append(see(page, color, tap, close_gaps=settings.close_gaps, split_tones=settings.split_tones,
                        split_colors=settings.split_colors))
    return seen


@dataclass(frozen=True)
class Click:
    """A reader's hint: on `page` (its name in the run), the region at pixel (x, y) is `color` (RGB); `scope`: how
    far it travels (SCOPES)."""

    page: str
    x: int
    y: int
    color: tuple[int, int, int]
    scope: str = "chapter"


@dataclass
class Anchor:
    """A click located on its seen page: the region it set, and that region's description."""

    click: Click
    region: int
    descriptions: dict[str, np.ndarray]  # the clicked region's, by name: DESCRIPTOR where the page has it, "color"
    moved: bool = False  # the click was on ink: it went to the nearest region


def clicked_region(page: SeenPage, x: int, y: int, reach: int = 32) -> tuple[int, bool]:
    """The region id at page pixel (x, y), or, on ink, the nearest region's within `reach` pixels: (id, moved).
    0 when there is none."""
    labels = page.regions
    if labels[y, x] > 0:
        return int(labels[y, x]), False
    y0, x0 = max(0, y - reach), max(0, x - reach)
    window = labels[y0 : y + reach + 1, x0 : x + reach + 1]
    if not (window > 0).any():
        return 0, True
    _, (rows, cols) = ndimage.distance_transform_edt(window == 0, return_indices=True)
    return int(window[rows[y - y0, x - x0], cols[y - y0, x - x0]]), True


def anchor(click: Click, page: SeenPage, descriptor: str = DESCRIPTOR) -> Anchor:
    region, moved = clicked_region(page, click.x, click.y)
    if region == 0:
        raise ValueError(f"page {click.page}: no region near ({click.x}, {click.y}) to color")
    descriptions = {name: d[region] for name in {descriptor, "color"} if (d := describe(page, name)) is not None}
    return Anchor(click, region, descriptions, moved)


def assign(page: SeenPage, name: str, anchors: list[Anchor], descriptor: str = DESCRIPTOR,
           threshold: float | None = None) -> dict[int, Anchor]:
    """Region id -> the anchor whose color it takes, for one page: the regions clicked on this page their clicks';
    every other region of at least MIN_REGION_PX pixels the most similar anchor that may reach it (scope
    "chapter", or "page" on its own page) when the similarity reaches `threshold` (MATCH_SIMILARITY)."""
    taken: dict[int, Anchor] = {}
    travelling = [a for a in anchors if a.click.scope == "chapter" or (a.click.scope == "page" and a.click.page == name)]
    if travelling:
        described = describe(page, descriptor)
        if described is None or any(descriptor not in a.descriptions for a in travelling):
            descriptor, described = "color", describe(page, "color")  # features lost to strips or tiles
        threshold = MATCH_SIMILARITY[descriptor] if threshold is None else threshold
        candidates = np.flatnonzero(page.sizes >= MIN_REGION_PX)
        queries = np.stack([a.descriptions[descriptor] for a in travelling])
        sim = similarity(queries, described[candidates], descriptor)
        best = sim.argmax(axis=0)
        near = np.ones(len(candidates), bool)
        if COLOR_GATE is not None and descriptor != "color":  # the model colors the same thing alike
            colors = describe(page, "color")[candidates]
            anchor_colors = np.stack([a.descriptions["color"] for a in travelling])[best]
            near = np.linalg.norm(colors - anchor_colors, axis=1) <= COLOR_GATE
        for region, j, s, ok in zip(candidates, best, sim[best, np.arange(len(candidates))], near):
            if s >= threshold and ok:
                taken[int(region)] = travelling[j]
    for a in anchors:  # a click sets its own region, whatever else matched it
        if a.click.page == name:
            taken[a.region] = a
    return taken


def colors_of(taken: dict[int, Anchor]) -> dict[int, tuple[int, int, int]]:
    """Region id -> RGB of `assign`'s answer, for `paint`."""
    return {region: a.click.color for region, a in taken.items()}


def reference_anchors(colorizer, pages: dict[str, np.ndarray], settings, descriptor: str = DESCRIPTOR,
                      min_px: int = 4 * MIN_REGION_PX) -> list[Anchor]:
    """Clicks from reference pages (name -> uint8 HxWx3 colored page or crop): every region of at least `min_px`
    pixels of each (the flat output's regions of its gray) becomes a chapter-wide anchor of the reference's own
    color there (the per-channel median), described by what the generator sees in the reference's gray."""
    anchors = []
    for name, rgb in pages.items():
        seen = see_pages(colorizer, [luma(rgb)], settings, TAPPED[descriptor])[0]
        labels = seen.regions
        ids = np.flatnonzero(seen.sizes >= min_px)
        if len(ids) == 0:
            continue
        medians = np.stack([ndimage.median(rgb[..., c], labels=labels, index=ids) for c in range(3)], 1)
        descriptions = {n: d for n in {descriptor, "color"} if (d := describe(seen, n)) is not None}
        values, first = np.unique(labels.ravel(), return_index=True)
        first_pixel = dict(zip(values.tolist(), first.tolist()))
        for region, color in zip(ids, np.rint(medians).astype(int)):
            y, x = divmod(first_pixel[int(region)], labels.shape[1])
            click = Click(f"reference:{name}", int(x), int(y), tuple(int(c) for c in color))
            anchors.append(Anchor(click, int(region), {n: d[region] for n, d in descriptions.items()}))
    return anchors
