"""Finding the pages under a folder.

:func:`list_pages` walks a folder recursively and returns :class:`PageRef` objects in *natural* order (``page2``
before ``page10``), with pages inside ``.cbz``/``.zip`` archives listed in place (nothing is extracted to disk).
Hidden entries and ``__MACOSX`` are skipped.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path, PurePosixPath

from manga_cyclegan.io.archives import (
    DEFAULT_ARCHIVE_LIMITS,
    ArchiveError,
    ArchiveLimits,
    check_archive_members,
    open_archive,
)
from manga_cyclegan.io.pages import (
    IMAGE_EXTENSIONS,
    PageRef,
    is_archive_path,
    is_hidden_member,
    is_hidden_name,
    is_image_name,
    natural_path_key,
)

__all__ = ["list_files", "list_pages"]

# Comic containers people will have but that we cannot read: warn instead of ignoring them.
_UNSUPPORTED_CONTAINERS = frozenset({".cbr", ".rar", ".cb7", ".7z", ".cbt", ".pdf", ".epub"})


def _archive_members(path: Path, limits: ArchiveLimits) -> list[str]:
    """Image members of an archive in natural order (reads only the central directory)."""
    members = []
    with open_archive(path, limits) as zf:
        check_archive_members(zf, path, limits)
        for info in zf.infolist():
            if info.is_dir():
                continue
            if not is_hidden_member(info.filename) and is_image_name(info.filename):
                members.append(info.filename)
    members.sort(key=lambda m: natural_path_key(PurePosixPath(m.replace("\\", "/")).parts))
    return members


def list_pages(folder: str | os.PathLike, *, strict: bool = False,
               limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS) -> list[PageRef]:
    """All pages under ``folder`` (recursive), in natural order.

    ``folder`` may also be a single image or a single .cbz/.zip. Raises ``FileNotFoundError``
    naming the folder when it does not exist, ``ValueError`` for a file that is neither an
    image nor an archive. A corrupt, encrypted or over-``limits`` archive is skipped with a
    warning (``strict=False``) or raises :class:`ArchiveError` (``strict=True``).
    """
    root = Path(folder).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"Page folder not found: '{root}'")
    if root.is_file():
        if is_archive_path(root):
            return [PageRef(root, m) for m in _archive_members_checked(root, strict, limits)]
        if is_image_name(root.name):
            return [PageRef(root)]
        raise ValueError(
            f"'{root}' is neither a folder, an image ({', '.join(sorted(IMAGE_EXTENSIONS))}) "
            f"nor a .cbz/.zip archive"
        )

    pages: list[PageRef] = []
    for path in list_files(root):
        if is_archive_path(path):
            pages += [PageRef(path, m) for m in _archive_members_checked(path, strict, limits)]
        else:
            pages.append(PageRef(path))
    return pages


def list_files(folder: str | os.PathLike) -> list[Path]:
    """Images and .cbz/.zip archives under ``folder`` (recursive, symlinks followed), in natural order.

    Hidden entries are skipped; comic containers we cannot read (.cbr, .pdf, ...) are skipped with a warning.
    """
    root = Path(folder).expanduser()
    keyed: list[tuple[tuple, Path]] = []
    seen_dirs: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        # Symlinked folders are followed (data is often linked in); guard against cycles.
        real = os.path.realpath(dirpath)
        if real in seen_dirs:
            dirnames[:] = []
            continue
        seen_dirs.add(real)
        dirnames[:] = [d for d in dirnames if not is_hidden_name(d)]
        rel_dir = Path(dirpath).relative_to(root).parts
        for name in filenames:
            if is_hidden_name(name):
                continue
            path = Path(dirpath) / name
            if is_image_name(name) or is_archive_path(path):
                keyed.append((natural_path_key((*rel_dir, name)), path))
            elif path.suffix.lower() in _UNSUPPORTED_CONTAINERS:
                warnings.warn(f"Skipping '{path}': {path.suffix} files are not supported; convert it to "
                              f".cbz (a zip of images) or extract the pages", stacklevel=2)
    keyed.sort(key=lambda kv: kv[0])
    return [path for _, path in keyed]


def _archive_members_checked(path: Path, strict: bool, limits: ArchiveLimits) -> list[str]:
    try:
        return _archive_members(path, limits)
    except ArchiveError as err:
        if strict:
            raise
        warnings.warn(f"Skipping archive: {err}", stacklevel=3)
        return []
