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

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from omegaconf import DictConfig
from tqdm import tqdm

from manga_cyclegan.color import luma
from manga_cyclegan.colorize.color_detect import is_color_page
from manga_cyclegan.colorize.colorizer import (
    Colorizer,
    InferenceSettings,
    colorize_batch,
    resolve_device,
    resolve_tile_pixels,
)
from manga_cyclegan.colorize.hints import Click
from manga_cyclegan.colorize.hints_file import read_hints
from manga_cyclegan.colorize.palette import ChapterPalette
from manga_cyclegan.colorize.weights import load_colorizer
from manga_cyclegan.config.commands import PredictConfig
from manga_cyclegan.config.errors import config_hint
from manga_cyclegan.config.precision import emulated_bf16_warning, resolve_precision
from manga_cyclegan.config.schema import PageGuards, arch_overrides, check_config
from manga_cyclegan.io.decode import read_page
from manga_cyclegan.io.pages import (
    ARCHIVE_EXTENSIONS,
    PageReadError,
    PageRef,
    is_inside,
)
from manga_cyclegan.predict.hinting import ChapterHints, page_name
from manga_cyclegan.predict.overlap import WriteBehind, read_ahead
from manga_cyclegan.predict.sinks import ChapterSink, OutputOptions, PageSink
from manga_cyclegan.predict.sources import default_output, resolve_inputs

STATES = ("colorized", "color", "existing", "failed")


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


def plan(pattern: str, output: Path, options: OutputOptions) -> tuple[list, list[tuple[str, str]], Path]:
    """The sinks for every input file, the inputs that cannot even be opened (chapter, reason), and the base folder
    the input's paths are relative to."""
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
    return sinks, broken, base


def predict_pages(
    colorizer: Colorizer,
    pattern: str,
    output: Path,
    settings: InferenceSettings,
    options: OutputOptions,
    batch_size: int = 1,
    progress: bool = True,
    palette_pages: int = 0,
    clicks: list[Click] | None = None,
    hints_out: Path | None = None,
    references: dict[str, np.ndarray] | None = None,
    overlap: bool = True,
) -> Summary:
    """Colorize everything `pattern` names into `output`; see the module docstring for the page states. `clicks`:
    color hints (`manga_cyclegan.predict.hinting`), checked before any page is colored; `hints_out`: where the
    clicks and the colors they reached are written at the end; `references`: colored pages (name -> RGB) whose
    regions' colors the run's matching regions take; `overlap`: decode and write pages in background threads
    (`manga_cyclegan.predict.overlap`)."""
    sinks, broken, base = plan(pattern, output, options)
    if palette_pages:
        settings = replace(settings, palette=fit_palette(colorizer, sinks, settings, options, palette_pages))
    hinting = None
    if clicks or hints_out or references:
        names = {ref: page_name(ref, base) for sink in sinks for _, ref in sink.pages()}
        hinting = ChapterHints(colorizer, settings, clicks or [], {name: ref for ref, name in names.items()}, options,
                               references=references)
    summary = Summary()
    for where, reason in broken:
        summary.add("failed", where, reason)
    total = sum(1 for sink in sinks for _ in sink.pages())
    bar = tqdm(total=total, unit="page", disable=not progress, dynamic_ncols=True)
    batch: list[tuple[object, int, PageRef, np.ndarray]] = []
    with WriteBehind(enabled=overlap) as writer:

        def flush() -> None:
            if not batch:
                return
            try:
                if hinting is not None:
                    colors = [hinting.colorize(names[ref], gray) for _, _, ref, gray in batch]
                else:
                    colors = colorize_batch(colorizer, [gray for *_, gray in batch], settings)
            except Exception as e:  # noqa: BLE001 - one page (say, out of memory) must not end the chapter
                for sink, index, ref, _ in batch:
                    writer.submit(sink.put_failed, index, ref)
                    summary.add("failed", ref, f"colorizing failed: {type(e).__name__}: {e}")
            else:
                for (sink, index, ref, _), color in zip(batch, colors):
                    writer.submit(sink.put_colorized, index, color)
                    summary.add("colorized")
            bar.update(len(batch))
            batch.clear()

        for state, sink, index, ref, page in read_ahead(decoded(sinks, options), enabled=overlap):
            if state == "gray":
                batch.append((sink, index, ref, page))
                if len(batch) >= batch_size:
                    flush()
                continue
            if state == "end":  # the sink's last page: colorize what is left, then assemble it
                flush()
                writer.drain()
                try:
                    sink.close()
                except PageReadError as e:
                    summary.add("failed", sink.source, f"chapter not written: {e}")
                continue
            if state == "failed":
                writer.submit(sink.put_failed, index, ref)
                summary.add("failed", ref, page)
            elif state == "color":
                writer.submit(sink.put_original, index, ref)
                summary.add("color")
            else:
                summary.add("existing")
            bar.update()
    bar.close()
    if hints_out is not None:
        hinting.write(hints_out)
    return summary


