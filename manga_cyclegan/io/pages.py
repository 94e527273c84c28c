"""Page discovery and robust decoding of manga pages (plain files and .cbz/.zip archives).

Contracts
---------
* :func:`list_pages` walks a folder recursively and returns :class:`PageRef` objects in
  *natural* order (``page2`` before ``page10``), with pages inside ``.cbz``/``.zip`` archives
  listed in place (nothing is extracted to disk). Hidden entries and ``__MACOSX`` are skipped.
* :func:`read_page` returns a ``uint8`` array, ``HxW`` for mode ``"L"`` and ``HxWx3`` for
  ``"RGB"``, whatever the file holds (EXIF rotation, CMYK, palette, alpha, 16-bit, animations).
  Transparency is composited on WHITE because a manga page's background is paper.
  Every failure is a :class:`PageReadError` that names the file (and archive member) and
  says how to fix it.
* :func:`probe_page` / :func:`probe_pages` check a page cheaply (header only, no pixel decode).
* Archives are untrusted input: :func:`open_archive` and :func:`check_archive_members` refuse zip bombs
  (:class:`ArchiveLimits`: member count, declared size, compression ratio) and encrypted archives from the
  central directory, before anything is decompressed, and :func:`read_member` reads every member with a size
  cap. Member names are only ever looked up, never used as paths.
"""

from __future__ import annotations

import io
import os
import re
import struct
import threading
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Literal

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "ARCHIVE_EXTENSIONS",
    "DEFAULT_ARCHIVE_LIMITS",
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "LABEL_EXTENSIONS",
    "ArchiveError",
    "ArchiveLimits",
    "PageReadError",
    "PageRef",
    "as_page_ref",
    "check_archive_members",
    "is_hidden_member",
    "is_image_name",
    "list_files",
    "list_pages",
    "natural_key",
    "open_archive",
    "probe_page",
    "probe_pages",
    "read_label_map",
    "read_member",
    "read_page",
    "read_page_bytes",
]

# .gif: old scanlations use it; an animated page gives its first frame.
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
ARCHIVE_EXTENSIONS = frozenset({".cbz", ".zip"})
# Comic containers people will have but that we cannot read: warn instead of ignoring them.
_UNSUPPORTED_CONTAINERS = frozenset({".cbr", ".rar", ".cb7", ".7z", ".cbt", ".pdf", ".epub"})
#: Pages above this many pixels are refused before decoding (decompression-bomb guard).
#: 64 MP is ~8000x8000, far above any real scan of a manga page.
DEFAULT_MAX_PIXELS = 64_000_000

_DIGITS = re.compile(r"(\d+)", re.ASCII)
_DEFAULT_HINT = "Re-export the page as PNG/JPEG or remove it"


@dataclass(frozen=True)
class ArchiveLimits:
    """Zip-bomb guards for .cbz/.zip archives; the field names are the config keys (predict.yaml, data/folder.yaml).

    The defaults are far above any real chapter (a few hundred pages of a few MiB, compressed at most a few times
    over, since the pages are JPEG/PNG already).
    """

    max_archive_members: int = 10_000
    max_member_bytes: int = 256 * 2**20
    max_compression_ratio: float = 200.0


DEFAULT_ARCHIVE_LIMITS = ArchiveLimits()
# Members below this size are never refused for their compression ratio: they cannot blow up memory, and small text
# members (ComicInfo.xml, blank padding) compress far more than pages do.
_RATIO_FLOOR_BYTES = 2**20
_READ_CHUNK = 2**20


# --------------------------------------------------------------------------- references
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


class ArchiveError(PageReadError):
    """A whole .cbz/.zip is refused (corrupt, encrypted, or past an :class:`ArchiveLimits` limit); ``ref`` is the
    archive, the reason names the member."""

    what = "archive"


# --------------------------------------------------------------------------- discovery
def natural_key(s: str) -> tuple:
    """Sort key for natural order: digit runs compare as numbers, text case-insensitively.

    ``re.split`` with a capture group alternates text/digits starting with text, so the
    list positions always hold the same types and lists compare without TypeErrors. The raw
    string is the final tie-breaker so the order is total (``p01`` vs ``p1``).
    """
    parts = _DIGITS.split(s)
    key = [int(p) if i % 2 else p.casefold() for i, p in enumerate(parts)]
    return (key, s)


