"""Tests for manga_cyclegan.evaluate.baselines on small hand-made pages."""

from __future__ import annotations

import numpy as np
import pytest

from manga_cyclegan import color as C
from manga_cyclegan.color import ink_mask, local_tone
from manga_cyclegan.evaluate import regions as R
from manga_cyclegan.evaluate.baselines import ToneLookup, gray_copy

# 4x4 clustered-dot ordered dither: a pixel is black if ORDER < n_black.
ORDER = np.array([[12, 5, 6, 13], [4, 0, 1, 7], [11, 3, 2, 8], [15, 10, 9, 14]])
H, W = 112, 160
# Region boxes (y0, y1, x0, x1) outlined by 2-px ink lines, on white paper
# (6 px of paper between outlines; a wide paper strip on the right, x >= 134).
BOXES = [(10, 50, 10, 66), (10, 50, 76, 132), (60, 100, 10, 66), (60, 100, 76, 132)]
PAPER = (slice(8, 104), slice(146, 160))


def luma(rgb) -> float:
    r, g, b = rgb
    return 0.299 * r + 0.587 * g + 0.114 * b


# Colors whose luma is (almost exactly) a multiple of 255/16, so that the 4x4 screen
# reproduces it exactly: n_black = 4, 6, 8, 10 -> luma 191.25, 159.375, 127.5, 95.625.
COLORS = [(250, 169, 150), (90, 187, 200), (200, 94, 110), (40, 131, 60)]
N_BLACK = [4, 6, 8, 10]


