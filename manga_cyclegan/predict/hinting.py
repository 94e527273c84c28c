"""Hints in a predict run: the pages that carry clicks are colorized first, their clicks become anchors, and every
page of the run then takes the anchors' colors where its regions match (`colorize.hints`); reference pages' regions
are anchors too, below the clicks. One pass over the other
pages: the hinted pages' own results are kept (up to KEPT_PAGES of them) for when the main pass reaches them."""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from manga_cyclegan.color import luma
from manga_cyclegan.colorize import hints
from manga_cyclegan.colorize.hints_file import HintsError, check_inside, check_pages, hex_color, write_hints
from manga_cyclegan.io.decode import read_page
from manga_cyclegan.io.pages import PageReadError, PageRef

# Hinted pages whose results are kept from the first pass to the main one (each a few page-sized arrays).
KEPT_PAGES = 16


def page_name(ref: PageRef, base: Path) -> str:
    """A page's name in a hints file: its path relative to the input's base folder, archive members after it."""
    try:
        name = ref.path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        name = ref.path.name
    return f"{name}/{ref.member}" if ref.member is not None else name


class ChapterHints:
    """The run's clicks located on their pages (anchors), and where each color went."""

    def __init__(self, colorizer, settings, clicks: list[hints.Click], refs: dict[str, PageRef], options,
                 source: str = "hints", references: dict[str, np.ndarray] | None = None):
        if settings.mode != "flat":
            raise HintsError(f"{source}: hints color the flat output's regions: use mode=flat (not {settings.mode})")
        self.colorizer, self.settings = colorizer, settings
        self.clicks = clicks
        check_pages(clicks, list(refs), source)
        hinted = sorted({c.page for c in clicks}, key=list(refs).index)
        pages = {}
        for name in hinted:
            try:
                rgb = read_page(refs[name], "RGB", max_pixels=options.max_pixels, limits=options.archive_limits)
            except PageReadError as e:
                raise HintsError(f"{source}: page {name!r} carries hints but cannot be read: {e.reason}") from None
            pages[name] = luma(rgb)
        check_inside(clicks, {name: page.shape for name, page in pages.items()}, source)
        self.kept: dict[str, hints.SeenPage] = {}
        self.anchors: list[hints.Anchor] = []
        for name in hinted:
            seen = hints.see_pages(colorizer, [pages[name]], settings)[0]
            for click in (c for c in clicks if c.page == name):
                a = hints.anchor(click, seen)
                if a.moved:
                    print(f"note: hint at ({click.x}, {click.y}) on {name} is on an ink line: it colors the "
                          f"nearest region", file=sys.stderr)
                self.anchors.append(a)
            if len(hinted) <= KEPT_PAGES:
                self.kept[name] = seen
        self.reach: dict[int, dict[str, int]] = defaultdict(dict)  # anchor index -> page -> regions
        # Reference pages' regions: second to the clicks (a click wins where both match).
        self.references = hints.reference_anchors(colorizer, references, settings) if references else []

    def colorize(self, name: str, gray: np.ndarray) -> np.ndarray:
        """One page of the run, flat, with the anchors' colors where its regions match."""
        seen = self.kept.pop(name, None)
        if seen is None or seen.bw.shape != gray.shape:
            seen = hints.see_pages(self.colorizer, [gray], self.settings)[0]
        taken = hints.assign(seen, name, self.anchors)
        index = {id(a): i for i, a in enumerate(self.anchors)}
        for a in taken.values():
            self.reach[index[id(a)]][name] = self.reach[index[id(a)]].get(name, 0) + 1
        if self.references:
            taken = hints.assign(seen, name, self.references) | taken
        return hints.paint(seen, hints.colors_of(taken))

    def parts(self) -> list[dict]:
        """Where each click's color went: {"color", "page", "x", "y", "scope", "regions", "pages"}."""
        return [{"color": hex_color(a.click.color), "page": a.click.page, "x": a.click.x, "y": a.click.y,
                 "scope": a.click.scope, "regions": sum(self.reach[i].values()), "pages": sorted(self.reach[i])}
                for i, a in enumerate(self.anchors)]

    def write(self, path: Path) -> None:
        write_hints(path, self.clicks, self.parts())
