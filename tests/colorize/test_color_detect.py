"""Colour-page detector (manga_cyclegan.colorize.color_detect)."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from manga_cyclegan.colorize.color_detect import chroma_stats, is_color_page


def manga_page(h: int = 480, w: int = 340, seed: int = 0) -> np.ndarray:
    """Synthetic B/W page (RGB with equal channels): paper, frame, screentone, gradient, ink."""
    rng = np.random.default_rng(seed)
    g = np.full((h, w), 245, np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    dots = (yy % 6 < 3) & (xx % 6 < 3)
    g[40:200, 20:160][dots[40:200, 20:160]] = 30  # screentone
    g[220:400, 180:320] = np.linspace(20, 235, 140).astype(np.uint8)[None, :]  # gradient tone
    for _ in range(40):  # ink strokes
        p1 = tuple(int(v) for v in rng.integers(0, [w, h]))
        p2 = tuple(int(v) for v in rng.integers(0, [w, h]))
        cv2.line(g, p1, p2, int(rng.integers(0, 60)), int(rng.integers(1, 4)))
    cv2.rectangle(g, (10, 10), (w - 10, h - 10), 0, 3)
    return np.repeat(g[:, :, None], 3, axis=2)


def sepia(rgb: np.ndarray) -> np.ndarray:
    m = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]])
    return np.clip(rgb.astype(np.float32) @ m.T, 0, 255).astype(np.uint8)


def yellowed(rgb: np.ndarray) -> np.ndarray:
    return np.clip(rgb.astype(np.float32) * [1.0, 0.95, 0.78], 0, 255).astype(np.uint8)


def jpeg_noisy(rgb: np.ndarray, quality: int = 60, seed: int = 1) -> np.ndarray:
    """Scanner colour noise + JPEG + blocky chroma noise."""
    rng = np.random.default_rng(seed)
    noisy = np.clip(rgb + rng.normal(0, 4, rgb.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noisy).save(buf, "JPEG", quality=quality)
    out = np.asarray(Image.open(buf).convert("RGB")).astype(np.float32)
    h, w = out.shape[:2]
    blocks = np.kron(rng.normal(0, 3, (h // 8 + 1, w // 8 + 1, 3)), np.ones((8, 8, 1)))[:h, :w]
    return np.clip(out + blocks + rng.normal(0, 3, out.shape), 0, 255).astype(np.uint8)


def with_panel(rgb: np.ndarray, color, frac: float = 0.2) -> np.ndarray:
    out = rgb.copy()
    h = out.shape[0]
    out[h - int(h * frac):] = color
    return out


def shaded_color_panel(rgb: np.ndarray, frac: float = 0.2) -> np.ndarray:
    """Colour panel that keeps the page's shading (like a real coloured illustration)."""
    out = rgb.astype(np.float32)
    h = out.shape[0]
    g = out[h - int(h * frac):, :, :1] / 255.0
    out[h - int(h * frac):] = g * np.array([250, 200, 170]) * 0.5 + g * np.array([90, 140, 230]) * 0.5
    return out.astype(np.uint8)


PAGE = manga_page()


@pytest.mark.parametrize("name,page", [
    ("gray", PAGE),
    ("sepia", sepia(PAGE)),
    ("yellowed", yellowed(PAGE)),
    ("jpeg_noise", jpeg_noisy(PAGE)),
    ("sepia_jpeg", jpeg_noisy(sepia(PAGE), quality=50)),
])
def test_bw_pages_are_not_color(name, page):
    stats = chroma_stats(page)
    assert stats["colored_fraction"] < 0.03, (name, stats)
    assert not is_color_page(page)


def test_tint_is_measured_but_discounted():
    stats = chroma_stats(yellowed(PAGE))
    assert stats["mean_chroma"] > 10  # the page is visibly yellow...
    assert stats["paper_b"] > 10  # ...the detector sees the yellow paper...
    assert stats["mean_residual_chroma"] < 3  # ...and discounts it


@pytest.mark.parametrize("name,page", [
    ("red", with_panel(PAGE, (200, 40, 40))),
    ("blue", with_panel(PAGE, (80, 120, 220))),
    ("skin", with_panel(PAGE, (245, 205, 180))),
    ("shaded", shaded_color_panel(PAGE)),
    ("red_on_sepia", with_panel(sepia(PAGE), (200, 40, 40))),
    ("red_jpeg", jpeg_noisy(with_panel(PAGE, (200, 40, 40)))),
])
def test_color_panel_of_20_percent_is_color(name, page):
    stats = chroma_stats(page)
    assert stats["colored_fraction"] > 0.12, (name, stats)
    assert is_color_page(page)


def test_threshold_and_gray_input():
    page = with_panel(PAGE, (200, 40, 40), frac=0.1)
    assert is_color_page(page, threshold=0.05)
    assert not is_color_page(page, threshold=0.2)
    assert not is_color_page(PAGE[:, :, 0])  # an HxW array is grey by definition


def test_large_page_is_downsampled_and_float_input_accepted():
    big = cv2.resize(with_panel(PAGE, (80, 120, 220)), (1700, 2400), interpolation=cv2.INTER_NEAREST)
    stats = chroma_stats(big)
    assert 0.15 < stats["colored_fraction"] < 0.3
    assert is_color_page(big.astype(np.float32) / 255.0)
    assert set(stats) >= {"colored_fraction", "mean_chroma"}
    assert all(isinstance(v, float) for v in stats.values())
