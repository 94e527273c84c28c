"""Hand-made cases with known answers for the metrics of manga_cyclegan.evaluate (metrics, ink, regions, scoring,
report)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from manga_cyclegan import color as C
from manga_cyclegan.evaluate import ink as I
from manga_cyclegan.evaluate import metrics as M
from manga_cyclegan.evaluate import regions as R
from manga_cyclegan.evaluate import report, scoring

RED, GREEN, BLUE, YELLOW = (220, 40, 40), (40, 180, 60), (40, 60, 220), (230, 210, 40)
PART_IDS = [7, 8, 9, 10]
PALETTE = {"7": list(RED), "8": list(GREEN), "9": list(BLUE), "10": list(YELLOW)}


# ------------------------------------------------------------------- per-page fidelity


def test_psnr_identical_capped_and_known_value():
    x = np.random.default_rng(1).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    assert M.psnr(x, x) == M.PSNR_MAX_DB == 100.0
    assert M.psnr(x, x, max_db=None) == math.inf
    y = np.full((10, 10, 3), 100, np.uint8)
    z = np.full((10, 10, 3), 105, np.uint8)
    assert M.psnr(y, z) == pytest.approx(10 * math.log10(255**2 / 25), abs=1e-9)


def test_ssim_known_answers():
    from skimage.metrics import structural_similarity

    # Two flat pages: no variance, so SSIM is the luminance term alone, (2 mx my + C1) / (mx^2 + my^2 + C1).
    c1 = (0.01 * 255) ** 2
    a, b = np.full((32, 40), 100, np.uint8), np.full((32, 40), 140, np.uint8)
    assert M.ssim(a, b) == pytest.approx((2 * 100 * 140 + c1) / (100**2 + 140**2 + c1), rel=1e-6)
    assert M.ssim(a, a) == pytest.approx(1.0, abs=1e-6)
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    noisy = [np.clip(x.astype(int) + rng.integers(-s, s + 1, x.shape), 0, 255).astype(np.uint8) for s in (10, 40, 90)]
    scores = [M.ssim(x, y) for y in noisy]
    assert scores[0] > scores[1] > scores[2]
    # RGB is the mean of its channels' SSIM; a gray page replicated to RGB scores as the gray page.
    gray, gray_noisy = x[..., 0], noisy[1][..., 0]
    rgb = lambda g: np.repeat(g[..., None], 3, axis=-1)  # noqa: E731
    assert M.ssim(rgb(gray), rgb(gray_noisy)) == pytest.approx(M.ssim(gray, gray_noisy), abs=1e-6)
    # scikit-image's implementation (which leaves the 5 px border out) agrees up to that border.
    reference = structural_similarity(gray, gray_noisy, data_range=255, gaussian_weights=True, sigma=1.5,
                                      use_sample_covariance=False)
    assert M.ssim(gray, gray_noisy) == pytest.approx(reference, abs=0.03)


def test_mean_ciede2000():
    a = np.zeros((4, 4, 3), np.uint8)
    a[:] = RED
    assert M.mean_ciede2000(a, a) == 0.0
    b = a.copy()
    b[:2] = GREEN  # half the pixels differ
    d = float(C.ciede2000(C.rgb_to_lab(np.array(RED, np.uint8)), C.rgb_to_lab(np.array(GREEN, np.uint8))))
    assert M.mean_ciede2000(b, a) == pytest.approx(d / 2, rel=1e-9)


def _lined_page(size=40):
    """A white page with one black 2 px line across it, and that line's mask."""
    page = np.full((size, size, 3), 255, np.uint8)
    page[20:22, :] = 0
    return page, I.ink_of(page)


def test_ink_of_is_the_dark_pixels():
    page = np.full((4, 4, 3), 255, np.uint8)
    page[0, 0] = 0
    page[1, 1] = (37, 95, 39)  # the synthetic set's darkest color (shaded green hair, luma 72) is not ink
    page[2, 2] = (60, 60, 60)
    assert I.ink_of(page).sum() == 2 and I.ink_of(page)[0, 0] and I.ink_of(page)[2, 2]


