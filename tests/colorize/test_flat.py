"""The flat output: the generator's colors at the page's size, the page's own ink lines in black, no dots."""

from __future__ import annotations

import numpy as np

from manga_cyclegan.colorize.colorizer import Colorizer, colorize_pages
from manga_cyclegan.colorize.flat import flat_color, page_ink
from manga_cyclegan.nets import ResnetGenerator


def screened_page(size: int = 64) -> np.ndarray:
    """A B/W page: a 12.5 % dot screen (a 1x2 dot per 4x4 cell) with a 4 px ink line across it."""
    page = np.full((size, size), 255, np.uint8)
    page[::4, ::4] = 0
    page[1::4, ::4] = 0
    page[30:34, :] = 0
    return page


def test_the_ink_line_is_black_and_the_screen_dots_take_the_color():
    page = screened_page()
    color = np.zeros((16, 16, 3), np.uint8)
    color[...] = (200, 60, 40)  # the generator's color at a quarter of the page's size
    out = flat_color(page, color)
    assert out.shape == (64, 64, 3)
    assert (out[30:34] == 0).all()  # the line, at full resolution
    away = np.ones((64, 64), bool)
    away[26:38] = False
    assert (out[away] == (200, 60, 40)).all()  # dots and paper alike: one flat color
    ink = page_ink(page)
    assert ink[30:34, 4:-4].all() and not ink[away].any()


def test_flat_is_predicts_default_and_comes_back_at_page_size():
    generator = ResnetGenerator(1, 3, ngf=4, n_blocks=1)
    page = screened_page(48)
    out = next(colorize_pages(Colorizer(generator, short_side=24), [page]))
    assert out.shape == (48, 48, 3)
    assert (out[page_ink(page)] == 0).all()


def test_a_region_next_to_the_generators_line_keeps_its_color():
    from manga_cyclegan.colorize.flat import resize_without_ink

    color = np.full((8, 8, 3), (40, 160, 220), np.uint8)
    color[4] = 0  # the generator drew a line at working size
    out = resize_without_ink(color, (32, 32))
    assert (out[:14] == (40, 160, 220)).all() and (out[20:] == (40, 160, 220)).all()  # no dark halo beside it
    assert (out[16:18] == (40, 160, 220)).all()  # on the line itself too: the page's ink decides where ink goes
    assert (resize_without_ink(np.zeros((4, 4, 3), np.uint8), (8, 8)) == 0).all()  # all ink: plain resize


def test_each_region_enclosed_by_ink_gets_one_color():
    page = np.full((40, 40), 255, np.uint8)
    page[18:22, :] = 0  # a line cuts the page in two regions
    color = np.zeros((40, 40, 3), np.uint8)
    color[:18] = (200, 50, 50)
    color[22:] = (60, 120, 220)
    color[5, 5] = (0, 255, 0)  # speckle inside the top region
    color[30:33, 10:13] = (255, 255, 0)
    out = flat_color(page, color)
    assert (out[:18] == (200, 50, 50)).all() and (out[22:] == (60, 120, 220)).all()
    assert (out[18:22] == 0).all()
    kept = flat_color(page, color, regions=False)
    assert (kept[5, 5] == (0, 255, 0)).all()  # regions=False: per-pixel colors


def test_lettering_on_a_balloon_stays_and_light_screen_dots_go():
    page = np.full((48, 48), 255, np.uint8)
    page[10, 10:20] = 0  # a 1 px stroke of lettering on white
    page[12:17, 24] = 0
    page[30:48:6, 0:48:6] = 0  # a light screen: lone dots
    ink = page_ink(page)
    assert ink[10, 10:20].all() and ink[12:17, 24].all()
    assert not ink[30:48:6, 0:48:6].any()
    out = flat_color(page, np.full((12, 12, 3), 200, np.uint8))
    assert (out[10, 10:20] == 0).all()  # the region median does not paint the lettering over


