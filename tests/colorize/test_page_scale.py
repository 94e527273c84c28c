"""The scale a page is drawn at, read from its ink strokes, and working_size=auto's use of it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from manga_cyclegan.colorize.colorizer import content_least_scale, working_shape
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
    assert content_least_scale(np.full((100, 100), 255, np.uint8), 2.0) is None
    assert content_least_scale(drawn_page(1), None) is None


def test_the_learned_width_is_the_training_pages_width_at_the_training_scale():
    page = drawn_page(2)
    assert learned_stroke_width([page], 160) == pytest.approx(stroke_width(page) / 2)
    assert learned_stroke_width([page], None) == pytest.approx(stroke_width(page))


def test_auto_never_shrinks_below_the_scale_of_the_learned_strokes():
    # Trained on pages like drawn_page(1) shrunk to short side 80: strokes half as wide as drawn.
    learned = learned_stroke_width([drawn_page(1)], 80)
    big = drawn_page(1, size=640)  # a bigger page, drawn at the same scale
    least = content_least_scale(big, learned)
    assert least == pytest.approx(0.5, rel=0.1)
    assert working_shape(640, 640, 80, "auto") == (80, 80)  # the size rule alone: an eighth
    assert working_shape(640, 640, 80, "auto", least)[0] == pytest.approx(320, abs=32)
    assert working_shape(640, 640, 80, 100, least) == (100, 100)  # an explicit size wins