def test_ink_fidelity_known_answers():
    page, ink = _lined_page()
    assert I.ink_fidelity([page], [ink]) == 1.0
    # The line shifted by one pixel is within the tolerance, by two it is not.
    assert I.ink_fidelity([np.roll(page, 1, axis=0)], [ink]) == 1.0
    shifted = I.ink_fidelity([np.roll(page, 1, axis=0)], [ink], tolerance=0)
    assert shifted == pytest.approx(0.5)  # half the line's pixels still overlap
    assert I.ink_fidelity([np.roll(page, 3, axis=0)], [ink]) == 0.0
    # Losing half the line: precision 1, recall 21/40 (column 20 lies within a pixel of column 19).
    half = page.copy()
    half[:, 20:] = 255
    assert I.ink_fidelity([half], [ink]) == pytest.approx(2 * 0.525 / 1.525)
    # Screentone dots invented far from the line: 80 line pixels, 80 dots -> precision 0.5, recall 1, F1 2/3.
    dotted = page.copy()
    dotted[2:18:2, 0:40:4] = 0
    assert I.ink_of(dotted).sum() == 160
    assert I.ink_fidelity([dotted], [ink]) == pytest.approx(2 / 3)
    # Counts pool over pages: a perfect page and an empty output page.
    blank = np.full_like(page, 255)
    assert I.ink_fidelity([page, blank], [ink, ink]) == pytest.approx(2 / 3)
    assert math.isnan(I.ink_fidelity([blank], [np.zeros((40, 40), bool)]))
    with pytest.raises(ValueError):
        I.ink_fidelity([page], [np.zeros((10, 10), bool)])


def test_colorfulness():
    gray = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)
    assert M.colorfulness(gray) == pytest.approx(0.0, abs=1e-12)
    rg = np.zeros((2, 2, 3), np.uint8)
    rg[0] = (255, 0, 0)
    rg[1] = (0, 255, 0)
    # rg: ±255 → σ=255, μ=0; yb: 127.5 everywhere → σ=0, μ=127.5
    assert M.colorfulness(rg) == pytest.approx(255.0 + 0.3 * 127.5)
    sat = np.zeros((8, 8, 3), np.uint8)
    sat[:, :4] = (255, 0, 0)
    sat[:, 4:] = (0, 0, 255)
    assert M.colorfulness(sat) > M.colorfulness(gray) + 50


def test_ab_histogram_distance():
    rng = np.random.default_rng(4)
    pages = [rng.integers(0, 256, (30, 40, 3), dtype=np.uint8) for _ in range(2)]
    assert M.ab_histogram_distance(pages, pages) == pytest.approx(0.0, abs=1e-12)
    # same distribution, different page order/split -> still 0
    assert M.ab_histogram_distance(pages[::-1], pages) == pytest.approx(0.0, abs=1e-12)
    red = [np.full((20, 20, 3), (255, 0, 0), np.uint8)]
    green = [np.full((10, 30, 3), (0, 200, 0), np.uint8)]
    assert M.ab_histogram_distance(red, green) == pytest.approx(1.0, abs=1e-9)  # disjoint -> max
    half = [np.concatenate([red[0], np.full((20, 20, 3), (0, 200, 0), np.uint8)], axis=1)]
    d = M.ab_histogram_distance(half, red)
    assert 0.2 < d < 0.9
    assert d == pytest.approx(M.ab_histogram_distance(red, half), abs=1e-12)  # symmetric
    h = M.ab_histogram(pages, bins=16)
    assert h.shape == (16, 16) and h.sum() == pytest.approx(1.0)


# ------------------------------------------------------------------- character regions


def _label_map():
    """40x60 label map: class 7 twice (two separate blocks), 8, 9, 10 once, one tiny 7."""
    lbl = np.ones((40, 60), np.uint8)  # paper
    lbl[2:12, 2:12] = 7  # region A (100 px)
    lbl[2:12, 20:30] = 8  # region B
    lbl[20:30, 2:12] = 9  # region C
    lbl[20:30, 20:30] = 10  # region D
    lbl[20:30, 40:50] = 7  # region E: 2nd component of class 7
    lbl[35:38, 55:58] = 7  # tiny region (9 px < 16)
    lbl[:, 15] = 0  # an ink line (not a character part)
    return lbl


def _paint(lbl, colors: dict[int, tuple], regions=None):
    out = np.full(lbl.shape + (3,), 255, np.uint8)
    out[lbl == 0] = 0
    for cid, col in colors.items():
        out[lbl == cid] = col
    if regions:
        for (ys, xs), col in regions:
            out[ys, xs] = col
    return out


