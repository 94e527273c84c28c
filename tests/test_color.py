"""Known answers for the color foundations (manga_cyclegan.color): Lab, CIEDE2000, luma, local tone, chroma."""

from __future__ import annotations

import numpy as np
import pytest

from manga_cyclegan import color as C

# Sharma, Wu & Dalal (2005), Table 1: (L1, a1, b1), (L2, a2, b2), ΔE00 (4 decimals).
SHARMA = [
    ((50.0000, 2.6772, -79.7751), (50.0000, 0.0000, -82.7485), 2.0425),
    ((50.0000, 3.1571, -77.2803), (50.0000, 0.0000, -82.7485), 2.8615),
    ((50.0000, 2.8361, -74.0200), (50.0000, 0.0000, -82.7485), 3.4412),
    ((50.0000, -1.3802, -84.2814), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, -1.1848, -84.8006), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, -0.9009, -85.5211), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, 0.0000, 0.0000), (50.0000, -1.0000, 2.0000), 2.3669),
    ((50.0000, -1.0000, 2.0000), (50.0000, 0.0000, 0.0000), 2.3669),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0009), 7.1792),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0010), 7.1792),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0011), 7.2195),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0012), 7.2195),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0009, -2.4900), 4.8045),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0010, -2.4900), 4.8045),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0011, -2.4900), 4.7461),
    ((50.0000, 2.5000, 0.0000), (50.0000, 0.0000, -2.5000), 4.3065),
    ((50.0000, 2.5000, 0.0000), (73.0000, 25.0000, -18.0000), 27.1492),
    ((50.0000, 2.5000, 0.0000), (61.0000, -5.0000, 29.0000), 22.8977),
    ((50.0000, 2.5000, 0.0000), (56.0000, -27.0000, -3.0000), 31.9030),
    ((50.0000, 2.5000, 0.0000), (58.0000, 24.0000, 15.0000), 19.4535),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.1736, 0.5854), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.2972, 0.0000), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 1.8634, 0.5757), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.2592, 0.3350), 1.0000),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((63.0109, -31.0961, -5.8663), (62.8187, -29.7946, -4.0864), 1.2630),
    ((61.2901, 3.7196, -5.3901), (61.4292, 2.2480, -4.9620), 1.8731),
    ((35.0831, -44.1164, 3.7933), (35.0232, -40.0716, 1.5901), 1.8645),
    ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
    ((36.4612, 47.8580, 18.3852), (36.2715, 50.5065, 21.2231), 1.4146),
    ((90.8027, -2.0831, 1.4410), (91.1528, -1.6435, 0.0447), 1.4441),
    ((90.9257, -0.5406, -0.9208), (88.6381, -0.8985, -0.7239), 1.5381),
    ((6.7747, -0.2908, -2.4247), (5.8714, -0.0985, -2.2286), 0.6377),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


def test_rgb_to_lab_reference_colors():
    lab = C.rgb_to_lab(np.array([[255, 255, 255], [0, 0, 0], [255, 0, 0]], np.uint8))
    np.testing.assert_allclose(lab[0], [100.0, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(lab[1], [0.0, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(lab[2], [53.24, 80.09, 67.20], atol=0.01)
    # float input in [0, 1] gives the same result; any leading shape works
    lab_f = C.rgb_to_lab(np.array([[[1.0, 0.0, 0.0]]]))
    assert lab_f.shape == (1, 1, 3)
    np.testing.assert_allclose(lab_f[0, 0], lab[2], atol=1e-9)
    # mid gray is neutral (a = b = 0) with L* ≈ 53.585 for sRGB 128
    g = C.rgb_to_lab(np.array([128, 128, 128], np.uint8))
    np.testing.assert_allclose(g, [53.585, 0.0, 0.0], atol=0.001)


def test_lab_roundtrip_uint8():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (1000, 3), dtype=np.uint8)
    back = C.lab_to_rgb(C.rgb_to_lab(rgb), as_uint8=True)
    np.testing.assert_array_equal(back, rgb)


@pytest.mark.parametrize("lab1,lab2,expected", SHARMA)
def test_ciede2000_sharma_pairs(lab1, lab2, expected):
    assert round(float(C.ciede2000(np.array(lab1), np.array(lab2))), 4) == pytest.approx(expected, abs=1e-9)


def test_ciede2000_vectorized_and_symmetric():
    a = np.array([r[0] for r in SHARMA])
    b = np.array([r[1] for r in SHARMA])
    e = np.array([r[2] for r in SHARMA])
    d = C.ciede2000(a, b)
    assert d.shape == (len(SHARMA),)
    np.testing.assert_allclose(d, e, atol=5e-5)
    np.testing.assert_allclose(C.ciede2000(b, a), e, atol=5e-5)
    # broadcasting (N,1,3) x (1,K,3) -> (N,K); identical colors -> 0
    dd = C.ciede2000(a[:, None, :], a[None, :, :])
    assert dd.shape == (len(SHARMA), len(SHARMA))
    np.testing.assert_allclose(np.diag(dd), 0.0, atol=1e-12)


def test_every_gray_is_neutral_in_lab():
    grays = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    lab = C.rgb_to_lab(grays)
    assert np.abs(lab[:, 1:]).max() < 1e-12
    assert np.all(np.diff(lab[:, 0]) > 0)


def test_luma_is_the_one_rec601_gray():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)
    from PIL import Image

    np.testing.assert_array_equal(C.luma(rgb), np.asarray(Image.fromarray(rgb).convert("L")))
    assert np.abs(C.luma_float(rgb) - C.luma(rgb)).max() <= 0.5 + 1e-3


def test_checked_page_is_the_one_page_form():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert C.checked_page(gray[..., None], 1).shape == (3, 4)  # HxWx1 is squeezed
    rgb = C.checked_page(gray, 3, convert=True)  # a gray page becomes RGB only when converting
    assert rgb.shape == (3, 4, 3) and (rgb[..., 1] == gray).all()
    assert (C.checked_page(gray / 255.0, 1, convert=True) == gray).all()  # floats in [0, 1] scaled
    for page, channels, convert in [(gray, 3, False), (gray.astype(np.float32), 1, False),
                                    (np.zeros((3, 4, 4), np.uint8), 3, True), (rgb, 1, False)]:
        with pytest.raises(ValueError, match="domain B: expected a uint8"):
            C.checked_page(page, channels, "domain B", convert=convert)
    with pytest.raises(ValueError, match=r"must be in \[0, 1\]"):
        C.checked_page(gray.astype(np.float32), 1, convert=True)  # 0..255 floats are ambiguous


def test_lightness_is_the_l_of_lab():
    from manga_cyclegan.color import lightness, rgb_to_lab

    rgb = np.random.default_rng(0).integers(0, 256, (5000, 3), dtype=np.uint8)
    np.testing.assert_allclose(lightness(rgb), rgb_to_lab(rgb)[:, 0], atol=1e-9)
