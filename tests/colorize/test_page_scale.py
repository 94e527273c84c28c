"""The scale a page is drawn at, read from its ink strokes, and working_size=auto's use of it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from manga_cyclegan.colorize.colorizer import content_scale, working_shape
from manga_cyclegan.colorize.page_scale import learned_stroke_width, stroke_width


def drawn_page(scale: int, size: int = 160) -> np.ndarray:
    """Outlined shapes and a solid black area, all drawn `scale` times larger on a page `scale` times larger."""
    page = np.full((size * scale, size * scale), 255, np.uint8)
    cv2.ellipse(page, (50 * scale, 50 * scale), (30 * scale, 20 * scale), 0, 0, 360, 0, 2 * scale)
    cv2.rectangle(page, (90 * scale, 20 * scale), (150 * scale, 70 * scale), 0, 2 * scale)
    cv2.line(page, (10 * scale, 120 * scale), (150 * scale, 140 * scale), 0, 2 * scale)
    page[90 * scale:110 * scale, 100 * scale:140 * scale] = 0  # solid black: not a stroke
    return page


def test_thicker_strokes_measure_wider():
    # cv2 draws thickness 2 about 3 px wide, thickness 4 about 5; slanted strokes measure a little wider.
    widths = [stroke_width(drawn_page(scale)) for scale in (1, 2, 3)]
    assert 2.5 <= widths[0] <= 5
    assert widths[0] < widths[1] < widths[2] and 1.25 <= widths[1] / widths[0] <= 2.4


def test_a_page_without_lines_has_no_stroke_width():
    assert stroke_width(np.full((100, 100), 255, np.uint8)) is None
    assert content_scale(np.full((100, 100), 255, np.uint8), 2.0) is None
    assert content_scale(drawn_page(1), None) is None


def test_the_learned_width_is_the_training_pages_width_at_the_training_scale():
    page = drawn_page(2)
    assert learned_stroke_width([page], 160) == pytest.approx(stroke_width(page) / 2)
    assert learned_stroke_width([page], None) == pytest.approx(stroke_width(page))


def test_auto_brings_a_page_to_the_scale_of_the_learned_strokes():
    # Trained on pages like drawn_page(1) shrunk to short side 80: strokes half as wide as drawn.
    learned = learned_stroke_width([drawn_page(1)], 80)
    big = drawn_page(1, size=640)  # a bigger page, drawn at the same scale
    scale = content_scale(big, learned)
    assert scale == pytest.approx(0.5, rel=0.1)
    assert working_shape(640, 640, 80, "auto") == (80, 80)  # the size rule alone: an eighth
    assert working_shape(640, 640, 80, "auto", scale)[0] == pytest.approx(320, abs=32)
    assert working_shape(640, 640, 80, 100, scale) == (100, 100)  # an explicit size wins
    # A close-up: drawn twice as large, on a page the training pages' size. The size rule halves it, as it did the
    # training pages; the strokes say to shrink it further, to the scale at which the colorizer learned them.
    close_up = drawn_page(2)[:160, :160]
    scale = content_scale(close_up, learned)
    assert scale == pytest.approx(learned / stroke_width(close_up)) and scale < 0.5 / 1.25
    assert working_shape(160, 160, 80, "auto") == (80, 80)
    assert working_shape(160, 160, 80, "auto", scale)[0] == pytest.approx(160 * scale, abs=4)


def test_auto_keeps_the_size_rule_where_the_strokes_agree_with_it():
    # Stroke widths of pages drawn alike vary by about a tenth: within STROKE_TOLERANCE the size rule holds.
    assert working_shape(320, 256, 128, "auto", 0.55) == (160, 128)
    assert working_shape(320, 256, 128, "auto", 0.45) == (160, 128)
    assert working_shape(320, 256, 128, "auto", 0.25) == (80, 64)
    assert working_shape(320, 256, 128, "auto", 2.0) == (320, 256)  # never enlarged
