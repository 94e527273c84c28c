"""What a page is: a :class:`PageRef` (a plain image file or a member of a .cbz/.zip archive), the
:class:`PageReadError` every reader raises, and the names that make a page (extensions, hidden entries, natural
order).

Every :class:`PageReadError` names the file (and archive member) and says how to fix it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

__all__ = [
    "ARCHIVE_EXTENSIONS",
    "IMAGE_EXTENSIONS",
    "PageReadError",
    "PageRef",
    "as_page_ref",
    "is_archive_path",
    "is_hidden_member",
    "is_hidden_name",
    "is_image_name",
    "is_inside",
    "natural_key",
    "natural_path_key",
]

# .gif: old scanlations use it; an animated page gives its first frame.
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
ARCHIVE_EXTENSIONS = frozenset({".cbz", ".zip"})

_DIGITS = re.compile(r"(\d+)", re.ASCII)
_DEFAULT_HINT = "Re-export the page as PNG/JPEG or remove it"


@dataclass(frozen=True)
class PageRef:
    """One page: a plain image file (``member is None``) or a member of a .cbz/.zip archive."""

    path: Path
    member: str | None = None

    def __post_init__(self) -> None:
        # Accept str paths but keep the stored value a Path so refs hash/compare consistently.
        if not isinstance(self.path, Path):
            object.__setattr__(self, "path", Path(self.path))

    def __str__(self) -> str:
        return f"{self.path}:{self.member}" if self.member is not None else str(self.path)

    @property
    def stem(self) -> str:
        """File stem of the page itself (the member's stem for archive pages)."""
        if self.member is not None:
            return PurePosixPath(self.member.replace("\\", "/")).stem
        return self.path.stem

    @property
    def suffix(self) -> str:
        name = self.member.replace("\\", "/") if self.member is not None else self.path.name
        return PurePosixPath(name).suffix.lower()

    def to_json(self) -> dict:
        """Plain dict (``path``, ``member``) — unambiguous even when paths contain ``:``."""
        return {"path": str(self.path), "member": self.member}

    @classmethod
    def from_json(cls, d: dict) -> PageRef:
        return cls(Path(d["path"]), d.get("member"))


def as_page_ref(ref: PageRef | str | os.PathLike) -> PageRef:
    """Coerce a path-like to a :class:`PageRef` (plain file)."""
    return ref if isinstance(ref, PageRef) else PageRef(Path(ref))


class PageReadError(Exception):
    """A page could not be read. ``ref`` is the page, ``reason`` a short human explanation."""

    what = "page"

    def __init__(self, ref: PageRef | str | os.PathLike, reason: str, hint: str | None = None):
        self.ref = as_page_ref(ref)
        self.reason = reason
        self.hint = hint
        if hint is None:
            hint = _DEFAULT_HINT + (" from the archive" if self.ref.member is not None else "")
        self.advice = hint  # the hint as shown, defaults filled in
        super().__init__(f"Cannot read {self.what} '{self.ref}': {reason.rstrip('. ')}. {hint}.")

    def __reduce__(self):
        # Keep the error picklable so it survives DataLoader worker processes intact.
        return (type(self), (self.ref, self.reason, self.hint))


def natural_key(s: str) -> tuple:
    """Sort key for natural order: digit runs compare as numbers, text case-insensitively.

    ``re.split`` with a capture group alternates text/digits starting with text, so the
    list positions always hold the same types and lists compare without TypeErrors. The raw
    string is the final tie-breaker so the order is total (``p01`` vs ``p1``).
    """
    parts = _DIGITS.split(s)
    key = [int(p) if i % 2 else p.casefold() for i, p in enumerate(parts)]
    return (key, s)


def natural_path_key(parts: Iterable[str]) -> tuple:
    """Sort key for a path given as its parts: :func:`natural_key` part by part."""
    return tuple(natural_key(p) for p in parts)


def is_hidden_name(name: str) -> bool:
    """One path part that is not content: a hidden file or folder, or macOS metadata."""
    # Hidden files (".DS_Store", "._page1.png" AppleDouble files) and macOS resource forks; "." and ".." in a
    # member name are path parts, not hidden files (the member is still a page, its name is sanitized on output).
    return (name.startswith(".") and name not in (".", "..")) or name == "__MACOSX"


def is_hidden_member(name: str) -> bool:
    """An archive member that is not content: a hidden file or folder, or macOS metadata."""
    return any(is_hidden_name(part) for part in PurePosixPath(name.replace("\\", "/")).parts)


def is_image_name(name: str) -> bool:
    return PurePosixPath(name.replace("\\", "/")).suffix.lower() in IMAGE_EXTENSIONS


def is_archive_path(path: Path) -> bool:
    """A .cbz/.zip file, by its suffix."""
    return path.suffix.lower() in ARCHIVE_EXTENSIONS


def is_inside(path: str | bytes | os.PathLike | None, folder: str | os.PathLike) -> bool:
    """True when `path` is `folder` or lies below it, both resolved (symbolic links followed); no path (None or
    empty, as in an OSError without a file name) is inside nothing."""
    if not path:
        return False
    path, folder = Path(os.fsdecode(path)).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents
