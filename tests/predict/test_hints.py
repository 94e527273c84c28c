"""predict with hints (hints=, hints_out=): checked before any page is colored, a click sets its region and reaches
the same thing on another page, chapters' members are named chapter.cbz/page.png, one generator pass per page."""

import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from manga_cyclegan.colorize.colorizer import InferenceSettings
from manga_cyclegan.colorize.hints import Click
from manga_cyclegan.colorize.hints_file import HintsError
from manga_cyclegan.predict.run import predict_pages
from manga_cyclegan.predict.sinks import OutputOptions
from tests.colorize.test_hints import ORANGE, panel_page
from tests.helpers import png_bytes


def run(colorizer, source, output, clicks, hints_out=None, mode="flat"):
    return predict_pages(colorizer, str(source), output, InferenceSettings(mode=mode), OutputOptions(),
                         progress=False, clicks=clicks, hints_out=hints_out)


def test_a_click_sets_its_region_and_reaches_the_same_region_on_another_page(colorizer, tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    for name in ("p0.png", "p1.png"):
        Image.fromarray(panel_page()).save(source / name)
    calls = []
    handle = colorizer.generator.model[0].register_forward_pre_hook(lambda *_: calls.append(1))
    try:
        summary = run(colorizer, source, tmp_path / "out", [Click("p0.png", 30, 30, ORANGE)], tmp_path / "h.json")
    finally:
        handle.remove()
    assert summary.counts["colorized"] == 2
    assert len(calls) == 2  # the hinted page is colorized once, not again in the main pass
    for name in ("p0.png", "p1.png"):  # the same page seen twice: the same features, so the hint travels
        out = np.asarray(Image.open(tmp_path / "out" / name))
        assert tuple(out[30, 30]) == ORANGE and tuple(out[30, 10]) == (0, 0, 0)
    written = json.loads((tmp_path / "h.json").read_text())
    assert written["pages"] == {"p0.png": [{"x": 30, "y": 30, "color": "#f08a24"}]}
    assert written["parts"][0]["pages"] == ["p0.png", "p1.png"] and written["parts"][0]["regions"] >= 2


def test_chapter_members_are_named_after_the_chapter(colorizer, tmp_path):
    chapter = tmp_path / "ch01.cbz"
    with zipfile.ZipFile(chapter, "w") as zf:
        zf.writestr("001.png", png_bytes(panel_page()))
        zf.writestr("003.png", png_bytes(panel_page(shadow=True)))
    run(colorizer, chapter, tmp_path / "out", [Click("ch01.cbz/003.png", 30, 30, ORANGE, "region")])
    with zipfile.ZipFile(tmp_path / "out" / "ch01.cbz") as zf:
        first = np.asarray(Image.open(zf.open("001.png")))
        third = np.asarray(Image.open(zf.open("003.png")))
    assert tuple(third[30, 22]) == ORANGE  # the lit side of the clicked circle
    assert tuple(first[30, 22]) != ORANGE  # scope "region": the other page keeps its colors


@pytest.mark.parametrize("click, message", [
    (Click("003.png", 1, 1, ORANGE), "page '003.png' is not in the input.*ch01.cbz/003.png"),
    (Click("ch01.cbz/003.png", 120, 1, ORANGE), r"\(120, 1\) is outside page 'ch01.cbz/003.png', 120x60 pixels"),
])
def test_bad_hints_stop_the_run_before_any_page_is_colored(colorizer, tmp_path, click, message):
    chapter = tmp_path / "ch01.cbz"
    with zipfile.ZipFile(chapter, "w") as zf:
        zf.writestr("003.png", png_bytes(panel_page()))
    with pytest.raises(HintsError, match=message):
        run(colorizer, chapter, tmp_path / "out", [click])
    assert not (tmp_path / "out").exists()


def test_hints_need_the_flat_output(colorizer, tmp_path):
    Image.fromarray(panel_page()).save(tmp_path / "p.png")
    with pytest.raises(HintsError, match="use mode=flat"):
        run(colorizer, tmp_path / "p.png", tmp_path / "out", [Click("p.png", 30, 30, ORANGE)], mode="lines")


def test_a_reference_page_gives_its_colors_to_the_regions_the_model_sees_as_its_own(colorizer, tmp_path):
    """The reference is the page itself in color (its gray is the B/W page: the model sees the same thing), so
    each region takes the reference's color there: the circle peach, the square blue, the paper white."""
    bw = panel_page()
    reference = np.repeat(bw[..., None], 3, axis=-1)
    yy, xx = np.mgrid[:60, :120]
    reference[(np.hypot(yy - 30, xx - 30) < 18)] = (240, 190, 150)  # gray 200, as the B/W page's circle
    reference[12:48, 72:108] = (150, 215, 250)  # gray 200, as the square
    Image.fromarray(bw).save(tmp_path / "p.png")
    predict_pages(colorizer, str(tmp_path / "p.png"), tmp_path / "out", InferenceSettings(), OutputOptions(),
                  progress=False, references={"ref.png": reference})
    out = np.asarray(Image.open(tmp_path / "out" / "p.png"))
    assert tuple(out[30, 30]) == (240, 190, 150) and tuple(out[30, 90]) == (150, 215, 250)
    assert tuple(out[2, 2]) == (255, 255, 255)
