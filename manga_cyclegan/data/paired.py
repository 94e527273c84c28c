"""Page names relative to their folder, and the paired validation set they match: each testA page with the testB
page and the testLabels map of the same name."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from manga_cyclegan.io.archives import DEFAULT_ARCHIVE_LIMITS, ArchiveLimits
from manga_cyclegan.io.labels import LABEL_EXTENSIONS
from manga_cyclegan.io.listing import list_pages
from manga_cyclegan.io.pages import PageRef

__all__ = ["page_key", "paired_truths"]


def page_key(ref: PageRef, base: Path | None) -> str:
    """Stable name of a page relative to its domain folder, without suffix (``ch1/007``)."""
    rel: Path
    if base is not None and ref.path != base:
        try:
            rel = ref.path.relative_to(base)
        except ValueError:
            rel = Path(ref.path.name)
    else:
        rel = Path(ref.path.name)
    key = rel.with_suffix("").as_posix()
    if ref.member is not None:
        key = f"{key}/{PurePosixPath(ref.member.replace(chr(92), '/')).with_suffix('').as_posix()}"
    return key


def paired_truths(names: list[str], truth_dir: Path, label_dir: Path,
                  limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS) -> tuple[list[PageRef], list[Path]]:
    """The page under ``truth_dir`` (testB) and the label map under ``label_dir`` (testLabels) named like each of
    ``names`` (the testA pages' keys). Raises ``ValueError`` naming the pages that lack either."""
    truth_by_key = {}
    if truth_dir.is_dir():
        truth_by_key = {page_key(r, truth_dir): r for r in list_pages(truth_dir, limits=limits)}
    label_by_key: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(label_dir):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for f in filenames:
            p = Path(dirpath) / f
            if not f.startswith(".") and p.suffix.lower() in LABEL_EXTENSIONS:
                label_by_key[p.relative_to(label_dir).with_suffix("").as_posix()] = p
    missing = [n for n in names if n not in truth_by_key or n not in label_by_key]
    if missing:
        ex = ", ".join(missing[:5])
        raise ValueError(
            f"Paired validation set: {len(missing)} testA page(s) lack a testB page or a "
            f"testLabels map with the same name (e.g. {ex}). Each ROOT/testA/NAME.* needs "
            f"ROOT/testB/NAME.* and ROOT/testLabels/NAME.(png|npy); or remove ROOT/testLabels."
        )
    return [truth_by_key[n] for n in names], [label_by_key[n] for n in names]
