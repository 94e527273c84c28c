"""Bad pages, hostile archives and output errors, made for real, through predict.py and the training DataModule.

Already covered elsewhere (not repeated here): tests/io/test_pages.py decodes CMYK TIFF, palette+transparency, LA/RGBA,
16-bit, EXIF and animated GIF pages, refuses zero-byte/text/truncated files and a garbage archive member, checks
max_pixels before decoding (on a 120x100 page), lists around a corrupt archive; tests/data/test_datamodule.py skips unreadable
pages at setup and a truncated page during training, pads a page smaller than the crop; tests/predict/test_run.py reports a
truncated and an empty page (exit 1), keeps a corrupt chapter page in place, and exits 2 for a page output under a
regular file.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
import struct
import subprocess
import sys
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from manga_cyclegan.colorize.colorizer import InferenceSettings
from manga_cyclegan.data.datamodule import UnpairedDataModule
from manga_cyclegan.data.unreadable import UnreadablePagesWarning
from manga_cyclegan.io.archives import read_member
from manga_cyclegan.io.pages import PageReadError
from manga_cyclegan.predict.run import predict_pages
from manga_cyclegan.predict.sinks import OutputError, OutputOptions
from tests.helpers import REPO, manga_page, png_bytes, run_script

# tiny_ckpt and colorizer, test_predict's tiny model: fixtures of conftest.py.

PAGE_H, PAGE_W = 64, 48
BOMB_SIDE = 30000


# --------------------------------------------------------------------------- making bad input
def page(seed: int = 0, height: int = PAGE_H, width: int = PAGE_W) -> np.ndarray:
    # Ink and paper short of pure black and white, so the output's lightness is the page's (see test_predict).
    return np.clip(manga_page(height, width, seed), 20, 235)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(side: int = BOMB_SIDE) -> bytes:
    """A real decompression bomb: a 1-bit side x side PNG of zeros, about 0.5 MB, that decodes to side**2 bytes."""
    row = b"\0" * (1 + side // 8)  # filter byte + packed pixels
    deflate = zlib.compressobj(1)
    idat = b"".join(deflate.compress(row * 1000) for _ in range(side // 1000)) + deflate.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit grayscale
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def write_broken_pages(folder: Path, bomb: bytes) -> None:
    """Pages that cannot be read: the names are BAD_PAGES'."""
    whole = png_bytes(page(1))
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + np.random.default_rng(0).bytes(500))
    (folder / "truncated.png").write_bytes(whole[: len(whole) // 2])
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.png").write_text("Chapter 12 notes: this file is not an image at all.\n")
    (folder / "enormous.png").write_bytes(bomb)


def write_unusual_pages(folder: Path) -> None:
    """Pages that are readable but not plain 8-bit RGB/L: the names are GOOD_PAGES'."""
    Image.fromarray(np.stack([np.zeros_like(page(2))] * 3 + [255 - page(2)], -1), "CMYK").save(
        folder / "cmyk.jpg", quality=95)
    indices = np.where(page(3) < 128, 1, 2).astype(np.uint8)
    indices[:, : PAGE_W // 2] = 0  # left half see-through
    palette = Image.fromarray(indices, "P")
    palette.putpalette([0, 0, 0, 40, 40, 40, 200, 200, 200] + [0] * 759)
    palette.save(folder / "palette_alpha.png", transparency=0)
    alpha = np.full((PAGE_H, PAGE_W), 255, np.uint8)
    alpha[: PAGE_H // 4] = 0  # top quarter see-through
    Image.fromarray(np.stack([page(4), alpha], -1), "LA").save(folder / "la.png")
    Image.fromarray(page(5).astype(np.uint16) * 257).save(folder / "deep16.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 90 degrees counter-clockwise: "rotate 90 clockwise to display"
    Image.fromarray(np.rot90(page(6))).save(folder / "exif_rotated.jpg", exif=exif, quality=95)
    frames = [Image.fromarray(page(7)), Image.fromarray(255 - page(7)), Image.fromarray(page(8))]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:], duration=50, loop=0)
    frames[0].save(folder / "animated.webp", save_all=True, append_images=frames[1:], duration=50, lossless=True)
    Image.fromarray(page(9, 6, 8)).save(folder / "tiny.png")


def expected_lightness(name: str) -> np.ndarray:
    """The page each good input holds, as a reader sees it (transparency on white paper, rotated upright)."""
    if name == "palette_alpha.png":
        gray = np.where(page(3) < 128, 40, 200)
        gray[:, : PAGE_W // 2] = 255
        return gray
    if name == "la.png":
        gray = page(4).copy()
        gray[: PAGE_H // 4] = 255
        return gray
    seeds = {"cmyk.jpg": 2, "deep16.png": 5, "exif_rotated.jpg": 6, "animated.gif": 7, "animated.webp": 7}
    return page(9, 6, 8) if name == "tiny.png" else page(seeds[name])


def luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def forge(data: bytes, name: str, *, flag_bits: int = 0, declared_size: int | None = None) -> bytes:
    """Rewrite one member's local and central headers as a forger would (zipfile cannot write such archives)."""
    out = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        local = zf.getinfo(name).header_offset
    eocd = data.rfind(b"PK\x05\x06")
    entries, central = struct.unpack_from("<H", data, eocd + 10)[0], struct.unpack_from("<L", data, eocd + 16)[0]
    for _ in range(entries):
        name_len, extra_len, comment_len = struct.unpack_from("<3H", data, central + 28)
        if data[central + 46: central + 46 + name_len] == name.encode():
            break
        central += 46 + name_len + extra_len + comment_len
    for at, flags_at, size_at in ((local, 6, 22), (central, 8, 24)):
        struct.pack_into("<H", out, at + flags_at, struct.unpack_from("<H", out, at + flags_at)[0] | flag_bits)
        if declared_size is not None:
            struct.pack_into("<L", out, at + size_at, declared_size)
    return bytes(out)


def lying_member(data: bytes, padding: int) -> tuple[bytes, int]:
    """(member data, declared size): a page followed by `padding` zero bytes the headers do not declare."""
    return data + b"\0" * padding, len(data)


def failures(stdout: str) -> dict[str, str]:
    """FAILED lines of predict's summary: {file name (archive:member for a chapter page): reason}."""
    found = {}
    for where, reason in re.findall(r"^  FAILED (.+?): (.*)$", stdout, re.MULTILINE):
        path, _, member = where.partition(".cbz:")
        found[Path(path).name + (f".cbz:{member}" if member else "")] = reason
    return found


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return bomb_png()


# --------------------------------------------------------------------------- 1. bad pages
BAD_PAGES = {  # page -> what its failure says
    "corrupt.png": ["not a recognizable image"],
    "truncated.png": ["corrupt or truncated"],
    "empty.png": ["empty (0 bytes)"],
    "text.png": ["not a recognizable image"],
    "enormous.png": [f"{BOMB_SIDE}x{BOMB_SIDE}", "max_pixels=64000000", "data.max_pixels"],
}
GOOD_PAGES = {  # page -> (output file, output shape)
    "cmyk.jpg": ("cmyk.jpg", (PAGE_H, PAGE_W, 3)),
    "palette_alpha.png": ("palette_alpha.png", (PAGE_H, PAGE_W, 3)),
    "la.png": ("la.png", (PAGE_H, PAGE_W, 3)),
    "deep16.png": ("deep16.png", (PAGE_H, PAGE_W, 3)),
    "exif_rotated.jpg": ("exif_rotated.jpg", (PAGE_H, PAGE_W, 3)),
    "animated.gif": ("animated.png", (PAGE_H, PAGE_W, 3)),  # gif has no "same" output format: png
    "animated.webp": ("animated.webp", (PAGE_H, PAGE_W, 3)),
    "tiny.png": ("tiny.png", (6, 8, 3)),
}
# Mean lightness error of a good page's output, in 255 levels: measured 1.0-3.3 (JPEG/WebP loss, and the gamut at
# paper white and ink black). A wrong decode is off by tens: transparency on black, a later frame, CMYK inverted.
LIGHTNESS_TOLERANCE = 4.0


@pytest.fixture(scope="module")
def bad_pages_run(tiny_ckpt, tmp_path_factory, bomb):
    """predict.py once over the folder of bad pages, which is also the training set's trainA."""
    root = tmp_path_factory.mktemp("bad_pages")
    (root / "trainA").mkdir()
    write_broken_pages(root / "trainA", bomb)
    write_unusual_pages(root / "trainA")
    (root / "trainB").mkdir()
    Image.fromarray(np.full((PAGE_H, PAGE_W, 3), (200, 30, 30), np.uint8)).save(root / "trainB" / "color.png")
    before = digest(root)
    out = root.parent / f"{root.name}_out"
    # mode=lines: the output's lightness is the page's own, which is how the tests below see each page as read.
    proc = run_script("predict.py", [f"ckpt={tiny_ckpt}", f"input={root / 'trainA'}", f"output={out}",
                                     "progress=false", "mode=lines"], check=False)
    return root, out, proc, before


@pytest.mark.slow  # bad_pages_run: predict.py in a fresh interpreter
def test_bad_pages_fail_the_run_with_exit_code_1_and_the_rest_are_colorized(bad_pages_run):
    root, out, proc, before = bad_pages_run
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert f"{len(BAD_PAGES) + len(GOOD_PAGES)} pages: {len(GOOD_PAGES)} colorized" in proc.stdout
    assert f"{len(BAD_PAGES)} failed" in proc.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(name for name, *_ in GOOD_PAGES.values())
    assert digest(root) == before  # a run with failures leaves every input byte as it was


@pytest.mark.slow  # bad_pages_run
@pytest.mark.parametrize("name", sorted(BAD_PAGES))
def test_predict_reports_each_bad_page_with_its_reason_and_fix(bad_pages_run, name):
    _, _, proc, _ = bad_pages_run
    reason = failures(proc.stdout)[name]
    for words in BAD_PAGES[name]:
        assert words in reason
    assert re.search(r"Re-export|Downscale", reason)  # and the fix


@pytest.mark.slow  # bad_pages_run
@pytest.mark.parametrize("name", sorted(GOOD_PAGES))
def test_predict_colorizes_each_unusual_page_as_the_reader_sees_it(bad_pages_run, name):
    _, out, _, _ = bad_pages_run
    output, shape = GOOD_PAGES[name]
    rgb = np.asarray(Image.open(out / output).convert("RGB"))
    assert rgb.shape == shape  # at the page's own size, upright: not squashed, not rotated
    assert np.abs(luma(rgb) - expected_lightness(name)).mean() <= LIGHTNESS_TOLERANCE


@pytest.mark.slow  # bad_pages_run
@pytest.mark.filterwarnings("ignore:No validation pages")
def test_training_reports_the_bad_pages_once_and_skips_them(bad_pages_run, caplog):
    root, *_ = bad_pages_run
    dm = UnpairedDataModule(str(root), crop_size=32, holdout=0)
    with pytest.warns(UnreadablePagesWarning) as caught:
        dm.setup("fit")
    (message,) = [str(w.message) for w in caught if w.category is UnreadablePagesWarning]
    header_bad = sorted(set(BAD_PAGES) - {"truncated.png"})  # a truncated page's header is fine
    assert message.startswith(f"{len(header_bad)} unreadable page(s)")
    for name in header_bad:
        assert name in message
    assert "max_pixels=64000000" in message
    assert sorted(r.path.name for r in dm.train_pages_a) == sorted([*GOOD_PAGES, "truncated.png"])

    # Every A page is drawn once per epoch: the truncated one fails to decode, is replaced and counted.
    items = [dm.train_dataset[(0, i)] for i in range(len(dm.train_dataset))]
    assert all(item["A"].shape == (1, 32, 32) and item["B"].shape == (3, 32, 32) for item in items)
    assert_skipped_once(dm, caplog, "truncated.png")


def assert_skipped_once(dm: UnpairedDataModule, caplog, name: str) -> None:
    """The page that failed during training was logged once (then known bad) and counted among the replacements
    (a replacement drawn at random may land on it again, and counts again)."""
    logged = [r.getMessage() for r in caplog.records if "Skipping unreadable training page" in r.getMessage()]
    assert len(logged) == 1 and name in logged[0]
    assert dm.skipped_pages >= 1


def test_an_enormous_page_is_refused_fast_without_decoding(tmp_path, bomb):
    """In a fresh interpreter, so the peak resident memory measures this read alone."""
    (tmp_path / "enormous.png").write_bytes(bomb)
    cbz = tmp_path / "lying.cbz"
    data, declared = lying_member(png_bytes(page()), 64 * 2**20)
    cbz.write_bytes(forge(zip_of({"1.png": data}), "1.png", declared_size=declared))
    probe = """
import json, resource, sys, time
from manga_cyclegan.io.decode import read_page
from manga_cyclegan.io.pages import PageReadError, PageRef
read_page(sys.argv[1], max_pixels=None)  # warm up the decoders on a small page
results = {}
for ref in (PageRef(sys.argv[2]), PageRef(sys.argv[3], "1.png")):
    peak, start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
    try:
        read_page(ref)
        error = None
    except PageReadError as e:
        error = str(e)
    results[str(ref)] = dict(error=error, seconds=time.perf_counter() - start,
                             growth_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak)
print(json.dumps(results))
"""
    Image.fromarray(page()).save(tmp_path / "small.png")
    proc = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "small.png"), str(tmp_path / "enormous.png"),
                           str(cbz)], capture_output=True, text=True, cwd=REPO, check=True, timeout=120)
    results = json.loads(proc.stdout)
    bomb_read = results[str(tmp_path / "enormous.png")]
    assert "30000x30000 = 900.0 megapixels, above max_pixels=64000000" in bomb_read["error"]
    assert bomb_read["seconds"] < 1.0
    assert bomb_read["growth_kib"] < 10 * 1024  # decoded, it would take 900 MB (1 byte per pixel)
    member_read = results[f"{cbz}:1.png"]
    assert "does not match its declared size" in member_read["error"] and "lying.cbz:1.png" in member_read["error"]
    assert member_read["growth_kib"] < 10 * 1024  # read to its end, it would take 64 MiB


# --------------------------------------------------------------------------- 2. hostile archives
HOSTILE_NAMES = {  # member -> its sanitized name in the output chapter
    "../../escape.png": "escape.png",
    "/etc/manga-cyclegan-test-x.png": "etc/manga-cyclegan-test-x.png",
    "C:\\Windows\\x.png": "Windows/x.png",
    "C:/y.png": "y.png",
    "sub\\..\\..\\z.png": "sub/z.png",
}
LIMIT_OVERRIDES = ["max_archive_members=5"]  # the other limits keep their defaults
REFUSED_CHAPTERS = {  # chapter -> what its failure says
    "many.cbz": ["declares 6 members", "max_archive_members=5", "data.max_archive_members"],
    "declared_huge.cbz": ["member '1.png' declares 314572800 bytes", "max_member_bytes=268435456"],
    "ratio.cbz": ["member 'blank.bmp' is compressed", "max_compression_ratio=200"],
    "encrypted.cbz": ["member '1.png' is encrypted", "without a password"],
    "corrupt.cbz": ["not a readable zip archive", "Re-create the archive"],
}


def make_hostile_archives(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "names.cbz").write_bytes(zip_of({name: png_bytes(page(i)) for i, name in enumerate(HOSTILE_NAMES)}))
    (folder / "many.cbz").write_bytes(zip_of({f"{i}.png": png_bytes(page(i)) for i in range(6)}))
    (folder / "declared_huge.cbz").write_bytes(forge(zip_of({"1.png": png_bytes(page())}), "1.png",
                                                     declared_size=300 * 2**20))
    (folder / "ratio.cbz").write_bytes(zip_of({"1.png": png_bytes(page()), "blank.bmp": b"\0" * 4 * 2**20}))
    (folder / "encrypted.cbz").write_bytes(forge(zip_of({"1.png": png_bytes(page())}), "1.png", flag_bits=0x1))
    (folder / "corrupt.cbz").write_bytes(b"PK\x03\x04" + np.random.default_rng(0).bytes(300))
    # A page big enough that checking its header does not reach the end of its declared data (and the checksum).
    noise = np.random.default_rng(0).integers(0, 256, (256, 256), dtype=np.uint8)
    data, declared = lying_member(png_bytes(noise), 8 * 2**20)
    (folder / "lying.cbz").write_bytes(forge(zip_of({"1.png": png_bytes(page(1)), "2.png": data}), "2.png",
                                             declared_size=declared))


@pytest.fixture(scope="module")
def hostile_run(tiny_ckpt, tmp_path_factory):
    """predict.py once over a folder of hostile chapters; the folder is also a training set's trainA."""
    base = tmp_path_factory.mktemp("hostile")
    root = base / "root"
    make_hostile_archives(root / "trainA")
    (root / "trainB").mkdir()
    Image.fromarray(np.full((PAGE_H, PAGE_W, 3), (200, 30, 30), np.uint8)).save(root / "trainB" / "color.png")
    before = {"files": digest(base), "outside": sorted(os.listdir(base.parent)), "etc": os.listdir("/etc")}
    out = base / "out"
    proc = run_script("predict.py", [f"ckpt={tiny_ckpt}", f"input={root / 'trainA'}", f"output={out}",
                                     "progress=false", *LIMIT_OVERRIDES], check=False)
    return root, out, proc, before


@pytest.mark.slow  # hostile_run: predict.py in a fresh interpreter
def test_hostile_member_names_stay_inside_the_output_and_are_sanitized(hostile_run):
    root, out, _, before = hostile_run
    with zipfile.ZipFile(out / "names.cbz") as zf:
        assert zf.namelist() == list(HOSTILE_NAMES.values())
        assert all(Image.open(io.BytesIO(zf.read(n))).size == (PAGE_W, PAGE_H) for n in zf.namelist())
    assert not (out / "names.cbz").with_name("names.cbz.partial").exists()
    base = root.parent
    written = set(digest(base)) - set(before["files"])
    assert written and all(path.startswith("out/") for path in written)  # nothing else under the test folder
    assert sorted(os.listdir(base.parent)) == before["outside"]  # nor beside it ("../../escape.png")
    assert os.listdir("/etc") == before["etc"]  # nor at an absolute path
    assert {k: v for k, v in digest(base).items() if k.startswith("root/")} == \
        {k: v for k, v in before["files"].items() if k.startswith("root/")}  # inputs untouched


@pytest.mark.slow  # hostile_run
def test_refused_chapters_are_reported_and_the_run_goes_on(hostile_run):
    _, out, proc, _ = hostile_run
    assert proc.returncode == 1, proc.stderr[-2000:]
    found = failures(proc.stdout)
    for chapter, words in REFUSED_CHAPTERS.items():
        for word in words:
            assert word in found[chapter], (chapter, found[chapter])
        assert not (out / chapter).exists()
    assert "6 colorized" in proc.stdout  # names.cbz's five pages and lying.cbz's good one


@pytest.mark.slow  # hostile_run
def test_a_member_holding_more_than_it_declares_fails_and_its_chapter_is_not_written(hostile_run):
    _, out, proc, _ = hostile_run
    found = failures(proc.stdout)
    assert "does not match its declared size" in found["lying.cbz:2.png"]
    assert "chapter not written" in found["lying.cbz"] and "2.png" in found["lying.cbz"]
    assert not (out / "lying.cbz").exists()
    assert (out / "lying.cbz.partial" / "000000").is_file()  # the colorized page waits for a rerun


@pytest.mark.slow  # hostile_run
@pytest.mark.filterwarnings("ignore:No validation pages")
def test_training_skips_hostile_archives_with_the_reason_and_reads_the_rest_in_place(hostile_run, caplog):
    root, *_ = hostile_run
    before = digest(root.parent)
    dm = UnpairedDataModule(str(root), crop_size=32, holdout=0, max_archive_members=5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dm.setup("fit")
    skipped = [str(w.message) for w in caught if str(w.message).startswith("Skipping archive")]
    for chapter, words in REFUSED_CHAPTERS.items():
        (message,) = [m for m in skipped if f"{chapter}'" in m]
        for word in words:
            assert word in message
    assert sorted(str(r).split("trainA/")[1] for r in dm.train_pages_a) == sorted(
        [f"lying.cbz:{m}" for m in ("1.png", "2.png")] + [f"names.cbz:{m}" for m in HOSTILE_NAMES])
    items = [dm.train_dataset[(0, i)] for i in range(len(dm.train_dataset))]
    assert all(item["A"].shape == (1, 32, 32) for item in items)
    assert_skipped_once(dm, caplog, "lying.cbz:2.png")  # its header looked fine
    assert digest(root.parent) == before  # nothing extracted, nothing written


def test_member_reads_stop_at_the_cap_even_if_the_zip_library_gives_more(tmp_path):
    """read_member asks for at most cap + 1 bytes: a reader that returns more than declared is stopped there."""
    cbz = tmp_path / "a.cbz"
    cbz.write_bytes(zip_of({"1.png": b"x" * 1000}))

    class Endless(io.BytesIO):
        served = 0

        def read(self, size=-1):
            data = super().read(size)
            Endless.served += len(data)
            return data

    class OverGenerous(zipfile.ZipFile):
        def open(self, *args, **kwargs):
            return Endless(b"x" * 10 * 2**20)

    with OverGenerous(cbz) as zf, pytest.raises(PageReadError, match=r"a\.cbz:1\.png.*more than 1000 bytes"):
        read_member(zf, zf.getinfo("1.png"), cbz)
    assert Endless.served == 1001


# --------------------------------------------------------------------------- 3. output errors
def refuse_writes_under(folder: Path, error: int):
    """Path.write_bytes failing below `folder` the way a full disk or a read-only folder fails."""
    real = Path.write_bytes

    def write_bytes(self, data):
        if folder in self.parents:
            raise OSError(error, os.strerror(error), str(self))
        return real(self, data)

    return write_bytes


def predict(colorizer, source: Path, output: Path):
    return predict_pages(colorizer, str(source), output, InferenceSettings(), OutputOptions(), progress=False)


def test_disk_full_on_a_page_stops_with_a_message_naming_the_folder(colorizer, tmp_path, monkeypatch):
    Image.fromarray(page()).save(tmp_path / "p.png")
    out = tmp_path / "out"
    monkeypatch.setattr(Path, "write_bytes", refuse_writes_under(out, errno.ENOSPC))
    with pytest.raises(OutputError) as caught:
        predict(colorizer, tmp_path / "p.png", out)
    message = str(caught.value)
    assert f"cannot write {out / 'p.png'}: No space left on device" in message
    assert "Check the free space and permissions of the output folder" in message
    assert list(out.iterdir()) == []  # the temporary file is gone


def test_no_permission_or_disk_full_on_a_chapter_stops_and_a_rerun_resumes(colorizer, tmp_path, monkeypatch):
    chapter = tmp_path / "ch.cbz"
    chapter.write_bytes(zip_of({f"{i}.png": png_bytes(page(i)) for i in range(3)}))
    out = tmp_path / "out"
    with monkeypatch.context() as patch:  # staging the first page is refused
        patch.setattr(Path, "write_bytes", refuse_writes_under(out, errno.EACCES))
        with pytest.raises(OutputError, match=rf"cannot write to {re.escape(str(out))}/ch\.cbz\.partial: "
                                              r"Permission denied\. Check the free space and permissions"):
            predict(colorizer, chapter, out)

    real_writestr = zipfile.ZipFile.writestr

    def disk_full_in_output(self, info, data, *args, **kwargs):
        if Path(self.filename).parent == out:  # the output chapter, not the test's own zips
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_writestr(self, info, data, *args, **kwargs)

    with monkeypatch.context() as patch:  # the pages are staged, assembling the chapter runs out of space
        patch.setattr(zipfile.ZipFile, "writestr", disk_full_in_output)
        with pytest.raises(OutputError, match=rf"cannot write {re.escape(str(out / 'ch.cbz'))}: No space left"):
            predict(colorizer, chapter, out)
    assert sorted(p.name for p in out.iterdir()) == ["ch.cbz.partial"]  # no half chapter, no temporary file
    summary = predict(colorizer, chapter, out)
    assert summary.counts["existing"] == 3
    with zipfile.ZipFile(out / "ch.cbz") as zf:
        assert zf.namelist() == ["0.png", "1.png", "2.png"]


@pytest.mark.slow  # predict.py in a fresh interpreter
def test_an_impossible_chapter_output_exits_2_naming_it(tiny_ckpt, tmp_path):
    chapter = tmp_path / "ch.cbz"
    chapter.write_bytes(zip_of({"1.png": png_bytes(page())}))
    (tmp_path / "a_file").write_text("")  # a folder below a regular file cannot exist, even for root
    proc = run_script("predict.py", [f"ckpt={tiny_ckpt}", f"input={chapter}", f"output={tmp_path / 'a_file' / 'out'}",
                                     "progress=false"], check=False)
    assert proc.returncode == 2
    assert f"cannot write to {tmp_path / 'a_file' / 'out'}" in proc.stderr
    assert "Check the free space and permissions of the output folder" in proc.stderr
    assert "Traceback" not in proc.stderr
