"""Where colorized pages go: one sink per input file. A page gives one output file (written atomically); a
.cbz/.zip chapter gives a chapter with the same members in the same order, its pages staged so a rerun resumes.
A page that failed keeps its original bytes in a chapter, so the chapter stays complete."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from manga_cyclegan.io.archives import (
    DEFAULT_ARCHIVE_LIMITS,
    ArchiveLimits,
    check_archive_members,
    open_archive,
    read_member,
)
from manga_cyclegan.io.atomic import atomic_write_bytes
from manga_cyclegan.io.decode import read_page_bytes
from manga_cyclegan.io.outputs import (
    ChapterWriter,
    encode_page,
    output_format,
    safe_member_name,
)
from manga_cyclegan.io.pages import (
    PageRef,
    is_hidden_member,
    is_image_name,
)


@dataclass
class OutputOptions:
    format: str = "same"  # same | png | jpg | webp
    quality: int = 95
    overwrite: bool = False
    skip_color: bool = True
    color_threshold: float = 0.05
    max_pixels: int | None = 64_000_000
    archive_limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS


class OutputError(RuntimeError):
    """The output cannot be written (disk full, no permission): stops the run, since every page would fail."""


class PageSink:
    """A plain image page -> one output file next to its mirror path."""

    def __init__(self, source: Path, output: Path, options: OutputOptions):
        self.source, self.options = source, options
        self.fmt, suffix = output_format(options.format, source.suffix)
        self.colorized_path = output.with_suffix(suffix)
        self.copy_path = output.with_suffix(source.suffix)

    def pages(self) -> Iterator[tuple[int, PageRef]]:
        yield 0, PageRef(self.source)

    def is_done(self, index: int) -> bool:
        return not self.options.overwrite and (self.colorized_path.exists() or self.copy_path.exists())

    def put_colorized(self, index: int, rgb: np.ndarray) -> None:
        write(self.colorized_path, encode_page(rgb, self.fmt, self.options.quality))

    def put_original(self, index: int, ref: PageRef) -> None:
        write(self.copy_path, read_page_bytes(ref))

    def put_failed(self, index: int, ref: PageRef) -> None:
        pass  # nothing to write: a rerun tries the page again

    def close(self) -> None:
        pass


class ChapterSink:
    """A .cbz/.zip chapter -> an output chapter with the same members in the same order (see ChapterWriter)."""

    def __init__(self, source: Path, output: Path, options: OutputOptions):
        self.source, self.output, self.options = source, output, options
        self.writer = ChapterWriter(output)
        self.skip_all = output.exists() and not options.overwrite
        if options.overwrite and self.writer.staging.exists():
            shutil.rmtree(self.writer.staging)
        with open_archive(source, options.archive_limits) as zf:  # ArchiveError: the caller reports the chapter
            check_archive_members(zf, source, options.archive_limits)
            self.members = [m for m in zf.infolist() if not m.is_dir() and not is_hidden_member(m.filename)]
        self.formats = {}
        self.failed: set[int] = set()

    def pages(self) -> Iterator[tuple[int, PageRef]]:
        for index, member in enumerate(self.members):
            if is_image_name(member.filename):
                yield index, PageRef(self.source, member.filename)

    def is_done(self, index: int) -> bool:
        return self.skip_all or (not self.options.overwrite and self.writer.has(index))

    def put_colorized(self, index: int, rgb: np.ndarray) -> None:
        fmt, _ = self._format(index)
        try:
            self.writer.put(index, encode_page(rgb, fmt, self.options.quality))
        except OSError as e:
            raise OutputError(f"cannot write to {self.writer.staging}: {e.strerror or e}. "
                              f"Check the free space and permissions of the output folder") from e

    def put_original(self, index: int, ref: PageRef) -> None:
        pass  # taken from the source when the chapter is assembled

    def put_failed(self, index: int, ref: PageRef) -> None:
        self.failed.add(index)

    def close(self) -> None:
        """Assemble the output chapter. Raises PageReadError when a member to copy through cannot be read (the
        chapter is then not written; its staged pages stay for a rerun), OutputError when it cannot be written."""
        if self.skip_all:
            return
        limits = self.options.archive_limits
        names: set[str] = set()
        members = []
        with open_archive(self.source, limits) as zf:
            for index, member in enumerate(self.members):
                staged = self.writer.has(index) and index not in self.failed
                name = safe_member_name(member.filename) or f"member_{index}"
                if staged:
                    name = str(PurePosixPath(name).with_suffix(self._format(index)[1]))
                name = _unique(name, names)
                source = (lambda i=index: self.writer.staged(i).read_bytes()) if staged else \
                    (lambda m=member: read_member(zf, m, self.source, limits))
                members.append((name, member.date_time, source))
            try:
                self.writer.finish(members)
            except OSError as e:
                raise OutputError(f"cannot write {self.output}: {e.strerror or e}. "
                                  f"Check the free space and permissions of the output folder") from e

    def _format(self, index: int) -> tuple[str, str]:
        return output_format(self.options.format, PurePosixPath(self.members[index].filename).suffix)


def _unique(name: str, taken: set[str]) -> str:
    stem, suffix, n = str(PurePosixPath(name).with_suffix("")), PurePosixPath(name).suffix, 1
    while name.lower() in taken:
        name, n = f"{stem}_{n}{suffix}", n + 1
    taken.add(name.lower())
    return name


def write(path: Path, data: bytes) -> None:
    try:
        atomic_write_bytes(path, data)
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}. "
                          f"Check the free space and permissions of the output folder") from e
