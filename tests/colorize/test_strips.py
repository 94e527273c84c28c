"""The generator with its full-resolution layers in strips against the plain forward."""

from __future__ import annotations

import pytest
import torch

from manga_cyclegan.colorize.strips import (
    OVERLAP,
    generate_in_strips,
    generate_lean,
    split,
    strip_rows,
)
from tests.helpers import page, tiny_generator


@pytest.mark.parametrize("norm", ["instance", "batch", "none"])
@pytest.mark.parametrize("size", [(203, 157), (256, 64), (97, 301)])
@torch.inference_mode()
def test_strips_give_the_plain_forward(norm, size):
    g, x = tiny_generator(norm, n_blocks=2), page(size=size)
    y = generate_in_strips(g, x, strip_pixels=64 * size[1])  # 64-row strips: several per page
    assert y.shape == (1, 3, *size) and y.dtype == torch.float32
    torch.testing.assert_close(y, g(x), atol=1e-4, rtol=0)


@pytest.mark.parametrize("norm", ["instance", "batch", "none"])
@pytest.mark.parametrize("upsample", ["transpose", "resize"])
@torch.inference_mode()
def test_the_lean_whole_page_forward_is_the_plain_forward(norm, upsample):
    g = tiny_generator(norm, n_blocks=2)
    g = type(g)(1, 3, ngf=8, n_blocks=2, norm=norm, upsample=upsample).eval() if upsample != "transpose" else g
    x = page(size=(203, 157))
    torch.testing.assert_close(generate_lean(g, x), g(x), atol=1e-5, rtol=0)


@torch.inference_mode()
def test_resize_upsampling_and_rgb_input_split_too():
    g = tiny_generator("instance", in_channels=3)
    g = type(g)(3, 3, ngf=8, n_blocks=1, upsample="resize").eval()
    x = page(3, size=(150, 90))
    torch.testing.assert_close(generate_in_strips(g, x, strip_pixels=64 * 90), g(x), atol=1e-4, rtol=0)


@torch.inference_mode()
def test_a_batch_keeps_each_page_its_own_statistics():
    g, x = tiny_generator("instance"), torch.cat([page(seed=1), page(seed=2) * 0.5])
    torch.testing.assert_close(generate_in_strips(g, x, strip_pixels=64 * 157), g(x), atol=1e-4, rtol=0)


@torch.inference_mode()
def test_strips_without_their_shared_statistics_would_differ():
    """The check above can fail: strips that normalize each on their own give another image."""
    from manga_cyclegan.colorize.tiling import generate_tiled

    g, x = tiny_generator("instance"), page()
    stem, middle, head = split(g)
    naive = generate_tiled(stem, x[..., :200, :156], (64, 156), OVERLAP, scale=0.5, multiple=2, stats={})
    exact = generate_tiled(stem, x[..., :200, :156], (64, 156), OVERLAP, scale=0.5, multiple=2)
    assert (naive - exact).abs().max() > 1e-2
    torch.testing.assert_close(exact, stem(x[..., :200, :156]), atol=1e-4, rtol=0)


def test_strip_rows_follow_the_pixel_budget():
    assert strip_rows(1024, 1 << 18) == 256
    assert strip_rows(1000, 1 << 18) % 4 == 0
    assert strip_rows(10_000, 1 << 18) == 4 * OVERLAP  # never thinner than the overlaps need


def test_a_generator_of_another_layout_is_refused():
    g = tiny_generator("instance")
    g.model = g.model[1:]
    with pytest.raises(ValueError, match="stride-2"):
        split(g)


@torch.inference_mode()
def test_run_generator_picks_plain_strips_or_tiles_by_size_with_one_output(monkeypatch):
    import manga_cyclegan.colorize.colorizer as inference

    taken = []
    for name in ("generate_lean", "generate_in_strips", "generate_tiled"):
        real = getattr(inference, name)
        monkeypatch.setattr(inference, name, lambda *a, _real=real, _name=name, **k: taken.append(_name) or _real(*a, **k))
    g, x = tiny_generator("instance"), page()  # 203 x 157 = 31871 pixels
    plain = g(x)
    for tile_pixels, strip_pixels, path in [(None, 40_000, "generate_lean"), (None, 20_000, "generate_in_strips"),
                                            (20_000, 10_000, "generate_tiled")]:
        taken.clear()
        y = inference.run_generator(g, x, tile_pixels, strip_pixels)
        assert taken[:1] == [path]
        torch.testing.assert_close(y.float(), plain, atol=1e-4, rtol=0)


def test_auto_tiles_only_pages_whose_strips_would_not_fit_in_half_the_free_memory(monkeypatch):
    import manga_cyclegan.colorize.colorizer as inference

    g, cpu = tiny_generator("instance"), torch.device("cpu")  # ngf 8: an eighth of the full-size bytes per pixel
    monkeypatch.setattr(inference, "free_memory", lambda device: 8 * 2**30)
    expected = 4 * 2**30 / (inference.STRIP_BYTES_PER_PIXEL * 8 / 64)
    assert inference.resolve_tile_pixels("auto", g, cpu) == int(expected)
    monkeypatch.setattr(inference, "free_memory", lambda device: 2**20)  # never below the strips threshold
    assert inference.resolve_tile_pixels("auto", g, cpu) == inference.STRIP_PIXELS
    assert inference.resolve_tile_pixels(None, g, cpu) is None and inference.resolve_tile_pixels(123, g, cpu) == 123
    with pytest.raises(ValueError, match="tile_pixels"):
        inference.resolve_tile_pixels("big", g, cpu)


def test_the_free_memory_of_this_machine_is_read():
    import psutil

    import manga_cyclegan.colorize.colorizer as inference

    free = inference.free_memory(torch.device("cpu"))
    assert isinstance(free, int) and 2**20 < free <= psutil.virtual_memory().total


@pytest.mark.parametrize("downs", [1, 3])
@torch.inference_mode()
def test_strips_tiles_and_lean_follow_the_generators_own_size_multiple(downs):
    from manga_cyclegan.colorize.colorizer import run_generator
    from manga_cyclegan.nets import ResnetGenerator

    g = ResnetGenerator(1, 3, ngf=4, n_blocks=1, n_downsampling=downs).eval()
    x = page(size=(203, 157))
    torch.testing.assert_close(generate_lean(g, x), g(x), atol=1e-5, rtol=0)
    torch.testing.assert_close(generate_in_strips(g, x, strip_pixels=64 * 157), g(x), atol=1e-4, rtol=0)
    big = page(size=(403, 301))  # tiles of 200 px keep 50 px of context: more than the 1/8 stage's reach
    torch.testing.assert_close(run_generator(g, big, tile_pixels=200 * 200), g(big), atol=1e-4, rtol=0)
