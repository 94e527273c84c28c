"""Page discovery, archives and robust decoding (manga_cyclegan.io: pages, listing, archives, decode, labels)."""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from manga_cyclegan.io.decode import probe_page, probe_pages, read_page
from manga_cyclegan.io.labels import read_label_map
from manga_cyclegan.io.listing import list_pages
from manga_cyclegan.io.pages import PageReadError, PageRef, is_inside, natural_key


def _png_bytes(arr: np.ndarray, **save) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG", **save)
    return buf.getvalue()


def _save(path: Path, arr: np.ndarray, **save) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, **save)
    return path


def _rel(refs, root: Path) -> list[str]:
    out = []
    for r in refs:
        rel = r.path.relative_to(root).as_posix()
        out.append(f"{rel}:{r.member}" if r.member else rel)
    return out


# --------------------------------------------------------------------------- discovery
def test_natural_key_orders_numbers_numerically():
    names = ["page10.png", "page2.png", "Page1.png", "page02b.png", "page1.png"]
    assert sorted(names, key=natural_key) == ["Page1.png", "page1.png", "page2.png", "page02b.png", "page10.png"]


def test_list_pages_natural_order_recursive_and_filters(tmp_path):
    px = np.zeros((4, 4), np.uint8)
    for name in ["page10.png", "page2.PNG", "page1.jpg", "ch10/p1.webp", "ch2/p10.tif", "ch2/p9.bmp",
                 ".hidden.png", "__MACOSX/page3.png", ".git/x.png"]:
        _save(tmp_path / name, px, format="PNG")
    (tmp_path / "notes.txt").write_text("not a page")
    (tmp_path / "page3.jpeg.txt").write_text("nope")
    (tmp_path / "vol2.cbr").write_bytes(b"Rar!")
    with pytest.warns(UserWarning, match=r"vol2\.cbr.*convert it to \.cbz"):
        refs = list_pages(tmp_path)
    assert _rel(refs, tmp_path) == ["ch2/p9.bmp", "ch2/p10.tif", "ch10/p1.webp", "page1.jpg", "page2.PNG", "page10.png"]
    assert all(r.member is None for r in refs)


def test_list_pages_missing_folder_names_it(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(FileNotFoundError, match="nope"):
        list_pages(missing)
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ValueError, match="file.txt"):
        list_pages(tmp_path / "file.txt")


