"""predict.py on pages, folders and .cbz chapters the tests make, with a tiny model."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from manga_cyclegan.colorize.colorizer import InferenceSettings
from manga_cyclegan.nets import ResnetGenerator
from manga_cyclegan.predict.run import predict_pages
from manga_cyclegan.predict.sinks import OutputOptions
from tests.helpers import REPO, manga_page, png_bytes, run_script


def color_page(height: int, width: int) -> np.ndarray:
    page = np.zeros((height, width, 3), np.uint8)
    page[..., 0] = np.linspace(0, 255, width, dtype=np.uint8)
    page[..., 1] = 80
    page[..., 2] = 200
    return page


def luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# tiny_ckpt (an untrained tiny CycleGAN's checkpoint) and colorizer (a tiny colorizer): fixtures of conftest.py.


def run(colorizer, source, output, mode="flat", **options):
    return predict_pages(colorizer, str(source), output, InferenceSettings(mode=mode), OutputOptions(**options),
                         progress=False)


def test_pages_of_odd_sizes_come_back_at_their_size_with_the_page_lightness(colorizer, tmp_path):
    sizes = [(101, 67), (37, 250), (64, 64)]
    # Ink and paper short of pure black and white, so most colors fit the RGB cube without clipping.
    pages = [np.clip(manga_page(h, w, i), 20, 235) for i, (h, w) in enumerate(sizes)]
    for i, page in enumerate(pages):
        Image.fromarray(page).save(tmp_path / f"p{i}.png")
    summary = run(colorizer, tmp_path, tmp_path / "out", mode="lines")
    flat = run(colorizer, tmp_path, tmp_path / "flat")  # the default
    assert summary.counts["colorized"] == 3 and flat.counts["colorized"] == 3
    for i, ((h, w), page) in enumerate(zip(sizes, pages)):
        assert np.asarray(Image.open(tmp_path / "flat" / f"p{i}.png")).shape == (h, w, 3)
        out = np.asarray(Image.open(tmp_path / "out" / f"p{i}.png"))
        assert out.shape == (h, w, 3)
        in_gamut = (out > 0).all(-1) & (out < 255).all(-1)
        # Lines mode: the page's own lightness wherever the color fits the RGB cube (rounding aside).
        assert in_gamut.mean() > 0.5
        assert np.abs(luma(out) - page)[in_gamut].max() <= 1.5


def test_raw_mode_gives_the_generator_image_at_working_size(colorizer, tmp_path):
    Image.fromarray(manga_page(100, 60)).save(tmp_path / "p.png")
    predict_pages(colorizer, str(tmp_path / "p.png"), tmp_path / "out", InferenceSettings(mode="raw"),
                  OutputOptions(), progress=False)
    assert np.asarray(Image.open(tmp_path / "out" / "p.png")).shape == (52, 32, 3)  # short side 32, multiple of 4


@pytest.mark.slow  # predict.py in a fresh interpreter
def test_chapter_round_trip_keeps_order_names_and_extra_members(tiny_ckpt, tmp_path):
    chapter = tmp_path / "in" / "vol1" / "ch01.cbz"
    chapter.parent.mkdir(parents=True)
    names = ["ch01/page10.png", "ch01/page2.png", "ComicInfo.xml", "ch01/page1.jpg"]
    with zipfile.ZipFile(chapter, "w") as zf:
        zf.writestr(names[0], png_bytes(manga_page(60, 44, 0)))
        zf.writestr(names[1], png_bytes(manga_page(48, 40, 1)))
        zf.writestr(names[2], "<ComicInfo><Series>Test</Series></ComicInfo>")
        buffer = io.BytesIO()
        Image.fromarray(manga_page(52, 36, 2)).save(buffer, "JPEG")
        zf.writestr(names[3], buffer.getvalue())
    before = digest(tmp_path / "in")
    proc = run_script("predict.py", [f"ckpt={tiny_ckpt}", f"input={tmp_path / 'in'}", f"output={tmp_path / 'out'}"])
    assert "3 colorized" in proc.stdout and "0 failed" in proc.stdout
    assert digest(tmp_path / "in") == before  # inputs are never modified
    with zipfile.ZipFile(tmp_path / "out" / "vol1" / "ch01.cbz") as zf:
        assert zf.namelist() == names  # the archive's own order, the same names (stems and suffixes)
        assert zf.read("ComicInfo.xml") == b"<ComicInfo><Series>Test</Series></ComicInfo>"
        pages = [np.asarray(Image.open(io.BytesIO(zf.read(n)))) for n in names if n != "ComicInfo.xml"]
    assert [p.shape for p in pages] == [(60, 44, 3), (48, 40, 3), (52, 36, 3)]
    assert not list((tmp_path / "out").rglob("*.partial"))  # the staging folder is gone


@pytest.mark.slow  # predict.py in a fresh interpreter
def test_a_corrupt_page_is_reported_and_the_others_are_written(tiny_ckpt, tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    Image.fromarray(manga_page(40, 40)).save(source / "01.png")
    whole = png_bytes(manga_page(40, 40))
    (source / "02.png").write_bytes(whole[: len(whole) // 2])  # truncated
    (source / "03.jpg").write_bytes(b"")  # empty
    Image.fromarray(manga_page(40, 40)).save(source / "04.png")
    proc = run_script("predict.py", [f"ckpt={tiny_ckpt}", f"input={source}", f"output={tmp_path / 'out'}"],
                      check=False)
    assert proc.returncode == 1
    assert "2 colorized" in proc.stdout and "2 failed" in proc.stdout
    assert "02.png" in proc.stdout and "03.jpg" in proc.stdout and "empty" in proc.stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["01.png", "04.png"]


def test_a_corrupt_page_in_a_chapter_keeps_its_place(colorizer, tmp_path):
    chapter = tmp_path / "ch.cbz"
    with zipfile.ZipFile(chapter, "w") as zf:
        zf.writestr("1.png", png_bytes(manga_page(40, 40)))
        zf.writestr("2.png", b"\x89PNG garbage")
        zf.writestr("3.png", png_bytes(manga_page(40, 40)))
    summary = run(colorizer, chapter, tmp_path / "out")
    assert summary.counts == {"colorized": 2, "color": 0, "existing": 0, "failed": 1}
    with zipfile.ZipFile(tmp_path / "out" / "ch.cbz") as zf:
        assert zf.namelist() == ["1.png", "2.png", "3.png"]
        assert zf.read("2.png") == b"\x89PNG garbage"  # the original, so the chapter stays complete


def test_color_pages_are_copied_through_unless_forced(colorizer, tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    Image.fromarray(manga_page(48, 48)).save(source / "bw.png")
    Image.fromarray(color_page(48, 48)).save(source / "color.png")
    summary = run(colorizer, source, tmp_path / "out")
    assert summary.counts["colorized"] == 1 and summary.counts["color"] == 1
    assert (tmp_path / "out" / "color.png").read_bytes() == (source / "color.png").read_bytes()
    forced = run(colorizer, source, tmp_path / "forced", skip_color=False)
    assert forced.counts["colorized"] == 2


def test_rerun_skips_what_is_done_and_overwrite_redoes_it(colorizer, tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    for i in range(3):
        Image.fromarray(manga_page(40, 32, i)).save(source / f"{i}.png")
    assert run(colorizer, source, tmp_path / "out").counts["colorized"] == 3
    (tmp_path / "out" / "1.png").unlink()
    again = run(colorizer, source, tmp_path / "out")
    assert again.counts["existing"] == 2 and again.counts["colorized"] == 1
    assert run(colorizer, source, tmp_path / "out", overwrite=True).counts["colorized"] == 3


def test_an_interrupted_chapter_resumes_from_its_staged_pages(colorizer, tmp_path):
    chapter = tmp_path / "ch.cbz"
    with zipfile.ZipFile(chapter, "w") as zf:
        for i in range(3):
            zf.writestr(f"{i}.png", png_bytes(manga_page(40, 40, i)))
    staged = png_bytes(color_page(40, 40))
    staging = tmp_path / "out" / "ch.cbz.partial"
    staging.mkdir(parents=True)
    (staging / "000000").write_bytes(staged)  # page 0 was finished before the interruption
    summary = run(colorizer, chapter, tmp_path / "out")
    assert summary.counts["existing"] == 1 and summary.counts["colorized"] == 2
    with zipfile.ZipFile(tmp_path / "out" / "ch.cbz") as zf:
        assert zf.read("0.png") == staged
    assert not staging.exists()


def test_output_inside_the_input_folder_is_not_taken_as_input(colorizer, tmp_path):
    Image.fromarray(manga_page(40, 40)).save(tmp_path / "p.png")
    run(colorizer, tmp_path, tmp_path / "colored")
    again = run(colorizer, tmp_path, tmp_path / "colored")
    assert again.total == 1 and again.counts["existing"] == 1


def test_glob_input_mirrors_paths_below_the_wildcard(colorizer, tmp_path):
    for chapter in ("ch1", "ch2"):
        (tmp_path / "scans" / chapter).mkdir(parents=True)
        Image.fromarray(manga_page(40, 40)).save(tmp_path / "scans" / chapter / "p.png")
    Image.fromarray(manga_page(40, 40)).save(tmp_path / "scans" / "cover.png")
    summary = run(colorizer, f"{tmp_path}/scans/ch*/*.png", tmp_path / "out")
    assert summary.counts["colorized"] == 2
    assert sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.png")) == \
        ["ch1/p.png", "ch2/p.png"]


@pytest.mark.slow  # predict.py in a fresh interpreter
def test_reference_cyclegan_weights_load_and_run(tmp_path):
    """A state dict as the reference saves `latest_net_G_A.pth`: 3 channels in and out, no wrapper."""
    torch.manual_seed(0)
    reference = ResnetGenerator(3, 3, ngf=8, n_blocks=2)
    torch.save(OrderedDict(reference.state_dict()), tmp_path / "latest_net_G_A.pth")
    Image.fromarray(manga_page(50, 70)).save(tmp_path / "p.png")
    proc = run_script("predict.py", [f"ckpt={tmp_path / 'latest_net_G_A.pth'}", f"input={tmp_path / 'p.png'}",
                                     f"output={tmp_path / 'out'}", "mode=raw", "precision=fp32", "progress=false"])
    assert "1 colorized" in proc.stdout
    out = np.asarray(Image.open(tmp_path / "out" / "p.png"))
    x = torch.from_numpy(manga_page(50, 70)).float().div(127.5).sub(1).expand(1, 3, 50, 70)
    with torch.no_grad():
        expected = ((reference.eval()(x)[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    assert np.abs(out.astype(int) - expected).max() <= 1


@pytest.mark.slow  # predict.py in a fresh interpreter, three times
def test_command_errors_name_the_problem(tiny_ckpt, tmp_path):
    proc = run_script("predict.py", [f"ckpt={tmp_path / 'missing.ckpt'}", f"input={tmp_path}"], check=False)
    assert proc.returncode == 2 and "missing.ckpt" in proc.stderr
    proc = run_script("predict.py", [f"ckpt={tiny_ckpt}", f"input={tmp_path / 'nothing'}"], check=False)
    assert proc.returncode == 2 and "input not found" in proc.stderr
    Image.fromarray(manga_page(40, 40)).save(tmp_path / "p.png")
    (tmp_path / "a_file").write_text("")
    proc = run_script("predict.py", [f"ckpt={tiny_ckpt}", f"input={tmp_path / 'p.png'}",
                                     f"output={tmp_path / 'a_file' / 'out'}"], check=False)
    assert proc.returncode == 2 and "cannot write" in proc.stderr


def test_chapter_palette_option_fits_on_the_run_and_changes_only_chroma(colorizer, tmp_path):
    for i in range(3):
        Image.fromarray(np.clip(manga_page(48, 40, i), 20, 235)).save(tmp_path / f"{i}.png")
    plain = run(colorizer, tmp_path, tmp_path / "plain", mode="lines")
    summary = predict_pages(colorizer, str(tmp_path), tmp_path / "palette", InferenceSettings(mode="lines"),
                            OutputOptions(), progress=False, palette_pages=2)
    assert plain.counts["colorized"] == summary.counts["colorized"] == 3
    a = np.asarray(Image.open(tmp_path / "plain" / "1.png")).astype(int)
    b = np.asarray(Image.open(tmp_path / "palette" / "1.png")).astype(int)
    assert np.abs(a - b).max() > 0  # the palette moved some chroma
    in_gamut = (b > 0).all(-1) & (b < 255).all(-1)
    assert np.abs(luma(b) - np.clip(manga_page(48, 40, 1), 20, 235))[in_gamut].max() <= 1.5


OPENCV_THREADS = """
import cv2
default = cv2.getNumThreads()
import predict, manga_cyclegan.predict.run, manga_cyclegan.data.datamodule as data
imported = cv2.getNumThreads()
data.UnpairedDataModule().prepare_data()
print(default, imported, cv2.getNumThreads())
"""


def test_predicting_keeps_opencv_threads_and_only_the_training_data_hooks_pin_them():
    """Importing the predict flow (and the data flow) leaves OpenCV's thread count alone; the datamodule's first hook
    sets it to one thread, which the DataLoader workers it forks inherit. In a fresh interpreter."""
    proc = subprocess.run([sys.executable, "-c", OPENCV_THREADS], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    default, imported, pinned = map(int, proc.stdout.split()[-3:])
    assert imported == default and pinned == 1


@pytest.mark.slow  # predict.py in fresh interpreters
def test_predict_channels_last_setting_gives_the_same_pages(tiny_ckpt, tmp_path):
    (tmp_path / "in").mkdir()
    Image.fromarray(manga_page(64, 48, 3)).save(tmp_path / "in" / "p1.png")
    pages = {}
    for layout in ("true", "false"):
        out = tmp_path / f"out_{layout}"
        proc = run_script("predict.py", [f"ckpt={tiny_ckpt}", f"input={tmp_path / 'in'}", f"output={out}",
                                         f"channels_last={layout}", "mode=raw"])
        assert "1 colorized" in proc.stdout
        pages[layout] = np.asarray(Image.open(out / "p1.png")).astype(int)
    assert np.abs(pages["true"] - pages["false"]).max() <= 1