def _path_key(parts: Iterable[str]) -> tuple:
    return tuple(natural_key(p) for p in parts)


def _skip_name(name: str) -> bool:
    # Hidden files (".DS_Store", "._page1.png" AppleDouble files) and macOS resource forks; "." and ".." in a
    # member name are path parts, not hidden files (the member is still a page, its name is sanitized on output).
    return (name.startswith(".") and name not in (".", "..")) or name == "__MACOSX"


def is_hidden_member(name: str) -> bool:
    """An archive member that is not content: a hidden file or folder, or macOS metadata."""
    return any(_skip_name(part) for part in PurePosixPath(name.replace("\\", "/")).parts)


def is_image_name(name: str) -> bool:
    return PurePosixPath(name.replace("\\", "/")).suffix.lower() in IMAGE_EXTENSIONS


def _is_archive(path: Path) -> bool:
    return path.suffix.lower() in ARCHIVE_EXTENSIONS


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
    members.sort(key=lambda m: _path_key(PurePosixPath(m.replace("\\", "/")).parts))
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
        if _is_archive(root):
            return [PageRef(root, m) for m in _archive_members_checked(root, strict, limits)]
        if is_image_name(root.name):
            return [PageRef(root)]
        raise ValueError(
            f"'{root}' is neither a folder, an image ({', '.join(sorted(IMAGE_EXTENSIONS))}) "
            f"nor a .cbz/.zip archive"
        )

    pages: list[PageRef] = []
    for path in list_files(root):
        if _is_archive(path):
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
        dirnames[:] = [d for d in dirnames if not _skip_name(d)]
        rel_dir = Path(dirpath).relative_to(root).parts
        for name in filenames:
            if _skip_name(name):
                continue
            path = Path(dirpath) / name
            if is_image_name(name) or _is_archive(path):
                keyed.append((_path_key((*rel_dir, name)), path))
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


# --------------------------------------------------------------------------- archives (untrusted input)
_EOCD = struct.Struct("<4s4H2LH")  # zip end-of-central-directory record
_EOCD_SIGNATURE = b"PK\x05\x06"


def _declared_member_count(fh: IO[bytes]) -> int | None:
    """The member count in the end-of-central-directory record, read before zipfile parses the whole central
    directory (millions of members would cost gigabytes of ZipInfo objects). None when absent or zip64."""
    size = fh.seek(0, os.SEEK_END)
    tail_size = min(size, _EOCD.size + 0xFFFF)  # the record is followed by a comment of at most 64 KiB
    fh.seek(size - tail_size)
    tail = fh.read(tail_size)
    at = tail.rfind(_EOCD_SIGNATURE)
    if at < 0 or at + _EOCD.size > len(tail):
        return None  # not a zip: zipfile says so next
    count = _EOCD.unpack_from(tail, at)[4]
    return None if count == 0xFFFF else count


def _limit_hint(key: str) -> str:
    return f"Remove it, or raise {key} (data.{key} for training) if the archive is genuine"


def open_archive(path: Path, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS) -> zipfile.ZipFile:
    """Open a .cbz/.zip, refusing more than ``limits.max_archive_members`` members. Raises :class:`ArchiveError`
    for that and for anything that is not a readable zip; the caller closes the archive."""
    path = Path(path)
    too_many = f"above max_archive_members={limits.max_archive_members} (a possible zip bomb)"
    try:
        with open(path, "rb") as fh:
            declared = _declared_member_count(fh)
        if declared is not None and declared > limits.max_archive_members:
            raise ArchiveError(path, f"it declares {declared} members, {too_many}",
                               hint=_limit_hint("max_archive_members"))
        zf = zipfile.ZipFile(path)
    except ArchiveError:
        raise
    except FileNotFoundError:
        raise ArchiveError(path, "the archive does not exist (moved or deleted?)", hint="Re-list the pages") from None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise ArchiveError(path, f"not a readable zip archive ({e})", hint="Re-create the archive or remove it") from e
    if len(zf.infolist()) > limits.max_archive_members:  # a count the end record did not give (zip64) or lied about
        zf.close()
        raise ArchiveError(path, f"it has {len(zf.infolist())} members, {too_many}",
                           hint=_limit_hint("max_archive_members"))
    return zf


