"""Colorize a page, a folder or .cbz chapters: the work behind predict.py.

The output mirrors the input: the same relative paths and file stems; a .cbz in gives a .cbz out with its members
in the same order and the non-image members (ComicInfo.xml, ...) carried over. Every page ends in one of four
states, all counted in the summary:

- colorized: written (atomically);
- color: already in color (chroma statistics above `color_threshold`), copied through unchanged;
- existing: its output is already there from an earlier run (`overwrite=false`), so an interrupted run resumes;
- failed: unreadable or failing, with the reason; the run goes on, the exit code says so. In a chapter a failed
  page keeps its original bytes, so the chapter stays complete and in order.

A chapter that is not a readable zip, is encrypted or is past its ArchiveLimits (a zip bomb) is one failure, refused
from its central directory before anything is decompressed; archive members are read with a size cap and their
names never become paths (output members are sanitized, staged pages are numbered).
"""

from __future__ import annotations

import glob
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

import numpy as np
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from manga_cyclegan.color import luma
from manga_cyclegan.config.precision import emulated_bf16_warning, resolve_precision
from manga_cyclegan.colorize.palette import ChapterPalette
from manga_cyclegan.data.color_detect import is_color_page
from manga_cyclegan.io.pages import (
    ARCHIVE_EXTENSIONS,
    DEFAULT_ARCHIVE_LIMITS,
    IMAGE_EXTENSIONS,
    ArchiveLimits,
    PageReadError,
    PageRef,
    check_archive_members,
    is_hidden_member,
    is_image_name,
    list_files,
    open_archive,
    read_member,
    read_page,
    read_page_bytes,
)
from manga_cyclegan.colorize.colorizer import (
    Colorizer,
    InferenceSettings,
    colorize_batch,
    resolve_device,
    resolve_tile_pixels,
)
from manga_cyclegan.io.atomic import atomic_write_bytes
from manga_cyclegan.io.outputs import (
    ChapterWriter,
    encode_page,
    output_format,
    safe_member_name,
)
from manga_cyclegan.colorize.weights import load_colorizer

STATES = ("colorized", "color", "existing", "failed")


@dataclass
class OutputOptions:
    format: str = "same"  # same | png | jpg | webp
    quality: int = 95
    overwrite: bool = False
    skip_color: bool = True
    color_threshold: float = 0.05
    max_pixels: int | None = 64_000_000
    archive_limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS


@dataclass
class Summary:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATES, 0))
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def add(self, state: str, where: object = None, reason: str = "") -> None:
        self.counts[state] += 1
        if state == "failed":
            self.failures.append((str(where), reason))

    def report(self) -> str:
        c = self.counts
        head = (f"{self.total} pages: {c['colorized']} colorized, {c['color']} already in color (copied), "
                f"{c['existing']} already done (skipped), {c['failed']} failed")
        lines = [head]
        lines += [f"  FAILED {where}: {reason}" for where, reason in self.failures]
        return "\n".join(lines)


class OutputError(RuntimeError):
    """The output cannot be written (disk full, no permission): stops the run, since every page would fail."""


# --------------------------------------------------------------------------- where pages come from and go
def resolve_inputs(pattern: str) -> tuple[Path, list[Path]]:
    """(base folder, input files) for an image, a .cbz/.zip, a folder (recursive) or a glob."""
    path = Path(pattern).expanduser()
    if path.is_dir():
        return path, list_files(path)
    if path.is_file():
        if path.suffix.lower() not in IMAGE_EXTENSIONS | ARCHIVE_EXTENSIONS:
            raise ValueError(f"input {path} is neither an image ({', '.join(sorted(IMAGE_EXTENSIONS))}) nor a "
                             f".cbz/.zip chapter nor a folder")
        return path.parent, [path]
    if not glob.has_magic(pattern):
        raise FileNotFoundError(f"input not found: {path}. Give an image, a .cbz/.zip, a folder or a glob")
    base = glob_base(pattern)
    files: list[Path] = []
    for match in sorted(glob.glob(pattern, recursive=True)):
        match = Path(match)
        files += list_files(match) if match.is_dir() else [match]
    files = [f for f in files if f.suffix.lower() in IMAGE_EXTENSIONS | ARCHIVE_EXTENSIONS]
    if not files:
        raise FileNotFoundError(f"no images or .cbz/.zip chapters match {pattern!r}")
    return base, files


