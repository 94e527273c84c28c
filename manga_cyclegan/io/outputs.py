"""Writing colorized pages: encoding, atomic files, and .cbz chapters assembled from a resumable staging folder.

Nothing is ever written in place: every file goes to a temporary name in its destination folder and is renamed
over the target when complete, so a crash leaves either the old state or the new file, never half a page.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

from manga_cyclegan.io.atomic import atomic_path, atomic_write_bytes

# Output formats: name -> (PIL format, file suffix).
FORMATS = {"png": ("PNG", ".png"), "jpg": ("JPEG", ".jpg"), "webp": ("WEBP", ".webp")}
# Input suffixes that "same" keeps; other image types (bmp, tif) are written as PNG.
_SAME = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg", ".webp": "webp"}


def output_format(fmt: str, input_suffix: str) -> tuple[str, str]:
    """(format name, suffix) of the output page: `fmt` is png|jpg|webp, or "same" as the input where possible."""
    if fmt == "same":
        suffix = input_suffix.lower()
        if suffix in _SAME:
            return _SAME[suffix], suffix
        return "png", ".png"
    if fmt not in FORMATS:
        raise ValueError(f"unknown output format {fmt!r}: choose one of same, {', '.join(FORMATS)}")
    return fmt, FORMATS[fmt][1]


def encode_page(rgb: np.ndarray, fmt: str, quality: int = 95) -> bytes:
    """uint8 HxWx3 -> encoded bytes. JPEG/WebP at `quality`; PNG lossless at a fast compression level."""
    buffer = io.BytesIO()
    pil_format = FORMATS[fmt][0]
    options = {"compress_level": 3} if fmt == "png" else {"quality": quality}
    Image.fromarray(rgb).save(buffer, pil_format, **options)
    return buffer.getvalue()


def safe_member_name(name: str) -> str:
    """An archive member name that cannot point outside the folder it is extracted to.

    Backslashes become slashes; drive letters, leading slashes, "." and ".." parts are dropped.
    """
    parts = []
    for part in PurePosixPath(name.replace("\\", "/")).parts:
        if part in ("/", ".", "..") or part.endswith(":") or not part.strip():
            continue
        parts.append(part.split(":")[-1] if ":" in part else part)
    return "/".join(parts)


class ChapterWriter:
    """Builds an output .cbz from its pages, resumably.

    Finished pages are staged as files in `<output>.partial/` (each written atomically), so an interrupted run
    picks up where it stopped. `finish` writes the archive (temp file + rename) with every member in the input's
    order and removes the staging folder.
    """

    def __init__(self, output: Path):
        self.output = output
        self.staging = output.with_name(f"{output.name}.partial")

    def staged(self, index: int) -> Path:
        return self.staging / f"{index:06d}"

    def has(self, index: int) -> bool:
        return self.staged(index).is_file()

    def put(self, index: int, data: bytes) -> None:
        atomic_write_bytes(self.staged(index), data)

    def finish(self, members: list[tuple[str, tuple, Callable[[], bytes]]]) -> None:
        """Write the archive: `members` are (name, date_time, bytes source) in order, read one at a time."""

        with atomic_path(self.output) as tmp, zipfile.ZipFile(tmp, "w") as zf:
            for name, date_time, source in members:
                info = zipfile.ZipInfo(name, date_time=date_time)
                info.external_attr = 0o644 << 16  # rw-r--r-- when extracted, not mode 000
                # Pages are already compressed: storing them is as small and much faster.
                info.compress_type = zipfile.ZIP_STORED if _is_compressed(name) else zipfile.ZIP_DEFLATED
                zf.writestr(info, source())
        shutil.rmtree(self.staging, ignore_errors=True)


def _is_compressed(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in {".png", ".jpg", ".jpeg", ".webp", ".gif"}