def _make_cbz(path: Path, pages: dict[str, np.ndarray], extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("chapter/", b"")  # explicit directory entry
        for name, arr in pages.items():
            zf.writestr(name, _png_bytes(arr))
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path


def test_cbz_lists_only_pages_in_natural_order_and_reads_without_extracting(tmp_path):
    pages = {f"chapter/{n}.png": np.full((6, 5), v, np.uint8) for n, v in [("10", 30), ("2", 20), ("1", 10)]}
    cbz = _make_cbz(tmp_path / "vol1.cbz", pages, extra={
        "ComicInfo.xml": b"<ComicInfo/>",
        "__MACOSX/chapter/._1.png": b"junk",
        "chapter/.thumb.png": _png_bytes(np.zeros((2, 2), np.uint8)),
    })
    before = sorted(p.name for p in tmp_path.rglob("*"))
    refs = list_pages(tmp_path)
    assert [r.member for r in refs] == ["chapter/1.png", "chapter/2.png", "chapter/10.png"]
    assert all(r.path == cbz for r in refs)
    assert str(refs[0]) == f"{cbz}:chapter/1.png"
    assert refs[2].stem == "10"
    values = [int(read_page(r, "L")[0, 0]) for r in refs]
    assert values == [10, 20, 30]
    assert read_page(refs[0], "RGB").shape == (6, 5, 3)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing extracted
    # a single archive can be listed directly, and files + archives interleave naturally
    assert list_pages(cbz) == refs
    _save(tmp_path / "vol2.png", np.zeros((3, 3), np.uint8))
    _save(tmp_path / "vol10.png", np.zeros((3, 3), np.uint8))
    assert _rel(list_pages(tmp_path), tmp_path) == [
        "vol1.cbz:chapter/1.png", "vol1.cbz:chapter/2.png", "vol1.cbz:chapter/10.png", "vol2.png", "vol10.png"]


def test_corrupt_archive_is_skipped_with_warning_or_raises_in_strict(tmp_path):
    (tmp_path / "bad.cbz").write_bytes(b"PK\x03\x04 this is not a zip")
    _save(tmp_path / "ok.png", np.zeros((3, 3), np.uint8))
    with pytest.warns(UserWarning, match="bad.cbz"):
        refs = list_pages(tmp_path)
    assert [r.path.name for r in refs] == ["ok.png"]
    with pytest.raises(PageReadError, match="bad.cbz"):
        list_pages(tmp_path, strict=True)


# --------------------------------------------------------------------------- decoding modes
def test_rgb_to_l_uses_pil_luma(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (7, 9, 3), dtype=np.uint8)
    p = _save(tmp_path / "c.png", rgb)
    gray = read_page(p, "L")
    assert gray.dtype == np.uint8 and gray.shape == (7, 9)
    np.testing.assert_array_equal(gray, np.asarray(Image.fromarray(rgb).convert("L")))
    # and L -> RGB replicates the channel
    g = _save(tmp_path / "g.png", gray)
    out = read_page(g, "RGB")
    assert out.shape == (7, 9, 3) and (out == gray[:, :, None]).all()


def test_cmyk_converts_to_rgb(tmp_path):
    cmyk = np.zeros((4, 4, 4), np.uint8)
    cmyk[:2, :, 1:3] = 255  # magenta + yellow = red
    cmyk[2:, :, 3] = 255  # key = black
    p = tmp_path / "cmyk.tif"
    Image.fromarray(cmyk, "CMYK").save(p)
    rgb = read_page(p, "RGB")
    assert rgb.shape == (4, 4, 3)
    np.testing.assert_array_equal(rgb[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(rgb[3, 3], [0, 0, 0])


def test_palette_transparency_composited_on_white(tmp_path):
    px = np.zeros((4, 6), np.uint8)
    px[:, 3:] = 1
    im = Image.fromarray(px, "P")
    im.putpalette([0, 0, 0, 200, 30, 30] + [0] * 762)
    p = tmp_path / "pal.png"
    im.save(p, transparency=0)  # index 0 (black) is see-through
    rgb = read_page(p, "RGB")
    np.testing.assert_array_equal(rgb[:, :3], 255)  # white paper, not black
    np.testing.assert_array_equal(rgb[0, 4], [200, 30, 30])
    assert (read_page(p, "L")[:, :3] == 255).all()


def test_la_and_rgba_composited_on_white(tmp_path):
    la = np.zeros((2, 3, 2), np.uint8)  # black ink
    la[..., 1] = [[0, 128, 255], [0, 128, 255]]  # alpha: clear, half, opaque
    p = tmp_path / "la.png"
    Image.fromarray(la, "LA").save(p)
    g = read_page(p, "L")
    np.testing.assert_array_equal(g[0], [255, 127, 0])
    rgba = np.zeros((1, 2, 4), np.uint8)
    rgba[0, :, 0] = 255  # red
    rgba[0, :, 3] = [0, 255]
    q = tmp_path / "rgba.png"
    Image.fromarray(rgba, "RGBA").save(q)
    np.testing.assert_array_equal(read_page(q, "RGB")[0], [[255, 255, 255], [255, 0, 0]])


def test_16bit_scaled_to_8bit(tmp_path):
    a = np.array([[0, 257, 32768, 65535]], np.uint16)
    p = tmp_path / "deep.png"
    Image.fromarray(a).save(p)
    assert Image.open(p).mode.startswith("I")
    np.testing.assert_array_equal(read_page(p, "L")[0], [0, 1, 128, 255])
    assert read_page(p, "RGB").shape == (1, 4, 3)


def test_exif_orientation_applied(tmp_path):
    arr = np.zeros((10, 20, 3), np.uint8)  # 20 wide, 10 high
    arr[:, :10] = 255  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    p = tmp_path / "rot.jpg"
    Image.fromarray(arr).save(p, exif=exif, quality=95)
    out = read_page(p, "L")
    assert out.shape == (20, 10)  # displayed portrait
    assert out[2, 5] > 200 and out[17, 5] < 50  # left half is now the top


def test_animated_gif_first_frame(tmp_path):
    frames = [Image.fromarray(np.full((5, 5), v, np.uint8)) for v in (0, 255, 128)]
    p = tmp_path / "anim.gif"
    frames[0].save(p, save_all=True, append_images=frames[1:], duration=50, loop=0)
    assert Image.open(p).n_frames == 3
    out = read_page(p, "L")
    assert out.shape == (5, 5) and (out == 0).all()


# --------------------------------------------------------------------------- failures
def _truncated_png(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    data = _png_bytes(rng.integers(0, 256, (64, 64), dtype=np.uint8))
    p = tmp_path / "truncated.png"
    p.write_bytes(data[: len(data) // 2])
    return p


@pytest.mark.parametrize("kind", ["zero", "text", "truncated"])
def test_bad_files_raise_page_read_error_naming_file(tmp_path, kind):
    if kind == "zero":
        p = tmp_path / "empty.png"
        p.write_bytes(b"")
    elif kind == "text":
        p = tmp_path / "notes.jpg"
        p.write_text("definitely not a jpeg")
    else:
        p = _truncated_png(tmp_path)
    with pytest.raises(PageReadError) as ei:
        read_page(p, "RGB")
    msg = str(ei.value)
    assert p.name in msg and "PNG/JPEG" in msg
    assert ei.value.ref == PageRef(p)
    # survives pickling (DataLoader workers)
    again = pickle.loads(pickle.dumps(ei.value))
    assert str(again) == msg


def test_bad_archive_member_names_archive_and_member(tmp_path):
    cbz = tmp_path / "ch.cbz"
    with zipfile.ZipFile(cbz, "w") as zf:
        zf.writestr("001.png", b"garbage")
    (ref,) = list_pages(cbz)
    with pytest.raises(PageReadError, match=r"ch\.cbz:001\.png") as ei:
        read_page(ref)
    assert "archive" in str(ei.value)


def test_pixel_limit_refused_before_decoding(tmp_path, monkeypatch):
    p = _save(tmp_path / "big.png", np.zeros((100, 120), np.uint8))
    from PIL import ImageFile

    def boom(self):  # any pixel decode would hit this
        raise AssertionError("decoded although above the pixel limit")

    monkeypatch.setattr(ImageFile.ImageFile, "load", boom)
    with pytest.raises(PageReadError, match="max_pixels=5000") as ei:
        read_page(p, "L", max_pixels=5000)
    assert "big.png" in str(ei.value) and "120x100" in str(ei.value)
    with pytest.raises(PageReadError, match="max_pixels"):
        probe_page(p, max_pixels=5000)
    monkeypatch.undo()
    assert read_page(p, "L", max_pixels=12000).shape == (100, 120)


def test_probe_pages_splits_good_and_bad(tmp_path):
    good = _save(tmp_path / "a.png", np.zeros((3, 3), np.uint8))
    (tmp_path / "b.png").write_bytes(b"")
    cbz = _make_cbz(tmp_path / "c.cbz", {"1.png": np.zeros((2, 2), np.uint8)}, extra={"2.png": b"xx"})
    ok, bad = probe_pages(list_pages(tmp_path), max_pixels=100)
    assert ok == [PageRef(good), PageRef(cbz, "1.png")]
    assert [str(r) for r, _ in bad] == [str(tmp_path / "b.png"), f"{cbz}:2.png"]
    assert probe_page(good) == (3, 3)


def test_max_side_shrinks_with_aspect(tmp_path):
    p = _save(tmp_path / "j.jpg", np.full((400, 200, 3), 128, np.uint8), quality=90)
    out = read_page(p, "RGB", max_side=100)
    assert out.shape == (100, 50, 3)


def test_read_label_map_keeps_raw_ids(tmp_path):
    ids = np.array([[0, 1, 2], [7, 7, 0]], np.uint8)
    im = Image.fromarray(ids, "P")
    im.putpalette([255, 255, 255, 10, 10, 10] + [0] * 762)  # palette colours must not leak in
    im.save(tmp_path / "l.png")
    np.testing.assert_array_equal(read_label_map(tmp_path / "l.png"), ids)
    np.save(tmp_path / "n.npy", ids.astype(np.int16))
    out = read_label_map(tmp_path / "n.npy")
    assert out.dtype == np.int64 and (out == ids).all()
    with pytest.raises(PageReadError):
        read_label_map(tmp_path / "x.jpg")


def test_is_inside_resolves_links_and_takes_an_oserror_filename(tmp_path):
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    (tmp_path / "link").symlink_to(out)
    assert is_inside(out, out) and is_inside(out / "sub" / "p.png", out)
    assert is_inside(os.fsencode(tmp_path / "link" / "sub"), out)  # bytes, as OSError.filename may be
    assert not is_inside(tmp_path / "outer.png", out) and not is_inside(tmp_path / "out2", out)
    assert not is_inside(None, out) and not is_inside("", out)
