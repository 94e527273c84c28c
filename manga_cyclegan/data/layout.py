"""Where a data root keeps its pages: the one place that knows the folder layout.

    ROOT/trainA/     B/W pages (domain A, read as 1-channel "L")
    ROOT/trainB/     colour pages (domain B, read as RGB)
    ROOT/testA/      optional validation B/W pages (else ``holdout`` trainA pages are used)
    ROOT/testB/      optional colour truth for testA (paired set) / colour references
    ROOT/testLabels/ optional per-pixel class maps for testA (paired synthetic set)
    ROOT/meta.json   optional metadata

Or ``data.mixed=FOLDER``: one folder of mixed B/W and colour pages, split by the colour detector
(:func:`~manga_cyclegan.data.mixed.split_mixed_folder`) into domain A (its B/W pages) and domain B (its colour
pages); the test folders stay under ROOT. Pages may be images or .cbz/.zip archives, in sub-folders too.
"""

from __future__ import annotations

import os
from pathlib import Path

from manga_cyclegan.colorize.color_detect import DEFAULT_COLOR_THRESHOLD
from manga_cyclegan.data.mixed import split_mixed_folder
from manga_cyclegan.io.archives import DEFAULT_ARCHIVE_LIMITS, ArchiveLimits
from manga_cyclegan.io.decode import DEFAULT_MAX_PIXELS
from manga_cyclegan.io.listing import list_pages
from manga_cyclegan.io.pages import PageRef

__all__ = [
    "DOMAINS",
    "LAYOUT_HELP",
    "META_FILE",
    "TEST_A",
    "TEST_B",
    "TEST_LABELS",
    "TRAIN_A",
    "TRAIN_B",
    "DataLayout",
    "default_split_dir",
    "missing_domain_folders",
    "optional_folder",
]

TRAIN_A, TRAIN_B = "trainA", "trainB"
TEST_A, TEST_B, TEST_LABELS = "testA", "testB", "testLabels"
META_FILE = "meta.json"
#: Each training domain's folder under ROOT.
DOMAINS = {"A": TRAIN_A, "B": TRAIN_B}
_WHAT = {"A": "B/W pages, domain A", "B": "color pages, domain B"}
_MIXED_PART = {"A": "B/W pages", "B": "color pages"}

LAYOUT_HELP = """Expected layout:
  ROOT/trainA/*.png    (B/W pages, domain A)
  ROOT/trainB/*.png    (color pages, domain B)
  ROOT/testA/*.png     (optional: B/W validation pages; otherwise `holdout` trainA pages are used)
  ROOT/testB/, ROOT/testLabels/, ROOT/meta.json   (optional: paired synthetic set)
Pages: png/jpg/jpeg/webp/gif/bmp/tif/tiff files or .cbz/.zip archives, sub-folders allowed.
Or set data.mixed=FOLDER to split one mixed folder into B/W and color automatically."""


def default_split_dir(mixed: str | os.PathLike) -> Path:
    """Where a mixed folder's split is written when no split folder is given: ``<mixed>_split`` beside it."""
    mixed = Path(mixed)
    return mixed.parent / f"{mixed.stem}_split"


def optional_folder(root: str | os.PathLike | None, name: str) -> Path | None:
    """``ROOT/name`` when ``root`` is set and that folder exists (testA, testB, testLabels are optional)."""
    if root is None:
        return None
    folder = Path(root).expanduser() / name
    return folder if folder.is_dir() else None


def missing_domain_folders(root: str | os.PathLike) -> list[str]:
    """The training domain folders (trainA, trainB) that ``root`` lacks."""
    root = Path(root).expanduser()
    return [name for name in DOMAINS.values() if not (root / name).is_dir()]


def _check_domain(domain: str) -> None:
    if domain not in DOMAINS:
        raise ValueError(f"domain must be 'A' (B/W) or 'B' (color), got {domain!r}")


class DataLayout:
    """The training pages of a data config: ``ROOT/trainA`` and ``ROOT/trainB``, or, when ``mixed`` is set, the
    two halves of that folder as the colour detector splits it (written to ``split_dir`` for review, run once per
    layout and kept)."""

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        *,
        mixed: str | os.PathLike | None = None,
        split_dir: str | os.PathLike | None = None,
        color_threshold: float = DEFAULT_COLOR_THRESHOLD,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
    ):
        self.root = Path(root).expanduser() if root is not None else None
        self.mixed = Path(mixed).expanduser() if mixed is not None else None
        self.split_dir: Path | None = None
        if self.mixed is not None:
            self.split_dir = Path(split_dir).expanduser() if split_dir is not None else default_split_dir(self.mixed)
        self.color_threshold = float(color_threshold)
        self.max_pixels = max_pixels
        self.limits = limits
        self._split: tuple[list[PageRef], list[PageRef]] | None = None

    def split(self) -> tuple[list[PageRef], list[PageRef]]:
        """The mixed folder's ``(bw_pages, color_pages)``, classified (or reused from ``split_dir``) once."""
        if self.mixed is None:
            raise ValueError("data.mixed is not set: there is no mixed folder to split")
        if self._split is None:
            if not self.mixed.exists():
                raise FileNotFoundError(f"Mixed folder '{self.mixed}' does not exist")
            self._split = split_mixed_folder(self.mixed, self.split_dir, self.color_threshold,
                                             max_pixels=self.max_pixels, limits=self.limits)
        return self._split

    def domain_folder(self, domain: str) -> Path | None:
        """The folder domain ``"A"``/``"B"`` pages are under, which their names are relative to: the mixed folder,
        or ``ROOT/trainA`` / ``ROOT/trainB`` (None when neither ``mixed`` nor ``root`` is set)."""
        _check_domain(domain)
        if self.mixed is not None:
            return self.mixed
        return self.root / DOMAINS[domain] if self.root is not None else None

    def describe(self, domain: str) -> str:
        """Where domain ``"A"``/``"B"`` pages come from, for messages."""
        _check_domain(domain)
        if self.mixed is not None:
            return f"{self.mixed} ({_MIXED_PART[domain]})"
        return str(self.domain_folder(domain))

    def train_pages(self, domain: str) -> list[PageRef]:
        """Every page of domain ``"A"`` (B/W) or ``"B"`` (colour), natural order, not yet checked for readability.

        Raises ``FileNotFoundError`` or ``ValueError`` naming the folder when it is missing or has no page (for the
        mixed folder: when no page falls on that side of ``color_threshold``).
        """
        _check_domain(domain)
        if self.mixed is not None:
            return self._mixed_pages(domain)
        what = _WHAT[domain]
        name = DOMAINS[domain]
        if self.root is None:
            raise ValueError(f"data.root is not set, so there is no ROOT/{name} folder ({what}); "
                             f"set data.root (or data.mixed).\n{LAYOUT_HELP}")
        folder = self.root / name
        if not folder.is_dir():
            raise FileNotFoundError(f"Domain folder '{folder}' ({what}) does not exist.\n{LAYOUT_HELP}")
        pages = list_pages(folder, limits=self.limits)
        if not pages:
            raise ValueError(f"Domain folder '{folder}' ({what}) contains no pages.\n{LAYOUT_HELP}")
        return pages

    def _mixed_pages(self, domain: str) -> list[PageRef]:
        bw, color = self.split()
        if domain == "A" and not bw:
            raise ValueError(f"The mixed folder '{self.mixed}' has no B/W page (domain A): every page "
                             f"scored above color_threshold={self.color_threshold} (see "
                             f"{self.split_dir}/B.txt). Raise data.color_threshold or add B/W pages.")
        if domain == "B" and not color:
            raise ValueError(f"The mixed folder '{self.mixed}' has no color page (domain B): no page "
                             f"scored above color_threshold={self.color_threshold} (see "
                             f"{self.split_dir}/A.txt). Lower data.color_threshold or add color pages.")
        return bw if domain == "A" else color

    def test_folder(self, name: str) -> Path | None:
        """``ROOT/testA``, ``ROOT/testB`` or ``ROOT/testLabels`` when it exists."""
        return optional_folder(self.root, name)

    @property
    def meta_file(self) -> Path | None:
        """``ROOT/meta.json`` (it may not exist), None without a root."""
        return self.root / META_FILE if self.root is not None else None