def decoded(sinks: list, options: OutputOptions) -> Iterator[tuple[str, object, int, PageRef | None, object]]:
    """Every page of every sink as (state, sink, index, ref, page): "gray" with its luma to colorize, "color" (to
    copy through), "existing" (done by an earlier run) or "failed" with the reason; then ("end", sink, ...) once a
    sink's pages are all given. Decoding happens here, so predict_pages can run it ahead in a thread."""
    for sink in sinks:
        for index, ref in sink.pages():
            if sink.is_done(index):
                yield "existing", sink, index, ref, None
                continue
            try:
                rgb = read_page(ref, "RGB", max_pixels=options.max_pixels, limits=options.archive_limits)
            except PageReadError as e:
                yield "failed", sink, index, ref, f"{e.reason.rstrip('. ')}. {e.advice}"
                continue
            if options.skip_color and is_color_page(rgb, options.color_threshold):
                yield "color", sink, index, ref, None
            else:
                yield "gray", sink, index, ref, luma(rgb)
        yield "end", sink, -1, None, None


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


def read_references(pattern: str, options: OutputOptions) -> dict[str, np.ndarray]:
    """The colored reference pages `reference=` names (a page, a folder or a glob), by name; ValueError naming a
    page that cannot be read."""
    base, files = resolve_inputs(pattern)
    pages = {}
    for path in files:
        if path.suffix.lower() in ARCHIVE_EXTENSIONS:
            raise ValueError(f"reference {path}: give colored pages or crops as images, not a chapter")
        try:
            pages[str(path.relative_to(base))] = read_page(PageRef(path), "RGB", max_pixels=options.max_pixels)
        except PageReadError as e:
            raise ValueError(f"reference {path}: {e.reason.rstrip('. ')}. {e.advice}") from None
    return pages


def predict(cfg: DictConfig) -> Summary:
    """Run conf/predict.yaml: check it, load the colorizer, colorize the input, print where everything went."""
    check_config(cfg, PredictConfig, hint=f"\n{config_hint('predict.py')}")
    clicks = read_hints(cfg.hints) if cfg.hints else None
    options = OutputOptions(
        format=cfg.format,
        quality=cfg.quality,
        overwrite=cfg.overwrite,
        skip_color=not cfg.force,
        color_threshold=cfg.color_threshold,
        max_pixels=cfg.max_pixels,
        archive_limits=PageGuards.archive_limits(cfg),
    )
    device = resolve_device(cfg.device)
    colorizer = load_colorizer(cfg.ckpt, arch=arch_overrides(cfg.arch))
    settings = InferenceSettings(
        mode=cfg.mode,
        flat_regions=cfg.flat_regions,
        close_gaps=cfg.close_gaps,
        split_tones=cfg.split_tones,
        split_colors=cfg.split_colors,
        working_size=cfg.working_size,
        device=device,
        precision=resolve_precision(cfg.precision, device),
        tile_pixels=resolve_tile_pixels(cfg.tile_pixels, colorizer.generator, device),
        compile=cfg.compile,
        channels_last=cfg.channels_last,
    )
    output = Path(cfg.output) if cfg.output else default_output(cfg.input, Path(cfg.paths.log_dir))
    tiles = f"tiles above {settings.tile_pixels / 1e6:.1f} MP" if settings.tile_pixels else "never tiled"
    print(f"Colorizing {cfg.input} -> {output} ({settings.mode} mode, {device.type}, {settings.precision}, {tiles})")
    if warning := emulated_bf16_warning(settings.precision, device.type):
        print(f"warning: {warning}", file=sys.stderr)
    palette_pages = cfg.palette_pages if cfg.consistency == "palette" else 0
    references = read_references(cfg.reference, options) if cfg.reference else None
    summary = predict_pages(colorizer, cfg.input, output, settings, options, cfg.batch_size, cfg.progress,
                            palette_pages, clicks, Path(cfg.hints_out) if cfg.hints_out else None, references,
                            overlap=cfg.overlap)
    if cfg.hints_out:
        print(f"Hints: {cfg.hints_out}")
    print(summary.report())
    print(f"Output: {output.resolve()}")
    return summary
