"""The hints engine on hand-made pages with known answers: the clicked region takes the color with its cel shading,
the same part on another page follows, a different part of the same tone does not (no spill), scopes hold."""

import numpy as np

from manga_cyclegan.colorize import hints
from manga_cyclegan.colorize.hints import Click

ORANGE = (240, 138, 36)


def panel_page(shadow: bool = False) -> np.ndarray:
    """A 60x120 page: a circle (left) and a square (right) drawn in ink on paper, both filled with the same gray
    (the same tone: only what the model sees tells them apart); with `shadow`, the circle's right half darker."""
    page = np.full((60, 120), 255, np.uint8)
    yy, xx = np.mgrid[:60, :120]
    radius = np.hypot(yy - 30, xx - 30)
    page[radius < 20] = 200
    if shadow:
        page[(radius < 20) & (xx > 34)] = 150
    page[np.abs(radius - 20) < 1.5] = 0
    page[10:50, 70:110] = 200
    page[10:50, 70:72] = page[10:50, 108:110] = page[10:12, 70:110] = page[48:50, 70:110] = 0
    return page


def seen_page(page: np.ndarray) -> hints.SeenPage:
    """The page seen through made-up features: circle regions (1, 0, 0), square regions (0, 1, 0), the rest
    (0, 0, 1), as a generator that knows them apart would describe them."""
    seen = hints.see(page, np.full((15, 30, 3), 128, np.uint8))
    labels = seen.regions
    features = np.tile([0.0, 0.0, 1.0], (len(seen.sizes), 1)).astype(np.float32)
    features[labels[30, 30]] = (1, 0, 0)
    features[labels[30, 90]] = (0, 1, 0)
    seen.features["bottleneck"] = features
    return seen


def test_a_click_colors_its_region_and_travels_to_the_same_part_only():
    first, second = seen_page(panel_page()), seen_page(panel_page())
    anchor = hints.anchor(Click("p1", 30, 30, ORANGE), first, "bottleneck")
    for name, page in (("p1", first), ("p2", second)):
        taken = hints.assign(page, name, [anchor], "bottleneck")
        out = hints.paint(page, hints.colors_of(taken))
        assert tuple(out[30, 30]) == ORANGE  # the circle, here and on the other page
        assert tuple(out[30, 90]) == (128, 128, 128)  # the square, of the same tone: untouched
        assert tuple(out[2, 2]) == (128, 128, 128)  # the paper: untouched
        assert tuple(out[30, 10]) == (0, 0, 0)  # ink stays black
        assert set(taken) == {page.regions[30, 30]}


def test_scopes_keep_a_click_on_its_page_or_its_region():
    first, second = seen_page(panel_page()), seen_page(panel_page())
    for scope, reaches_other_page in (("chapter", True), ("page", False), ("region", False)):
        a = hints.anchor(Click("p1", 30, 30, ORANGE, scope), first, "bottleneck")
        expected = {second.regions[30, 30]} if reaches_other_page else set()
        assert set(hints.assign(second, "p2", [a], "bottleneck")) == expected
        assert set(hints.assign(first, "p1", [a], "bottleneck")) == {first.regions[30, 30]}


def test_the_cel_shading_under_a_hint_is_kept():
    seen = seen_page(panel_page(shadow=True))
    out = hints.paint(seen, {int(seen.regions[30, 30]): ORANGE})
    lit, shade = out[30, 22], out[30, 42]
    assert tuple(lit) == ORANGE
    ratio = shade.astype(float) / np.array(ORANGE)
    assert np.allclose(ratio, 150 / 200, atol=0.03)  # the shadow's tone against the lit tone


def test_a_click_on_ink_goes_to_the_nearest_region():
    seen = seen_page(panel_page())
    assert seen.regions[30, 70] == 0  # the square's outline
    a = hints.anchor(Click("p1", 70, 30, ORANGE), seen, "bottleneck")
    assert a.moved and a.region in (seen.regions[30, 73], seen.regions[30, 67])


def test_region_means_average_a_coarse_grid_over_page_regions():
    labels = np.zeros((8, 8), np.int64)
    labels[:4, :4], labels[4:, :] = 1, 2
    grid = np.arange(4, dtype=np.float32).reshape(1, 2, 2)  # one channel, 2x2 cells of 4x4 page pixels
    means = hints.region_means(grid, labels, 3)
    assert means[1, 0] == 0 and means[2, 0] == 2.5
    assert means[0, 0] == 0  # ink (0) is left out


def test_a_region_the_model_sees_alike_but_colored_otherwise_is_not_reached():
    """Circle and square described alike (as a confused model might): the square follows the circle's click only
    where the model also colored the two alike (within COLOR_GATE)."""
    for square_color, reached in (((200, 60, 50), True), ((40, 90, 200), False)):
        colors = np.full((15, 30, 3), 128, np.uint8)
        colors[3:12, 3:12] = (200, 60, 50)  # the circle, at the working size (a quarter of the page)
        colors[3:12, 18:27] = square_color
        seen = hints.see(panel_page(), colors)
        seen.features["bottleneck"] = np.tile([0.0, 0.0, 1.0], (len(seen.sizes), 1)).astype(np.float32)
        seen.features["bottleneck"][[seen.regions[30, 30], seen.regions[30, 90]]] = (1, 0, 0)
        anchor = hints.anchor(Click("p1", 30, 30, ORANGE), seen, "bottleneck")
        taken = hints.assign(seen, "p2", [anchor], "bottleneck")  # as seen from another page: matching only
        assert seen.regions[30, 30] in taken
        assert (seen.regions[30, 90] in taken) is reached


def test_pages_are_seen_with_the_features_their_description_reads_only():
    import torch

    from manga_cyclegan.colorize.colorizer import Colorizer, InferenceSettings
    from manga_cyclegan.nets import ResnetGenerator

    torch.manual_seed(0)
    colorizer = Colorizer(ResnetGenerator(1, 3, ngf=4, n_blocks=1).eval(), None)
    page = panel_page()
    (default,) = hints.see_pages(colorizer, [page], InferenceSettings())
    (both,) = hints.see_pages(colorizer, [page], InferenceSettings(), ("bottleneck", "decoder"))
    assert set(default.features) == set(hints.TAPPED[hints.DESCRIPTOR]) == {"bottleneck"}
    assert set(both.features) == {"bottleneck", "decoder"}
    np.testing.assert_array_equal(default.features["bottleneck"], both.features["bottleneck"])
    assert hints.describe(default, "decoder") is None and hints.describe(both, "decoder") is not None
