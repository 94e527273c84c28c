"""Split a folder that mixes B/W and colour pages into the two CycleGAN domains.

The split is written for human review to ``out_dir``:

* ``A.txt`` / ``B.txt``: one page per line, ``<colored_fraction>\\t<page>`` (natural order);
* ``unreadable.txt``: pages that failed to decode, with the reason;
* ``split.json``: the machine-readable split (source of truth, reused on later runs while the
  folder's page list and the threshold are unchanged; delete it to force re-classification).

To override a wrong decision, move the page into ``ROOT/trainA`` or ``ROOT/trainB`` instead.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path

from manga_cyclegan.colorize.color_detect import DEFAULT_COLOR_THRESHOLD, chroma_stats
from manga_cyclegan.io.archives import DEFAULT_ARCHIVE_LIMITS, ArchiveLimits
from manga_cyclegan.io.atomic import atomic_write_text
from manga_cyclegan.io.decode import DEFAULT_MAX_PIXELS, read_page
from manga_cyclegan.io.listing import list_pages
from manga_cyclegan.io.pages import IMAGE_EXTENSIONS, PageReadError, PageRef

__all__ = ["split_mixed_folder", "load_split", "SPLIT_VERSION"]

log = logging.getLogger(__name__)

SPLIT_VERSION = 1
# chroma_stats shrinks pages to 512 px anyway; decoding at that size (JPEG DCT scaling) is
# several times faster on full-resolution scans.
_DETECT_MAX_SIDE = 512


def load_split(out_dir: str | os.PathLike) -> dict | None:
    """Parsed ``split.json`` of ``out_dir`` or None when absent/unreadable."""
    p = Path(out_dir) / "split.json"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("version") == SPLIT_VERSION else None


def split_mixed_folder(
    folder: str | os.PathLike,
    out_dir: str | os.PathLike,
    threshold: float = DEFAULT_COLOR_THRESHOLD,
    *,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
    reuse: bool = True,
) -> tuple[list[PageRef], list[PageRef]]:
    """Classify every page of ``folder`` with the colour detector.

    Returns ``(bw_pages, color_pages)`` in natural order; a page is colour when its
    ``colored_fraction`` exceeds ``threshold`` (same rule as ``is_color_page``). Unreadable
    pages are left out (listed in ``unreadable.txt`` and warned about once). With ``reuse``,
    an existing ``split.json`` for the same folder, threshold and page list is returned
    without decoding anything.
    """
    # Absolute paths in split.json: the lists stay valid if the working directory changes.
    folder = Path(folder).expanduser().resolve()
    out = Path(out_dir).expanduser()
    pages = list_pages(folder, limits=limits)
    if not pages:
        raise ValueError(f"Mixed folder '{folder}' contains no pages "
                         f"({'/'.join(sorted(e[1:] for e in IMAGE_EXTENSIONS))} or .cbz/.zip)")

    folder_id = str(folder)
    if reuse:
        data = load_split(out)
        if data is not None and data.get("folder") == folder_id and data.get("threshold") == float(threshold):
            listed = {(e["path"], e["member"]) for key in ("A", "B", "unreadable") for e in data[key]}
            current = {(str(r.path), r.member) for r in pages}
            if listed == current:
                log.info("Reusing the mixed-folder split in %s", out / "split.json")
                return ([PageRef.from_json(e) for e in data["A"]], [PageRef.from_json(e) for e in data["B"]])

    bw: list[tuple[PageRef, float]] = []
    color: list[tuple[PageRef, float]] = []
    bad: list[tuple[PageRef, str]] = []
    for ref in pages:
        try:
            rgb = read_page(ref, "RGB", max_pixels=max_pixels, max_side=_DETECT_MAX_SIDE, limits=limits)
        except PageReadError as e:
            bad.append((ref, e.reason))
            continue
        score = chroma_stats(rgb)["colored_fraction"]
        (color if score > threshold else bw).append((ref, score))

    out.mkdir(parents=True, exist_ok=True)
    header = f"# colored_fraction\tpage   (folder={folder}, threshold={threshold}; above -> B/colour)\n"
    atomic_write_text(out / "A.txt", header + "".join(f"{s:.4f}\t{r}\n" for r, s in bw))
    atomic_write_text(out / "B.txt", header + "".join(f"{s:.4f}\t{r}\n" for r, s in color))
    atomic_write_text(out / "unreadable.txt", "".join(f"{r}\t{why}\n" for r, why in bad))
    data = {
        "version": SPLIT_VERSION,
        "folder": folder_id,
        "threshold": float(threshold),
        "A": [{**r.to_json(), "score": s} for r, s in bw],
        "B": [{**r.to_json(), "score": s} for r, s in color],
        "unreadable": [{**r.to_json(), "reason": why} for r, why in bad],
    }
    atomic_write_text(out / "split.json", json.dumps(data, indent=1))
    if bad:
        examples = "; ".join(f"{r} ({why})" for r, why in bad[:5])
        warnings.warn(f"{len(bad)} unreadable page(s) in mixed folder '{folder}' left out of the "
                      f"split (see {out / 'unreadable.txt'}): {examples}", stacklevel=2)
    log.info("Mixed folder %s: %d B/W pages, %d colour pages (lists in %s)", folder, len(bw), len(color), out)
    return [r for r, _ in bw], [r for r, _ in color]
