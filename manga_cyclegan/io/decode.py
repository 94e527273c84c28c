"""Decoding a page to pixels, whatever the file holds.

* :func:`read_page` returns a ``uint8`` array, ``HxW`` for mode ``"L"`` and ``HxWx3`` for ``"RGB"``, whatever the
  file holds (EXIF rotation, CMYK, palette, alpha, 16-bit, animations). Transparency is composited on WHITE because
  a manga page's background is paper.
* :func:`probe_page` / :func:`probe_pages` check a page cheaply (header only, no pixel decode).
* Pages above ``max_pixels`` are refused before any pixel is decoded (decompression-bomb guard), archive members
  past their :class:`~manga_cyclegan.io.archives.ArchiveLimits` before they are decompressed.

Every failure is a :class:`~manga_cyclegan.io.pages.PageReadError` that names the page.
"""

from __future__ import annotations

import io
import os
import threading
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Literal

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from manga_cyclegan.io.archives import (
    DEFAULT_ARCHIVE_LIMITS,
    ArchiveError,
    ArchiveLimits,
    check_member,
    open_archive,
    read_member,
)
from manga_cyclegan.io.pages import PageReadError, PageRef, as_page_ref

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "open_checked",
    "open_source",
    "probe_page",
    "probe_pages",
    "read_page",
    "read_page_bytes",
]

#: Pages above this many pixels are refused before decoding (decompression-bomb guard).
#: 64 MP is ~8000x8000, far above any real scan of a manga page.
DEFAULT_MAX_PIXELS = 64_000_000


@contextmanager
def open_source(ref: PageRef, whole: bool, zf: zipfile.ZipFile | None = None,
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
            check_member(ref.path, info, limits)
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


def open_checked(ref: PageRef, fh: IO[bytes], max_pixels: int | None) -> Image.Image:
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
        with open_source(ref, whole=False, zf=_zf, limits=limits) as fh:
            im = open_checked(ref, fh, max_pixels)
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
        with open_source(ref, whole=True, limits=limits) as fh:
            im = open_checked(ref, fh, max_pixels)
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
        with open_source(ref, whole=True, limits=limits) as fh:
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