def _check_member(path: Path, info: zipfile.ZipInfo, limits: ArchiveLimits) -> None:
    """Refuse, from the central directory alone, a member that is encrypted or would decompress past ``limits``."""
    name = info.filename
    if info.flag_bits & 0x1:
        raise ArchiveError(path, f"member '{name}' is encrypted (password-protected)",
                           hint="Re-create the archive without a password")
    if info.file_size > limits.max_member_bytes:
        raise ArchiveError(path, f"member '{name}' declares {info.file_size} bytes uncompressed, above "
                                 f"max_member_bytes={limits.max_member_bytes} (a possible zip bomb)",
                           hint=_limit_hint("max_member_bytes"))
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size >= _RATIO_FLOOR_BYTES and ratio > limits.max_compression_ratio:
        raise ArchiveError(path, f"member '{name}' is compressed {ratio:.0f} to 1 ({info.compress_size} -> "
                                 f"{info.file_size} bytes), above max_compression_ratio="
                                 f"{limits.max_compression_ratio:g} (a possible zip bomb)",
                           hint=_limit_hint("max_compression_ratio"))


def check_archive_members(zf: zipfile.ZipFile, path: Path, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS) -> None:
    """Check every member (pages and the rest, which predict copies through). Raises :class:`ArchiveError`."""
    for info in zf.infolist():
        _check_member(Path(path), info, limits)


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path,
                limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS) -> bytes:
    """A member's bytes, read in chunks and never more than its declared size or ``limits.max_member_bytes``
    (zipfile stops at the declared size and then checks the CRC, so a member whose data decompresses to more than
    it declares fails that check instead of filling memory). Raises :class:`PageReadError` naming the member."""
    path = Path(path)
    _check_member(path, info, limits)
    ref = PageRef(path, info.filename)
    cap = min(info.file_size, limits.max_member_bytes)
    chunks, total = [], 0
    try:
        with zf.open(info) as fh:
            while chunk := fh.read(min(_READ_CHUNK, cap + 1 - total)):
                total += len(chunk)
                if total > cap:
                    raise PageReadError(ref, f"the member decompresses to more than {cap} bytes (its declared size "
                                             f"{info.file_size}, max_member_bytes={limits.max_member_bytes})",
                                        hint="Re-create the archive; it is damaged or forged")
                chunks.append(chunk)
    except PageReadError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise PageReadError(ref, f"the member's data does not match its declared size {info.file_size} and "
                                 f"checksum ({e})", hint="Re-create the archive; it is damaged or forged") from e
    except NotImplementedError as e:
        raise PageReadError(ref, f"unsupported compression ({e})",
                            hint="Re-create the archive with standard (deflate) compression") from e
    return b"".join(chunks)


# --------------------------------------------------------------------------- decoding
@contextmanager
def _open_source(ref: PageRef, whole: bool, zf: zipfile.ZipFile | None = None,
                 limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS) -> Iterator[IO[bytes]]:
    """Binary stream of the page's encoded bytes. ``whole`` reads archive members into memory
    (seeking inside a deflate stream is slow; decoders seek); header probes stream instead."""
    if ref.member is None:
        try:
            size = ref.path.stat().st_size
        except FileNotFoundError:
            raise PageReadError(ref, "the file does not exist (moved or deleted?)",
                                hint="Re-list the pages") from None
        if size == 0:
            raise PageReadError(ref, "the file is empty (0 bytes)")
        with open(ref.path, "rb") as fh:
            yield fh
        return
    own = zf is None
    try:
        if own:
            zf = open_archive(ref.path, limits)
        try:
            info = zf.getinfo(ref.member)
        except KeyError:
            raise PageReadError(ref, "no such member in the archive",
                                hint="Re-list the pages") from None
        if info.file_size == 0:
            raise PageReadError(ref, "the archive member is empty (0 bytes)")
        if whole:
            yield io.BytesIO(read_member(zf, info, ref.path, limits))
        else:
            _check_member(ref.path, info, limits)
            with zf.open(info) as fh:  # the decoder reads the header only
                yield fh
    except zipfile.BadZipFile as e:
        raise PageReadError(ref, f"corrupt archive ({e})", hint="Re-create the archive") from e
    finally:
        if own and zf is not None:
            zf.close()


_PIL_LIMIT_LOCK = threading.Lock()


@contextmanager
def _pil_pixel_limit_off(off: bool) -> Iterator[None]:
    """Suspend PIL's process-wide bomb check (it raises at 179 MP, naming neither the page nor max_pixels) while a
    header is parsed, so that ``max_pixels``, checked right after, is the one policy. The lock keeps concurrent
    readers from restoring each other's value."""
    if not off:
        yield
        return
    with _PIL_LIMIT_LOCK:
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _open_checked(ref: PageRef, fh: IO[bytes], max_pixels: int | None) -> Image.Image:
    """Open the header only and refuse oversize images BEFORE any pixel is decoded."""
    try:
        with warnings.catch_warnings(), _pil_pixel_limit_off(max_pixels is not None):
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(fh)
    except Image.DecompressionBombError as e:
        raise PageReadError(ref, f"image is too large to decode safely ({e})",
                            hint="Downscale the page, or remove it") from e
    except UnidentifiedImageError as e:
        raise PageReadError(ref, "not a recognizable image (corrupt, or not an image at all)") from e
    w, h = im.size
    if w <= 0 or h <= 0:
        raise PageReadError(ref, f"image has an invalid size {w}x{h}")
    if max_pixels is not None and w * h > max_pixels:
        raise PageReadError(
            ref,
            f"image is {w}x{h} = {w * h / 1e6:.1f} megapixels, above max_pixels={max_pixels} "
            f"(refused before decoding as a possible decompression bomb)",
            hint="Downscale the page, or raise max_pixels (data.max_pixels for training) if it is genuine",
        )
    return im


def probe_page(ref: PageRef | str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS,
               *, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS, _zf: zipfile.ZipFile | None = None
               ) -> tuple[int, int]:
    """Cheap validity check: parse the header (no pixel decode), enforce ``max_pixels``.

    Returns ``(width, height)`` as stored (before EXIF rotation). Raises :class:`PageReadError`.
    Truncated pixel data is NOT detected here; training skips such pages when they fail.
    """
    ref = as_page_ref(ref)
    try:
        with _open_source(ref, whole=False, zf=_zf, limits=limits) as fh:
            im = _open_checked(ref, fh, max_pixels)
            return im.size
    except PageReadError:
        raise
    except Exception as e:  # noqa: BLE001 - every failure must name the page
        raise PageReadError(ref, f"{type(e).__name__}: {e}") from e


def probe_pages(refs: Iterable[PageRef], max_pixels: int | None = DEFAULT_MAX_PIXELS,
                *, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS
                ) -> tuple[list[PageRef], list[tuple[PageRef, str]]]:
    """Probe many pages, reusing one open handle per archive. Returns ``(ok, [(bad, reason)])``."""
    ok: list[PageRef] = []
    bad: list[tuple[PageRef, str]] = []
    archives: dict[Path, zipfile.ZipFile | ArchiveError] = {}
    try:
        for ref in refs:
            zf = None
            if ref.member is not None:
                if ref.path not in archives:
                    try:
                        archives[ref.path] = open_archive(ref.path, limits)
                    except ArchiveError as e:  # every page of it is bad, for the same reason
                        archives[ref.path] = e
                zf = archives[ref.path]
            if isinstance(zf, ArchiveError):
                bad.append((ref, zf.reason))
                continue
            try:
                probe_page(ref, max_pixels, limits=limits, _zf=zf)
                ok.append(ref)
            except PageReadError as e:
                bad.append((ref, e.reason))
    finally:
        for zf in archives.values():
            if isinstance(zf, zipfile.ZipFile):
                zf.close()
    return ok, bad


def read_page(
    ref: PageRef | str | os.PathLike,
    mode: Literal["L", "RGB"] = "RGB",
    *,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    max_side: int | None = None,
    limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
) -> np.ndarray:
    """Decode a page to ``uint8``: ``HxW`` for ``mode="L"``, ``HxWx3`` for ``mode="RGB"``.

    Applies EXIF orientation, converts CMYK (through its ICC profile when present), composites
    any transparency on white, scales 16-bit data to 8-bit, and takes the first frame of
    animations. RGB->L uses PIL's Rec.601 luma. ``max_side`` optionally shrinks the result
    (INTER_AREA) so its long side is at most that; JPEGs are then decoded at reduced DCT scale
    for speed. Pages above ``max_pixels`` are refused before decoding, archive members past
    ``limits`` before decompressing. Raises :class:`PageReadError` on any failure.
    """
    if mode not in ("L", "RGB"):
        raise ValueError(f"mode must be 'L' or 'RGB', got {mode!r}")
    ref = as_page_ref(ref)
    try:
        with _open_source(ref, whole=True, limits=limits) as fh:
            im = _open_checked(ref, fh, max_pixels)
            with im:
                arr = _decode(im, mode, max_side)
    except PageReadError:
        raise
    except Image.DecompressionBombError as e:
        raise PageReadError(ref, f"image is too large to decode safely ({e})",
                            hint="Downscale the page, or remove it") from e
    except OSError as e:
        # PIL reports truncated/corrupt pixel data as OSError ("image file is truncated").
        raise PageReadError(ref, f"corrupt or truncated image data ({e})") from e
    except Exception as e:  # noqa: BLE001 - every failure must name the page
        raise PageReadError(ref, f"{type(e).__name__}: {e}") from e
    return arr