def _screen(n_black: int, shape) -> np.ndarray:
    tiled = np.tile(ORDER, (shape[0] // 4 + 1, shape[1] // 4 + 1))[: shape[0], : shape[1]]
    return np.where(tiled < n_black, 0, 255).astype(np.uint8)


def _line_mask() -> np.ndarray:
    m = np.zeros((H, W), bool)
    for y0, y1, x0, x1 in BOXES:
        m[y0 - 2 : y0, x0 - 2 : x1 + 2] = True
        m[y1 : y1 + 2, x0 - 2 : x1 + 2] = True
        m[y0 - 2 : y1 + 2, x0 - 2 : x0] = True
        m[y0 - 2 : y1 + 2, x1 : x1 + 2] = True
    return m


def color_page(colors=COLORS) -> np.ndarray:
    img = np.full((H, W, 3), 255, np.uint8)
    for (y0, y1, x0, x1), c in zip(BOXES, colors):
        img[y0:y1, x0:x1] = c
    img[_line_mask()] = 0
    return img


def bw_flat_page(colors=COLORS, tone_map=lambda t: t) -> np.ndarray:
    img = np.full((H, W), 255, np.uint8)
    for (y0, y1, x0, x1), c in zip(BOXES, colors):
        img[y0:y1, x0:x1] = int(round(tone_map(luma(c))))
    img[_line_mask()] = 0
    return img


def bw_screen_page(n_blacks=N_BLACK) -> np.ndarray:
    img = np.full((H, W), 255, np.uint8)
    for (y0, y1, x0, x1), n in zip(BOXES, n_blacks):
        img[y0:y1, x0:x1] = _screen(n, (H, W))[y0:y1, x0:x1]
    img[_line_mask()] = 0
    return img


def _interior(box, margin=9):
    y0, y1, x0, x1 = box
    return slice(y0 + margin, y1 - margin), slice(x0 + margin, x1 - margin)


def _de(pixels: np.ndarray, color) -> float:
    """ΔE00 between the mean Lab of some pixels and a color."""
    lab = C.rgb_to_lab(pixels.reshape(-1, 3)).mean(axis=0)
    return float(C.ciede2000(lab, C.rgb_to_lab(np.array(color, np.uint8))))


@pytest.fixture(scope="module")
def fitted() -> ToneLookup:
    return ToneLookup().fit([color_page(), color_page()[:, ::-1].copy()], bins=64, blur=8)


# ---------------------------------------------------------------------------- gray copy


def test_gray_copy_shape_dtype():
    bw = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = gray_copy(bw)
    assert out.shape == (3, 4, 3) and out.dtype == np.uint8
    for k in range(3):
        np.testing.assert_array_equal(out[..., k], bw)
    np.testing.assert_array_equal(gray_copy(bw[..., None]), out)
    with pytest.raises(ValueError):
        gray_copy(np.zeros((3, 4, 3), np.uint8))


# ---------------------------------------------------------------------------- screens


def test_screen_fixture_tones():
    # sanity of the test fixture: blurred screen == luma of the matching color
    for c, n in zip(COLORS, N_BLACK):
        assert luma(c) == pytest.approx(255 * (16 - n) / 16, abs=0.6)
        t = local_tone(_screen(n, (64, 64)), 8)[16:-16, 16:-16]
        assert np.abs(t - 255 * (16 - n) / 16).max() < 1.0


def test_ink_mask_keeps_lines_not_dots():
    bw = bw_screen_page()
    lines = _line_mask()
    ink = ink_mask(bw)
    assert ink[lines].mean() > 0.9
    # dark screen dots away from the lines are not ink
    far = np.ones_like(lines)
    for y0, y1, x0, x1 in BOXES:
        far[y0 - 8 : y1 + 8, x0 - 8 : x1 + 8] = False
        far[y0 + 6 : y1 - 6, x0 + 6 : x1 - 6] = True
    dots = (bw < 128) & far & ~lines
    assert dots.sum() > 1000
    assert ink[dots].mean() < 0.02
    # literal mode: every dark pixel is ink
    np.testing.assert_array_equal(ink_mask(bw, sigma=0), bw < 128)


# ---------------------------------------------------------------------------- ToneLookup


def test_tone_lookup_flat_tones_give_colors(fitted):
    out = fitted.apply(bw_flat_page())
    assert out.shape == (H, W, 3) and out.dtype == np.uint8
    for box, c in zip(BOXES, COLORS):
        assert _de(out[_interior(box)], c) < 1.0, c
    # paper stays white, ink stays black
    assert _de(out[PAPER], (255, 255, 255)) < 1.0
    assert (out[_line_mask()] == 0).all()


def test_tone_lookup_on_screentone(fitted):
    bw = bw_screen_page()
    out = fitted.apply(bw)
    for box, c in zip(BOXES, COLORS):
        region = out[_interior(box)]
        assert _de(region, c) < 1.5, c
        # the dot pattern is not stamped on the colors: nearly no black pixels inside
        assert (region.max(axis=-1) < 40).mean() < 0.02
    lines = _line_mask()
    assert (out[lines].max(axis=-1) == 0).mean() > 0.9  # ink lines kept black


def test_tone_lookup_same_tone_gives_lab_mean():
    # two colors with the same luma (~127.5) but different hue, equal areas
    c1, c2 = (200, 94, 110), (60, 162, 126)
    assert abs(luma(c1) - luma(c2)) < 0.5
    colors = [COLORS[0], c1, c2, COLORS[3]]
    tl = ToneLookup().fit([color_page(colors)], bins=64, blur=8)
    out = tl.apply(bw_flat_page(colors))
    got = C.rgb_to_lab(out[_interior(BOXES[1])].reshape(-1, 3)).mean(axis=0)
    # the honest answer for that tone: the Lab mean of both colors
    want = C.rgb_to_lab(np.array([c1, c2], np.uint8)).mean(axis=0)
    assert float(C.ciede2000(got, want)) < 1.0
    # ...which is neither of the two: both regions get the same color
    np.testing.assert_allclose(out[_interior(BOXES[1])].mean((0, 1)), out[_interior(BOXES[2])].mean((0, 1)), atol=1)
    assert _de(out[_interior(BOXES[1])], c1) > 15 and _de(out[_interior(BOXES[2])], c2) > 15

    # with a label map where regions 1, 2 are two characters' hair, at most one is right
    lbl = np.ones((H, W), np.uint8)
    lbl[BOXES[1][0] : BOXES[1][1], BOXES[1][2] : BOXES[1][3]] = 7
    lbl[BOXES[2][0] : BOXES[2][1], BOXES[2][2] : BOXES[2][3]] = 10
    acc = R.character_accuracy(R.region_mean_colors([out], [lbl], [7, 10]), {7: c1, 10: c2}, [7, 10])
    assert acc <= 0.5


def test_tone_lookup_mode_picks_one_color():
    # same tone, c1 covers 3 boxes and c2 one: "mode" returns c1 exactly, "mean" a blend
    c1, c2 = (200, 94, 110), (60, 162, 126)
    colors = [c1, c1, c2, c1]
    pages = [color_page(colors)]
    bw = bw_flat_page(colors)
    mode = ToneLookup().fit(pages, statistic="mode").apply(bw)
    mean = ToneLookup().fit(pages).apply(bw)
    for box in BOXES:
        assert _de(mode[_interior(box)], c1) < 0.5
        assert _de(mean[_interior(box)], c1) > 3
    with pytest.raises(ValueError):
        ToneLookup().fit(pages, statistic="median")


def test_tone_lookup_empty_bins_fall_back_to_gray():
    page = np.full((32, 32, 3), (200, 100, 110), np.uint8)  # a single tone, no paper
    tl = ToneLookup().fit([page], bins=32, blur=8)
    assert (tl.bin_count > 0).sum() == 1
    out = tl.apply(np.full((16, 16), 250, np.uint8))
    lab = C.rgb_to_lab(out).reshape(-1, 3)
    assert np.abs(lab[:, 1:]).max() < 1.0  # neutral
    assert np.abs(out.astype(int) - 250).max() <= 3
    out2 = tl.apply(np.full((16, 16), int(round(luma((200, 100, 110)))), np.uint8))
    assert _de(out2, (200, 100, 110)) < 1.0


def test_tone_lookup_calibration_from_unpaired_bw():
    # screens whose tone is a non-linear function of luma
    def gamma(t):
        return 255.0 * (t / 255.0) ** 1.8

    colors = COLORS
    color_pages = [color_page(colors), color_page(colors)[::-1].copy()]
    bw_pages = [bw_flat_page(colors, gamma)[:, ::-1].copy()]  # unpaired (flipped), other "scan"
    bw = bw_flat_page(colors, gamma)
    plain = ToneLookup().fit(color_pages).apply(bw)
    calib = ToneLookup().fit(color_pages, bw_pages=bw_pages).apply(bw)
    err_plain = np.mean([_de(plain[_interior(b)], c) for b, c in zip(BOXES, colors)])
    err_calib = np.mean([_de(calib[_interior(b)], c) for b, c in zip(BOXES, colors)])
    assert err_calib < 1.0 and err_plain > 10.0


def test_tone_lookup_errors():
    with pytest.raises(RuntimeError):
        ToneLookup().apply(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError):
        ToneLookup().fit([])
    with pytest.raises(ValueError):
        ToneLookup().fit([np.zeros((4, 4), np.uint8)])  # B/W page is not a color page
