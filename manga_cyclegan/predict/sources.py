"""Where pages come from: an image, a .cbz/.zip chapter, a folder (recursive) or a glob, and where their
outputs go by default (the output mirrors the input's paths below its base folder)."""

from __future__ import annotations

import glob
from pathlib import Path

from manga_cyclegan.io.listing import list_files
from manga_cyclegan.io.pages import (
    ARCHIVE_EXTENSIONS,
    IMAGE_EXTENSIONS,
)


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
