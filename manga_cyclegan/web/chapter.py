"""One browser tab's chapter: the pages dropped into it, their colorizations, the clicks on them and their undo.

Knows nothing of HTTP (`manga_cyclegan.web.server` serves it). Uploads are kept in the chapter's own folder under
names it makes (`upload_<n><suffix>`, the suffix one of the accepted extensions); an upload's own name is only shown
and used in page names (`ch01.cbz/003.png`, `p01.png`, as predict's hints file names them). Pages are colorized
when first asked for (`image`), once: a click repaints the pages already seen without running the generator
(`manga_cyclegan.colorize.hints`).
"""

from __future__ import annotations

import io
import threading
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

import numpy as np

from manga_cyclegan.color import luma
from manga_cyclegan.colorize import hints
from manga_cyclegan.colorize.hints_file import hex_color, hints_document
from manga_cyclegan.io.decode import read_page
from manga_cyclegan.io.outputs import encode_page, safe_member_name
from manga_cyclegan.io.pages import ARCHIVE_EXTENSIONS, IMAGE_EXTENSIONS, PageReadError, PageRef
from manga_cyclegan.predict.sinks import ChapterSink, OutputOptions


class UploadError(ValueError):
    """An upload the chapter refuses: the message says why in plain words."""


@dataclass
class Page:
    name: str
    ref: PageRef
    upload: int  # index of the upload it came from
    bw: np.ndarray | None = None
    seen: hints.SeenPage | None = None
    image: np.ndarray | None = None
    version: int = 0  # changes whenever the image does, so the page's <img> reloads


@dataclass
class Upload:
    path: Path
    name: str
    chapter: bool
    pages: list[int] = field(default_factory=list)


