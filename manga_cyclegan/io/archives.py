"""Reading .cbz/.zip archives, which are untrusted input.

:func:`open_archive` and :func:`check_archive_members` refuse zip bombs (:class:`ArchiveLimits`: member count,
declared size, compression ratio) and encrypted archives from the central directory, before anything is
decompressed, and :func:`read_member` reads every member with a size cap. Member names are only ever looked up,
never used as paths.
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from manga_cyclegan.io.pages import PageReadError, PageRef

__all__ = [
    "DEFAULT_ARCHIVE_LIMITS",
    "ArchiveError",
    "ArchiveLimits",
    "check_archive_members",
    "check_member",
    "open_archive",
    "read_member",
]


class ArchiveError(PageReadError):
    """A whole .cbz/.zip is refused (corrupt, encrypted, or past an :class:`ArchiveLimits` limit); ``ref`` is the
    archive, the reason names the member."""

    what = "archive"


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


def check_member(path: Path, info: zipfile.ZipInfo, limits: ArchiveLimits) -> None:
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
        check_member(Path(path), info, limits)


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path,
                limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS) -> bytes:
    """A member's bytes, read in chunks and never more than its declared size or ``limits.max_member_bytes``
    (zipfile stops at the declared size and then checks the CRC, so a member whose data decompresses to more than
    it declares fails that check instead of filling memory). Raises :class:`PageReadError` naming the member."""
    path = Path(path)
    check_member(path, info, limits)
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