def test_an_outline_with_a_gap_still_parts_two_regions():
    """Two areas joined by a 2 px gap in their outline: the gap closing keeps each area's own color."""
    page = np.full((40, 40), 255, np.uint8)
    page[:, 19:21] = 0  # a vertical line...
    page[24:26, 19:21] = 255  # ...with a 2 px gap
    color = np.zeros((40, 40, 3), np.uint8)
    color[:, :20] = (220, 80, 60)
    color[:, 20:] = (60, 200, 80)
    color[:, 30:] = (60, 210, 90)  # the right area is the larger one
    merged = flat_color(page, color, close_gaps=0, split_tones=False)
    assert (merged[5, 5] == merged[5, 35]).all()  # without closing: one region, one color
    out = flat_color(page, color, close_gaps=2, split_tones=False)
    assert (out[5, 5] == (220, 80, 60)).all() and (out[5, 35] != (220, 80, 60)).any()
    assert (out[24:26, 19:21] != 0).any()  # the gap's own pixels are colored, not ink


def test_a_region_the_generator_paints_in_two_colors_is_split_between_them():
    """The same leaky outline: split_colors follows the generator's two colors, not the gap."""
    page = np.full((40, 40), 255, np.uint8)
    page[:, 19:21] = 0
    page[24:26, 19:21] = 255
    color = np.zeros((40, 40, 3), np.uint8)
    color[:, :20] = (220, 80, 60)
    color[:, 20:] = (60, 200, 80)
    merged = flat_color(page, color)
    assert (merged[5, 5] == merged[5, 35]).all()
    out = flat_color(page, color, split_colors=True)
    assert (out[5, 5] == (220, 80, 60)).all() and (out[5, 35] == (60, 200, 80)).all()
    # Colors that only jitter stay one region, with one median.
    jitter = np.clip(color[:, :1] + np.random.default_rng(0).integers(-6, 7, (40, 40, 3)), 0, 255).astype(np.uint8)
    flat = flat_color(page, jitter, split_colors=True)
    assert len(np.unique(flat[~(page == 0)].reshape(-1, 3), axis=0)) == 1


def test_paper_white_is_never_filled_dark_and_is_not_tinted_by_a_screen_beside_it():
    page = np.full((48, 48), 255, np.uint8)
    page[:, 24:][::4, ::4] = 0  # the right half screened, the left half paper, no line between them
    page[1::4, 24::4] = 0
    dark = np.full((12, 12, 3), (40, 30, 60), np.uint8)  # the generator paints everything near-black
    out = flat_color(page, dark)
    assert (out[:, :20] == 255).all()  # the paper stays paper
    tinted = np.full((12, 12, 3), (120, 140, 200), np.uint8)
    tinted[:, :6] = (250, 250, 250)  # paper where the page is paper, blue where it is screened
    split = flat_color(page, tinted, split_tones=True)
    assert (split[:, :20] == (250, 250, 250)).all()  # one region would take one median for both halves
    assert (flat_color(page, tinted, split_tones=False)[:, :20] != (250, 250, 250)).any()


def test_the_commands_default_regions_are_the_libraries():
    from manga_cyclegan.colorize.colorizer import InferenceSettings
    from manga_cyclegan.colorize.flat import CLOSE_GAPS, SPLIT_TONES
    from manga_cyclegan.config.commands import FlatRegions

    assert FlatRegions().close_gaps == InferenceSettings().close_gaps == CLOSE_GAPS
    assert FlatRegions().split_tones is InferenceSettings().split_tones is SPLIT_TONES


def test_region_medians_from_histograms_are_scipys_medians():
    """Odd and even region sizes, every channel: the histogram medians equal ndimage.median's, rounded."""
    from scipy import ndimage

    from manga_cyclegan.colorize import flat

    rng = np.random.default_rng(0)
    color = rng.integers(0, 256, (60, 70, 3), dtype=np.uint8)
    labels = (np.arange(60)[:, None] // 7 * 10 + np.arange(70)[None, :] // 9).astype(np.int32) + 1
    ink = rng.random((60, 70)) < 0.1
    out = flat.region_medians(color, ink, labels)
    kept = np.where(ink, 0, labels)
    ids = np.unique(kept[kept > 0])
    for channel in range(3):
        expected = np.rint(ndimage.median(color[..., channel], labels=kept, index=ids)).astype(np.uint8)
        area = np.bincount(kept.ravel(), minlength=kept.max() + 1)[ids]
        got = np.array([out[..., channel][kept == i][0] for i in ids])
        big = area >= flat.MIN_REGION_PX
        assert np.array_equal(got[big], expected[big])
    assert (out[ink] == color[ink]).all()