class Chapter:
    """Pages in drop order (a .cbz's in its own order), colorized on demand with the chapter's clicks."""

    def __init__(self, folder: Path, colorizer, settings, options: OutputOptions):
        self.folder, self.colorizer, self.settings, self.options = folder, colorizer, settings, options
        folder.mkdir(parents=True, exist_ok=True)
        self.pages: list[Page] = []
        self.uploads: list[Upload] = []
        self.anchors: list[hints.Anchor] = []
        self.lock = threading.RLock()

    # Pages in.
    def add(self, filename: str, data: bytes) -> list[str]:
        """Keep an uploaded page or chapter; the names of the pages it adds. UploadError for anything refused."""
        display = safe_member_name(PurePosixPath(filename or "").name) or "page"
        suffix = PurePosixPath(display).suffix.lower()
        if suffix not in IMAGE_EXTENSIONS | ARCHIVE_EXTENSIONS:
            raise UploadError(f"{display}: not a page or a chapter: drop images ({', '.join(sorted(IMAGE_EXTENSIONS))}) "
                              f"or .cbz/.zip chapters")
        with self.lock:
            path = self.folder / f"upload_{len(self.uploads)}{suffix}"
            path.write_bytes(data)
            try:
                refs = self._refs(path, suffix in ARCHIVE_EXTENSIONS)
            except (PageReadError, UploadError) as e:
                path.unlink(missing_ok=True)
                raise UploadError(f"{display}: {getattr(e, 'reason', e)}") from None
            upload = Upload(path, self._unique(display), suffix in ARCHIVE_EXTENSIONS)
            names = []
            for ref in refs:
                name = f"{upload.name}/{ref.member}" if upload.chapter else upload.name
                upload.pages.append(len(self.pages))
                self.pages.append(Page(name, ref, len(self.uploads)))
                names.append(name)
            self.uploads.append(upload)
            return names

    def _refs(self, path: Path, chapter: bool) -> list[PageRef]:
        if not chapter:
            return [PageRef(path)]
        sink = ChapterSink(path, self.folder / "unused.cbz", self.options)
        refs = [ref for _, ref in sink.pages()]
        if not refs:
            raise UploadError("the chapter holds no pages")
        return refs

    def _unique(self, name: str) -> str:
        taken = {u.name for u in self.uploads}
        stem, suffix, n = PurePosixPath(name).stem, PurePosixPath(name).suffix, 1
        while name in taken:
            name, n = f"{stem}_{n}{suffix}", n + 1
        return name

    def index(self, name: str) -> int:
        for i, page in enumerate(self.pages):
            if page.name == name:
                return i
        raise KeyError(name)

    # Pages out.
    def bw(self, i: int) -> np.ndarray:
        page = self.pages[i]
        if page.bw is None:
            try:
                rgb = read_page(page.ref, "RGB", max_pixels=self.options.max_pixels, limits=self.options.archive_limits)
            except PageReadError as e:
                raise UploadError(f"{page.name}: {e.reason.rstrip('. ')}. {e.advice}") from None
            page.bw = luma(rgb)
        return page.bw

    def image(self, i: int) -> np.ndarray:
        """The page colorized, with the chapter's clicks (colorized now if it was not yet)."""
        with self.lock:
            page = self.pages[i]
            if page.seen is None:
                page.seen = hints.see_pages(self.colorizer, [self.bw(i)], self.settings)[0]
                self._paint(i)
            return page.image

    def _paint(self, i: int) -> bool:
        page = self.pages[i]
        image = hints.paint(page.seen, hints.colors_of(hints.assign(page.seen, page.name, self.anchors)))
        changed = page.image is None or not np.array_equal(image, page.image)
        if changed:
            page.image, page.version = image, page.version + 1
        return changed

    def _repaint(self) -> list[str]:
        return [p.name for i, p in enumerate(self.pages) if p.seen is not None and self._paint(i)]

    # Clicks.
    def click(self, name: str, x: int, y: int, color: tuple[int, int, int], scope: str = "chapter") -> list[str]:
        """Add a click; the names of the pages whose image changed."""
        with self.lock:
            i = self.index(name)
            self.image(i)
            height, width = self.pages[i].bw.shape
            if not (0 <= x < width and 0 <= y < height):
                raise UploadError(f"the click at ({x}, {y}) is outside page {name} ({width}x{height})")
            try:
                self.anchors.append(hints.anchor(hints.Click(name, x, y, color, scope), self.pages[i].seen))
            except ValueError as e:
                raise UploadError(str(e)) from None
            return self._repaint()

    def undo(self) -> list[str]:
        with self.lock:
            if self.anchors:
                self.anchors.pop()
            return self._repaint()

    def part_colors(self) -> list[str]:
        """The chapter's colors for swatches: the clicks' colors, then the largest regions' colors of the pages
        colorized so far (most pixels first), distinct."""
        colors = [hex_color(a.click.color) for a in reversed(self.anchors)]
        weights: dict[str, int] = {}
        for page in self.pages:
            if page.seen is not None:
                for size, rgb in zip(page.seen.sizes, page.seen.colors):
                    if size > 0:
                        key = hex_color(rgb)
                        weights[key] = weights.get(key, 0) + int(size)
        colors += sorted(weights, key=lambda k: -weights[k])
        return list(dict.fromkeys(colors))[:16]

    def state(self) -> list[dict]:
        return [{"name": p.name, "version": p.version, "ready": p.image is not None} for p in self.pages]

    # Downloads.
    def png(self, i: int) -> bytes:
        return encode_page(self.image(i), "png")

    def hints_json(self) -> dict:
        return hints_document([a.click for a in self.anchors])

    def cbz(self) -> bytes:
        """The chapter as one .cbz: a single dropped chapter as predict writes it (its members in their order, its
        other files kept); otherwise every page in order, as PNG."""
        if len(self.uploads) == 1 and self.uploads[0].chapter:
            upload = self.uploads[0]
            target = self.folder / "download.cbz"
            sink = ChapterSink(upload.path, target, replace(self.options, overwrite=True, format="png"))
            for index, ref in sink.pages():
                sink.put_colorized(index, self.image(self._page_of(ref)))
            sink.close()
            data = target.read_bytes()
            target.unlink()
            return data
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as out:
            for i, page in enumerate(self.pages):
                out.writestr(f"{i + 1:03d}_{PurePosixPath(page.name).stem}.png", self.png(i))
        return buffer.getvalue()

    def _page_of(self, ref: PageRef) -> int:
        return next(i for i, p in enumerate(self.pages) if p.ref == ref)