def glob_base(pattern: str) -> Path:
    """The folder before the first wildcard: "scans/ch*/p*.png" -> "scans" (outputs mirror paths below it)."""
    magic = min((i for i, c in enumerate(pattern) if c in "*?["), default=len(pattern))
    return Path(pattern[:magic] + "x").parent


def default_output(pattern: str, root: Path) -> Path:
    """outputs/colorized/<the input's name>: stable, so running the same command again resumes."""
    path = Path(pattern)
    if glob.has_magic(pattern) and not path.exists():
        path = glob_base(pattern)
    name = path.resolve().name
    return root / "colorized" / name


def is_inside(path: Path, folder: Path) -> bool:
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


# --------------------------------------------------------------------------- sinks: one per output file
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


# --------------------------------------------------------------------------- the run
def plan(pattern: str, output: Path, options: OutputOptions) -> tuple[list, list[tuple[str, str]]]:
    """The sinks for every input file, and the inputs that cannot even be opened (chapter, reason)."""
    base, files = resolve_inputs(pattern)
    single_file = Path(pattern).is_file()
    sinks, broken = [], []
    for source in files:
        if is_inside(source, output) and not (single_file and source.resolve() == output.resolve()):
            continue  # an earlier run's output inside the input folder is not input
        if single_file and output.suffix.lower() == source.suffix.lower():
            target = output  # output names the file itself
        else:
            target = output / source.relative_to(base)
        if target.resolve() == source.resolve():
            raise ValueError(f"output {target} would overwrite the input: choose another output folder")
        if source.suffix.lower() in ARCHIVE_EXTENSIONS:
            try:
                sinks.append(ChapterSink(source, target, options))
            except PageReadError as e:
                broken.append((str(source), f"{e.reason.rstrip('. ')}. {e.advice}"))
        else:
            sinks.append(PageSink(source, target, options))
    return sinks, broken


def predict_pages(
    colorizer: Colorizer,
    pattern: str,
    output: Path,
    settings: InferenceSettings,
    options: OutputOptions,
    batch_size: int = 1,
    progress: bool = True,
    palette_pages: int = 0,
) -> Summary:
    """Colorize everything `pattern` names into `output`; see the module docstring for the page states."""
    sinks, broken = plan(pattern, output, options)
    if palette_pages:
        settings = replace(settings, palette=fit_palette(colorizer, sinks, settings, options, palette_pages))
    summary = Summary()
    for where, reason in broken:
        summary.add("failed", where, reason)
    total = sum(1 for sink in sinks for _ in sink.pages())
    bar = tqdm(total=total, unit="page", disable=not progress, dynamic_ncols=True)
    batch: list[tuple[object, int, PageRef, np.ndarray]] = []

    def flush() -> None:
        if not batch:
            return
        try:
            colors = colorize_batch(colorizer, [gray for *_, gray in batch], settings)
        except Exception as e:  # noqa: BLE001 - one page (say, out of memory) must not end the chapter
            for sink, index, ref, _ in batch:
                sink.put_failed(index, ref)
                summary.add("failed", ref, f"colorizing failed: {type(e).__name__}: {e}")
        else:
            for (sink, index, ref, _), color in zip(batch, colors):
                sink.put_colorized(index, color)
                summary.add("colorized")
        bar.update(len(batch))
        batch.clear()

    for sink in sinks:
        for index, ref in sink.pages():
            if sink.is_done(index):
                summary.add("existing")
                bar.update()
                continue
            try:
                rgb = read_page(ref, "RGB", max_pixels=options.max_pixels, limits=options.archive_limits)
            except PageReadError as e:
                sink.put_failed(index, ref)
                summary.add("failed", ref, f"{e.reason.rstrip('. ')}. {e.advice}")
                bar.update()
                continue
            if options.skip_color and is_color_page(rgb, options.color_threshold):
                sink.put_original(index, ref)
                summary.add("color")
                bar.update()
                continue
            batch.append((sink, index, ref, luma(rgb)))
            if len(batch) >= batch_size:
                flush()
        flush()
        try:
            sink.close()
        except PageReadError as e:
            summary.add("failed", sink.source, f"chapter not written: {e}")
    bar.close()
    return summary


