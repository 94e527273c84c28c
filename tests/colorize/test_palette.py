"""The chapter palette: shapes, less color spread across pages, only chroma touched, deterministic."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from manga_cyclegan.color import luma_float, transfer_chroma
from manga_cyclegan.colorize.palette import MODES, ChapterPalette

RED, BLUE = (172.0, 108.0), (104.0, 168.0)  # (Cr, Cb) of the two colors every page carries


def page(jitter: tuple[float, float], seed: int, size: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """(color, bw) of one page: gray paper, a red square whose chroma is off by `jitter`, a blue square; the
    B/W is a luma ramp, so most of it lies inside the RGB cube whatever the chroma put on it."""
    rng = np.random.default_rng(seed)
    ycrcb = np.full((size, size, 3), 128.0)
    ycrcb[..., 0] = 150
    ycrcb[4:24, 4:24, 1:] = np.add(RED, jitter)
    ycrcb[28:44, 8:40, 1:] = BLUE
    ycrcb[..., 1:] += rng.normal(0, 2.0, (size, size, 2))
    color = cv2.cvtColor(np.clip(np.rint(ycrcb), 0, 255).astype(np.uint8), cv2.COLOR_YCrCb2RGB)
    bw = np.tile(np.linspace(70, 190, size), (size, 1)).astype(np.uint8)
    return color, bw


def red_chroma(color: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(color, cv2.COLOR_RGB2YCrCb)[4:24, 4:24, 1:].reshape(-1, 2).astype(float).mean(0)


@pytest.fixture(scope="module")
def chapter():
    # The red square's hue swings one way on the first page and the other way on the second.
    return [page((8.0, 10.0), 0), page((-8.0, -10.0), 1)]


@pytest.mark.parametrize("mode", MODES)
def test_apply_keeps_shape_and_dtype(chapter, mode):
    colors, _ = zip(*chapter)
    palette = ChapterPalette.fit(colors, k=3, mode=mode)
    for color in colors:
        out = palette.apply(color)
        assert out.shape == color.shape and out.dtype == np.uint8


@pytest.mark.parametrize("mode, strength", [("hue", 1.0), ("pull", 0.5), ("pull", 1.0)])
def test_palette_brings_the_same_region_closer_across_pages(chapter, mode, strength):
    colors, _ = zip(*chapter)
    palette = ChapterPalette.fit(colors, k=3, mode=mode, strength=strength)
    before = np.linalg.norm(red_chroma(colors[0]) - red_chroma(colors[1]))
    after = np.linalg.norm(red_chroma(palette.apply(colors[0])) - red_chroma(palette.apply(colors[1])))
    assert before > 20
    assert after < 0.6 * before
    # The blue square, one color on both pages, stays blue.
    blue = cv2.cvtColor(palette.apply(colors[0]), cv2.COLOR_RGB2YCrCb)[28:44, 8:40, 1:].reshape(-1, 2).mean(0)
    assert np.linalg.norm(blue - BLUE) < 6


def test_hue_mode_keeps_each_pixels_saturation(chapter):
    colors, _ = zip(*chapter)
    palette = ChapterPalette.fit(colors, k=3, mode="hue")
    before = cv2.cvtColor(colors[0], cv2.COLOR_RGB2YCrCb)[..., 1:].astype(float) - 128
    after = cv2.cvtColor(palette.apply(colors[0]), cv2.COLOR_RGB2YCrCb)[..., 1:].astype(float) - 128
    assert np.abs(np.hypot(*after.transpose(2, 0, 1)) - np.hypot(*before.transpose(2, 0, 1))).max() <= 2.5


@pytest.mark.parametrize("mode", MODES)
def test_lines_output_keeps_the_page_luma_where_in_gamut(chapter, mode):
    colors, bws = zip(*chapter)
    palette = ChapterPalette.fit(colors, k=3, mode=mode)
    out = transfer_chroma(bws[0], palette.apply(colors[0]))
    in_gamut = ((out > 0) & (out < 255)).all(-1)
    assert in_gamut.mean() > 0.9
    assert np.abs(luma_float(out) - bws[0].astype(np.float32))[in_gamut].max() <= 1.0


def test_fit_and_apply_are_deterministic(chapter):
    colors, _ = zip(*chapter)
    first = ChapterPalette.fit(colors, k=3)
    second = ChapterPalette.fit(colors, k=3)
    np.testing.assert_array_equal(first.centers, second.centers)
    np.testing.assert_array_equal(first.apply(colors[1]), second.apply(colors[1]))


def test_a_gray_chapter_gives_one_gray_center_and_leaves_pages_gray():
    gray = np.full((16, 16, 3), 120, np.uint8)
    palette = ChapterPalette.fit([gray, gray], k=4)
    np.testing.assert_allclose(palette.centers, [[128.0, 128.0]])
    np.testing.assert_array_equal(palette.apply(gray), gray)


def test_unknown_modes_are_refused(chapter):
    colors, _ = zip(*chapter)
    with pytest.raises(ValueError, match="unknown mode"):
        ChapterPalette.fit(colors, mode="posterize")
    with pytest.raises(ValueError, match="unknown mode"):
        replace(ChapterPalette.fit(colors, k=3), mode="posterize")