def _own_colors():
    return {7: RED, 8: GREEN, 9: BLUE, 10: YELLOW}


def accuracy(preds, labels, palette=PALETTE, part_ids=PART_IDS, min_region_px=16, shade_factor=None):
    """Character color accuracy as evaluate_paired measures it: regions first, then the palette match."""
    stats = R.region_mean_colors(preds, labels, part_ids, min_region_px)
    return R.character_accuracy(stats, palette, part_ids, shade_factor)


def spread(preds, labels, part_ids=PART_IDS):
    return R.consistency_of(R.region_mean_colors(preds, labels, part_ids))


def test_character_color_accuracy_own_palette_is_one():
    lbl = _label_map()
    pred = _paint(lbl, _own_colors())
    assert accuracy([pred], [lbl]) == 1.0
    stats = R.region_mean_colors([pred], [lbl], PART_IDS)
    assert sorted(stats["class_id"].tolist()) == [7, 7, 8, 9, 10]  # tiny region ignored; class 7 has two regions


def test_character_color_accuracy_swapped_is_zero():
    lbl = _label_map()
    pred = _paint(lbl, {7: GREEN, 8: RED, 9: YELLOW, 10: BLUE})
    assert accuracy([pred], [lbl]) == 0.0


def test_character_color_accuracy_half_and_tiny_ignored():
    lbl = _label_map()
    # page 1: 7 and 8 right, 9 and 10 wrong; region E of class 7 wrong -> 2/5 right
    p1 = _paint(lbl, {7: RED, 8: GREEN, 9: YELLOW, 10: BLUE}, [((slice(20, 30), slice(40, 50)), GREEN)])
    # page 2: everything right except region A -> 4/5 right; tiny region painted wrong (ignored)
    p2 = _paint(
        lbl,
        _own_colors(),
        [((slice(2, 12), slice(2, 12)), BLUE), ((slice(35, 38), slice(55, 58)), BLUE)],
    )
    acc = accuracy([p1, p2], [lbl, lbl])
    assert acc == pytest.approx(6 / 10)
    # exactly half: 3/5 right on p3, 2/5 right on p4
    p3 = _paint(lbl, {7: RED, 8: GREEN, 9: YELLOW, 10: BLUE})  # A, E, B right; C, D wrong
    p4 = _paint(lbl, {7: GREEN, 8: RED, 9: BLUE, 10: YELLOW})  # 7A, 7E, 8 wrong; 9, 10 right
    assert accuracy([p3, p4], [lbl, lbl]) == pytest.approx(0.5)
    # the tiny region counts once the threshold allows it
    assert len(R.region_mean_colors([p2], [lbl], PART_IDS, min_region_px=4)["class_id"]) == 6
    assert accuracy([p2], [lbl], min_region_px=4) == pytest.approx(4 / 6)


def test_character_color_accuracy_robust_to_cel_shading():
    lbl = _label_map()
    pred = _paint(lbl, _own_colors())
    shade = lbl.copy()
    shade[:, :6] = 0  # darken the left part of regions by 20 %
    m = (shade != lbl) & (lbl >= 7)
    pred[m] = (pred[m] * 0.8).astype(np.uint8)
    assert accuracy([pred], [lbl]) == 1.0


def test_character_color_accuracy_no_regions_is_nan():
    lbl = np.ones((10, 10), np.uint8)
    pred = np.zeros((10, 10, 3), np.uint8)
    assert math.isnan(accuracy([pred], [lbl]))