def fit_palette(colorizer, sinks, settings, options, max_pages: int) -> ChapterPalette:
    """A chapter palette fitted on the generator's output for up to `max_pages` B/W pages spread over the run
    (an extra pass over those pages; see manga_cyclegan.colorize.palette for what it does and what it gains)."""
    refs = [ref for sink in sinks for _, ref in sink.pages()]
    step = max(1, len(refs) // max_pages)
    colors = []
    raw = replace(settings, mode="raw", palette=None)
    for ref in refs[::step][:max_pages]:
        try:
            rgb = read_page(ref, "RGB", max_pixels=options.max_pixels, limits=options.archive_limits)
        except PageReadError:
            continue  # reported by the main pass
        if not (options.skip_color and is_color_page(rgb, options.color_threshold)):
            colors += colorize_batch(colorizer, [luma(rgb)], raw)
    if not colors:
        raise ValueError("consistency=palette needs at least one readable B/W page to fit the palette on")
    return ChapterPalette.fit(colors)


def predict(cfg: DictConfig) -> Summary:
    """Run conf/predict.yaml: load the colorizer, colorize the input, print where everything went."""
    options = OutputOptions(
        format=cfg.format,
        quality=cfg.quality,
        overwrite=cfg.overwrite,
        skip_color=not cfg.force,
        color_threshold=cfg.color_threshold,
        max_pixels=cfg.max_pixels,
        archive_limits=ArchiveLimits(cfg.max_archive_members, cfg.max_member_bytes, cfg.max_compression_ratio),
    )
    output_format(options.format, ".png")  # an unknown format fails here, before any work
    device = resolve_device(cfg.device)
    arch = {k: v for k, v in OmegaConf.to_container(cfg.arch).items() if v is not None}
    colorizer = load_colorizer(cfg.ckpt, arch=arch)
    settings = InferenceSettings(
        mode=cfg.mode,
        flat_regions=cfg.flat_regions,
        working_size=cfg.working_size,
        device=device,
        precision=resolve_precision(cfg.precision, device),
        tile_pixels=resolve_tile_pixels(cfg.tile_pixels, colorizer.generator, device),
    )
    output = Path(cfg.output) if cfg.output else default_output(cfg.input, Path(cfg.paths.log_dir))
    tiles = f"tiles above {settings.tile_pixels / 1e6:.1f} MP" if settings.tile_pixels else "never tiled"
    print(f"Colorizing {cfg.input} -> {output} ({settings.mode} mode, {device.type}, {settings.precision}, {tiles})")
    if warning := emulated_bf16_warning(settings.precision, device.type):
        print(f"warning: {warning}", file=sys.stderr)
    if cfg.consistency not in ("none", "palette"):
        raise ValueError(f"consistency must be none or palette, got {cfg.consistency!r}")
    palette_pages = cfg.palette_pages if cfg.consistency == "palette" else 0
    summary = predict_pages(colorizer, cfg.input, output, settings, options, cfg.batch_size, cfg.progress,
                            palette_pages)
    print(summary.report())
    print(f"Output: {output.resolve()}")
    return summary