def read_page_bytes(ref: PageRef | str | os.PathLike, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS) -> bytes:
    """The page's encoded bytes as stored (for copying a page through unchanged). Raises :class:`PageReadError`."""
    ref = as_page_ref(ref)
    try:
        with _open_source(ref, whole=True, limits=limits) as fh:
            return fh.read()
    except PageReadError:
        raise
    except Exception as e:  # noqa: BLE001 - every failure must name the page
        raise PageReadError(ref, f"{type(e).__name__}: {e}") from e


def _decode(im: Image.Image, mode: str, max_side: int | None) -> np.ndarray:
    try:
        im.seek(0)  # animated GIF/PNG/WebP, multi-page TIFF: first frame
    except (EOFError, AttributeError):
        pass
    if max_side is not None and im.format == "JPEG" and im.mode in ("L", "RGB"):
        w, h = im.size
        s = max_side / max(w, h)
        if s < 1:
            # DCT-domain downscale: the result is >= the requested size, refined below by AREA.
            im.draft(im.mode, (max(1, int(np.ceil(w * s))), max(1, int(np.ceil(h * s)))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        im.load()
    try:
        # A page with a broken EXIF block is still a good page: keep it unrotated.
        im = ImageOps.exif_transpose(im) or im
    except Exception:  # noqa: BLE001
        pass

    arr = _to_l_or_rgb(im)
    if mode == "RGB" and arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif mode == "L" and arr.ndim == 3:
        # PIL's fixed-point Rec.601 luma, so "L" matches what every PIL-based tool produces.
        arr = np.asarray(Image.fromarray(arr, "RGB").convert("L"))
    if max_side is not None and max(arr.shape[:2]) > max_side:
        h, w = arr.shape[:2]
        s = max_side / max(h, w)
        size = (max(1, round(w * s)), max(1, round(h * s)))
        arr = cv2.resize(arr, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(arr, dtype=np.uint8)


def _composite_on_white(arr: np.ndarray) -> np.ndarray:
    """``(..., C+1)`` uint8 with straight alpha last -> ``(..., C)`` on a white background."""
    color = arr[..., :-1].astype(np.float32)
    alpha = arr[..., -1:].astype(np.float32) / 255.0
    out = color * alpha + 255.0 * (1.0 - alpha)
    out = np.rint(out).astype(np.uint8)
    return out[..., 0] if out.shape[-1] == 1 else out


def _scale_16bit(arr: np.ndarray) -> np.ndarray:
    # v * 255 / 65535 == v / 257 exactly maps 0->0 and 65535->255; round half up.
    a = arr.astype(np.int64)
    return ((np.clip(a, 0, 65535) * 255 + 32767) // 65535).astype(np.uint8)


def _to_l_or_rgb(im: Image.Image) -> np.ndarray:
    """Normalize any PIL mode to a uint8 ``L`` (HxW) or ``RGB`` (HxWx3) array."""
    m = im.mode
    if m == "1":
        return np.asarray(im.convert("L"))
    if m in ("La", "RGBa"):  # premultiplied alpha -> straight alpha
        im = im.convert("LA" if m == "La" else "RGBA")
        m = im.mode
    if m in ("P", "PA"):
        if m == "PA" or "transparency" in im.info:
            im = im.convert("RGBA")
        else:
            im = im.convert("RGB")
        m = im.mode
    if m in ("L", "RGB") and "transparency" in im.info:
        # tRNS colour key on a grey/RGB PNG: that colour is see-through -> paper white.
        im = im.convert("LA" if m == "L" else "RGBA")
        m = im.mode
    if m in ("LA", "RGBA"):
        return _composite_on_white(np.asarray(im))
    if m in ("L", "RGB"):
        return np.asarray(im)
    if m.startswith("I;16"):
        return _scale_16bit(np.asarray(im))
    if m == "I":
        a = np.asarray(im)
        hi = int(a.max()) if a.size else 0
        if hi <= 255:  # 8-bit data stored in a 32-bit container
            return np.clip(a, 0, 255).astype(np.uint8)
        if hi <= 65535:  # 16-bit data (e.g. 16-bit PNG/TIFF opened as "I")
            return _scale_16bit(a)
        return np.rint(np.clip(a, 0, None) * (255.0 / hi)).astype(np.uint8)
    if m == "F":
        a = np.nan_to_num(np.asarray(im, dtype=np.float32))
        hi = float(a.max()) if a.size else 0.0
        scale = 255.0 if hi <= 1.0 else (1.0 if hi <= 255.0 else 255.0 / 65535.0)
        return np.rint(np.clip(a * scale, 0, 255)).astype(np.uint8)
    if m == "CMYK":
        return np.asarray(_cmyk_to_rgb(im))
    # YCbCr, LAB, HSV, exotic modes: let PIL do it.
    return np.asarray(im.convert("RGB"))


def _cmyk_to_rgb(im: Image.Image) -> Image.Image:
    """CMYK -> RGB through the embedded ICC profile when available (print scans often carry
    one and the naive formula is far off there); PIL's naive conversion otherwise."""
    icc = im.info.get("icc_profile")
    if icc:
        try:
            from PIL import ImageCms

            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            dst = ImageCms.createProfile("sRGB")
            out = ImageCms.profileToProfile(im, src, dst, outputMode="RGB")
            if out is not None:
                return out
        except Exception:  # noqa: BLE001 - broken profile: fall back to the naive formula
            pass
    return im.convert("RGB")



LABEL_EXTENSIONS = frozenset({".png", ".bmp", ".tif", ".tiff", ".npy"})


def read_label_map(path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read a per-pixel class map as ``int64`` ``HxW`` with the RAW stored values.

    Unlike :func:`read_page` nothing is colour-converted: palette ("P") images give their
    indices, "L"/"I;16"/"I" give their values, ``.npy`` files are loaded as is. An RGB(A) file
    is accepted only when its colour channels are equal (a grey map saved as RGB). Lossy
    formats (JPEG/WebP) are not accepted because compression changes class ids.
    Raises :class:`PageReadError`.
    """
    ref = PageRef(Path(path))
    suffix = ref.path.suffix.lower()
    if suffix not in LABEL_EXTENSIONS:
        raise PageReadError(ref, f"unsupported label map format '{suffix}'",
                            hint="Save label maps as lossless PNG (mode L/P/I;16) or .npy")
    try:
        if suffix == ".npy":
            arr = np.load(ref.path, allow_pickle=False)
        else:
            with _open_source(ref, whole=True) as fh:
                im = _open_checked(ref, fh, max_pixels)
                with im:
                    im.load()
                    try:
                        im = ImageOps.exif_transpose(im) or im
                    except Exception:  # noqa: BLE001
                        pass
                    arr = np.asarray(im)
        if arr.ndim == 3:
            chans = arr[..., :3] if arr.shape[2] >= 3 else arr[..., :1]
            if not all(np.array_equal(chans[..., 0], chans[..., c]) for c in range(1, chans.shape[2])):
                raise PageReadError(ref, f"label map has {arr.shape[2]} different channels",
                                    hint="Save label maps single-channel (mode L/P/I;16) or .npy")
            arr = chans[..., 0]
        if arr.ndim != 2:
            raise PageReadError(ref, f"label map must be 2-D, got shape {arr.shape}",
                                hint="Save label maps as HxW arrays")
        if not np.issubdtype(arr.dtype, np.integer) and not np.issubdtype(arr.dtype, np.bool_):
            raise PageReadError(ref, f"label map has non-integer dtype {arr.dtype}",
                                hint="Save label maps with integer class ids")
        return arr.astype(np.int64)
    except PageReadError:
        raise
    except Exception as e:  # noqa: BLE001 - every failure must name the file
        raise PageReadError(ref, f"{type(e).__name__}: {e}",
                            hint="Re-export the label map as PNG or .npy") from e