def test_character_color_accuracy_shade_factor():
    # a fully shadowed peach region (75 % brightness) is nearer the flat tan of another class
    peach, tan = (247, 207, 176), (220, 171, 125)
    shaded = tuple((np.array(peach) * 3 + 2) // 4)  # (185, 155, 132)
    lbl = np.ones((20, 40), np.uint8)
    lbl[2:18, 2:18] = 7
    lbl[2:18, 22:38] = 8
    pred = np.full((20, 40, 3), 255, np.uint8)
    pred[lbl == 7] = shaded
    pred[lbl == 8] = tan
    pal = {7: peach, 8: tan}
    assert accuracy([pred], [lbl], pal, [7, 8]) == pytest.approx(0.5)
    assert accuracy([pred], [lbl], pal, [7, 8], shade_factor=0.75) == 1.0
    meta = {"character_parts": [7, 8], "palette": {"7": list(peach), "8": list(tan)}}
    bw = np.asarray(C.luma_float(pred).round(), np.uint8)
    assert scoring.evaluate_paired([pred], [pred], [bw], [lbl], meta)["char_color_acc"] == pytest.approx(0.5)
    meta["shade_factor"] = 0.75
    assert scoring.evaluate_paired([pred], [pred], [bw], [lbl], meta)["char_color_acc"] == 1.0


def test_consistency_zero_when_all_regions_same_color():
    lbl = _label_map()
    pages = [_paint(lbl, _own_colors()), _paint(lbl, _own_colors())]
    assert spread(pages, [lbl, lbl]) == pytest.approx(0.0, abs=1e-9)
    # a constant wrong color is also perfectly consistent (by definition)
    wrong = [_paint(lbl, {7: BLUE, 8: BLUE, 9: BLUE, 10: BLUE})] * 2
    assert spread(wrong, [lbl, lbl]) == pytest.approx(0.0, abs=1e-9)


def _delta_l_only(L1, L2):
    """ΔE00 for two neutral colors (a = b = 0): |ΔL| / S_L (Sharma eq. for S_L)."""
    Lb = (L1 + L2) / 2
    SL = 1 + 0.015 * (Lb - 50) ** 2 / math.sqrt(20 + (Lb - 50) ** 2)
    return abs(L2 - L1) / SL


def test_consistency_known_spread():
    lbl = _label_map()
    g1, g2 = 60, 180
    # class 7: region A gray g1 on page 1, region E gray g2; everything else constant.
    page = _paint(
        lbl,
        _own_colors(),
        [((slice(2, 12), slice(2, 12)), (g1,) * 3), ((slice(20, 30), slice(40, 50)), (g2,) * 3)],
    )
    L1 = C.rgb_to_lab(np.array([g1] * 3, np.uint8))[0]
    L2 = C.rgb_to_lab(np.array([g2] * 3, np.uint8))[0]
    Lm = (L1 + L2) / 2
    expected = (_delta_l_only(L1, Lm) + _delta_l_only(L2, Lm)) / 2
    # only class 7 has >= 2 regions, so the result is its spread
    got = spread([page], [lbl])
    assert got == pytest.approx(expected, abs=1e-4)
    # two pages: class 7 spread unchanged (4 regions: g1,g2,g1,g2), classes 8-10 now have 2 identical regions -> 0
    got2 = spread([page, page], [lbl, lbl])
    assert got2 == pytest.approx(expected / 4, abs=1e-4)
    # a single region per class -> nan
    one = np.ones_like(lbl)
    one[2:12, 2:12] = 7
    assert math.isnan(spread([page], [one]))


# ------------------------------------------------------------------- aggregation


def _meta():
    return {
        "classes": ["ink", "paper", "balloon", "sky", "sea", "ground", "interior"] + [f"c{i}" for i in range(4)],
        "character_parts": PART_IDS,
        "palette": PALETTE,
    }


def test_evaluate_paired_perfect_prediction():
    lbl = _label_map()
    truths = [_paint(lbl, _own_colors()) for _ in range(2)]
    bws = [np.asarray(C.luma_float(t).round(), np.uint8) for t in truths]
    res = scoring.evaluate_paired([t.copy() for t in truths], truths, bws, [lbl, lbl], _meta())
    assert set(res) == {"psnr", "ssim", "ciede2000", "char_color_acc", "consistency", "ink_f1", "colorfulness"}
    assert res["psnr"] == 100.0
    assert res["ssim"] == pytest.approx(1.0, abs=1e-6)
    assert res["ciede2000"] == 0.0
    assert res["char_color_acc"] == 1.0
    assert res["consistency"] == pytest.approx(0.0, abs=1e-9)
    assert res["ink_f1"] == 1.0
    assert res["colorfulness"] == pytest.approx(M.colorfulness(truths[0]))
    # a gray copy is worse on color metrics; these pages have no dark tone, so its ink is the truth's
    gray = [np.repeat(b[..., None], 3, axis=-1) for b in bws]
    res_g = scoring.evaluate_paired(gray, truths, bws, np.stack([lbl, lbl]), _meta())
    assert res_g["psnr"] < 30 and res_g["ciede2000"] > 5
    assert res_g["char_color_acc"] < 1.0
    assert res_g["ink_f1"] == 1.0
    assert res_g["colorfulness"] == pytest.approx(0.0, abs=1e-9)


def test_evaluate_unpaired_and_table():
    lbl = _label_map()
    refs = [_paint(lbl, _own_colors())]
    bws = [np.asarray(C.luma_float(refs[0]).round(), np.uint8)]
    u = scoring.evaluate_unpaired(refs, refs)
    assert set(u) == {"colorfulness", "ab_hist_dist"} and u["ab_hist_dist"] == pytest.approx(0.0, abs=1e-12)
    u2 = scoring.evaluate_unpaired([np.repeat(bws[0][..., None], 3, -1)], refs, input_inks=[bws[0] < C.INK_LUMA])
    assert set(u2) == {"colorfulness", "ab_hist_dist", "ink_f1"} and u2["ab_hist_dist"] > 0.2
    table = report.format_table({"model": {"psnr": 25.123, "ciede2000": 5.5, **u}, "gray copy": {"psnr": 12.0, **u2}})
    lines = table.splitlines()
    assert "psnr ↑" in lines[0] and "ciede2000 ↓" in lines[0] and "ab_hist_dist ↓" in lines[0]
    assert lines[2].startswith("model") and lines[3].startswith("gray copy")
    assert len({len(x) for x in lines[:4]}) == 1  # aligned
    assert "25.12" in lines[2] and "-" in lines[2].split()[-1]  # model has no ink_f1 -> "-"


def test_float_inputs_and_errors():
    x = np.random.default_rng(5).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    assert M.psnr(x / 255.0, x) == 100.0
    with pytest.raises(ValueError):
        M.psnr(x.astype(np.float32), x)  # 0..255 floats are ambiguous -> refuse
    with pytest.raises(ValueError):
        scoring.evaluate_paired([x], [x, x], [x[..., 0]], [x[..., 0]], _meta())


def test_evaluate_paired_on_a_full_size_test_set():
    """24 pages of 256x320, the synthetic test set's size: every metric comes out finite."""
    rng = np.random.default_rng(6)
    n, h, w = 24, 256, 320
    preds = rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8)
    truths = rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8)
    bws = rng.integers(0, 256, (n, h, w), dtype=np.uint8)
    labels = np.ones((n, h, w), np.uint8)
    for i in range(n):
        for k, cid in enumerate(range(7, 19)):
            y, x = 10 + (k // 4) * 80, 10 + (k % 4) * 75
            labels[i, y : y + 50, x : x + 50] = cid
    palette = {str(c): [20 * (c - 6), 255 - 15 * (c - 6), 9 * c] for c in range(7, 19)}
    meta = {"character_parts": list(range(7, 19)), "palette": palette}
    res = scoring.evaluate_paired(preds, truths, bws, labels, meta)
    assert all(np.isfinite(v) for v in res.values())


def test_environment_accuracy_scores_the_settings_regions_among_the_settings_colors():
    classes = ["ink", "paper", "balloon", "sky", "sea", "ground", "interior", "char0_hair"]
    palette = {"3": [150, 200, 240], "4": [30, 90, 160], "5": [140, 110, 70], "6": [220, 200, 170],
               "7": [200, 40, 40]}
    meta = {"classes": classes, "character_parts": [7], "palette": palette}
    labels = np.full((64, 64), 3, np.uint8)
    labels[32:, :32], labels[32:, 32:], labels[:16, :16] = 4, 5, 7
    truth = np.zeros((64, 64, 3), np.uint8)
    for cid, rgb in palette.items():
        truth[labels == int(cid)] = rgb
    bw = np.full((64, 64), 200, np.uint8)
    assert scoring.evaluate_paired([truth], [truth], [bw], [labels], meta)["env_color_acc"] == 1.0
    ground_as_sky = truth.copy()
    ground_as_sky[labels == 5] = palette["3"]  # the ground painted as sky: one of three settings wrong
    score = scoring.evaluate_paired([ground_as_sky], [truth], [bw], [labels], meta)["env_color_acc"]
    assert score == pytest.approx(2 / 3)
    assert "env_color_acc" not in scoring.evaluate_paired([truth], [truth], [bw], [labels], {**meta, "classes": []})
