"""The one atomic writer: pages, chapters, checkpoints, exported weights, reports and the mixed-folder split.

A file is written to a hidden temp file in the target's own folder (so `os.replace` is a rename within one file
system, atomic on POSIX and Windows), fsynced, renamed over the target, and the folder is fsynced after the
rename. Readers see the old file or the whole new one, never a part, and a crash cannot leave an empty file at
the target. The temp file is created with 0o666 through the umask, the permissions of any new file of the user
(mkstemp's 0o600, or an owner-only file made by a library writer, would hide outputs from the user's group).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

TEMP_MARK = ".tmp"


def temp_glob(path: Path) -> str:
    """Temp files of `path` are hidden siblings: `.last.ckpt.<random>.tmp.ckpt` (the suffix kept last, for writers
    that choose a format by it)."""
    return f".{path.name}.*{TEMP_MARK}{path.suffix}"


def stale_temp_files(path: Path) -> list[Path]:
    """Temp files of `path` left behind by a process killed while it wrote them."""
    return sorted(path.parent.glob(temp_glob(path)))


def fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (a no-op where folders cannot be opened, e.g. Windows)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _umask_mode() -> int:
    """0o666 through the umask: what open() gives a new file."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, remove_stale: bool = False) -> Iterator[Path]:
    """A fresh temp path next to `path` for the block to write (it exists, empty, and may be rewritten); renamed
    onto `path` when the block succeeds, deleted when it fails. `remove_stale` first deletes temp files of `path`
    left by killed writers (only safe where one process writes `path`). A failed write that names no file (disk
    full) is given the temp file's name, so callers can report the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if remove_stale:
        for stale in stale_temp_files(path):
            stale.unlink(missing_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}{TEMP_MARK}{path.suffix}")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666))
    try:
        yield tmp
        os.chmod(tmp, _umask_mode())  # library writers may have made the file anew, owner-only
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and err.filename is None:
            err.filename = str(tmp)
        raise
    fsync_folder(path.parent)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
