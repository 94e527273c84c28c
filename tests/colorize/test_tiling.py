"""Tiled generation against the untiled forward, on tiny generators and odd page sizes."""

from __future__ import annotations

import pytest
import torch

from manga_cyclegan.colorize.norm_stats import (
    fixed_statistics,
    image_norms,
    record_statistics,
)
from manga_cyclegan.colorize.tiling import TileAxis, generate_tiled, tiled_statistics
from manga_cyclegan.nets.padding import pad_to_multiple
from tests.helpers import (  # PAGE: odd on both sides, so every tiling edge case happens
    PAGE,
    page,
    tiny_generator,
)

# n_blocks=1: receptive field radius 23 px; tile 128 with overlap 64 leaves >= 30 px of context on inner sides.
TILE, OVERLAP = 128, 64


@pytest.mark.parametrize("norm", ["none", "batch"])
@torch.inference_mode()
def test_convolution_only_generator_tiles_exactly(norm):
    g, x = tiny_generator(norm), page()
    assert image_norms(g) == []  # nothing to measure: tiles are the plain generator on crops
    y = generate_tiled(g, x, TILE, OVERLAP)
    assert y.shape == (1, 3, *PAGE) and y.dtype == torch.float32
    torch.testing.assert_close(y, g(x), atol=1e-5, rtol=0)
    assert (y - g(x)).abs().mean() < 1e-6


@torch.inference_mode()
def test_too_small_a_halo_shows():
    """The check above can fail: with 8 px of context the receptive field is cut and the output differs."""
    g, x = tiny_generator("none"), page()
    assert (generate_tiled(g, x, 64, 16) - g(x)).abs().max() > 1e-3


@pytest.mark.parametrize("in_channels", [1, 3])
@torch.inference_mode()
def test_instance_norm_with_the_untiled_statistics_tiles_exactly(in_channels):
    g, x = tiny_generator("instance", in_channels), page(in_channels)
    stats = record_statistics(g, pad_to_multiple(x))  # the test-only oracle: statistics of the untiled forward
    assert len(stats) == len(image_norms(g)) == 7
    torch.testing.assert_close(generate_tiled(g, x, TILE, OVERLAP, stats=stats), g(x), atol=1e-5, rtol=0)


@torch.inference_mode()
def test_exact_statistics_are_the_untiled_ones():
    g, x = tiny_generator("instance"), page()
    oracle = record_statistics(g, pad_to_multiple(x))
    measured = tiled_statistics(g, x, TILE, OVERLAP)
    for m in image_norms(g):
        torch.testing.assert_close(measured[m][0], oracle[m][0], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(measured[m][1], oracle[m][1], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(generate_tiled(g, x, TILE, OVERLAP), g(x), atol=1e-4, rtol=0)


@torch.inference_mode()
def test_tiles_normalizing_on_their_own_differ():
    g, x = tiny_generator("instance"), page()
    exact = generate_tiled(g, x, TILE, OVERLAP)
    naive = generate_tiled(g, x, TILE, OVERLAP, stats={})  # no statistics given: each tile uses its own
    assert (naive - exact).abs().max() > 1e-2


@torch.inference_mode()
def test_a_batch_of_pages_keeps_each_page_its_own_statistics():
    g, x = tiny_generator("instance"), torch.cat([page(seed=1), page(seed=2) * 0.5])
    torch.testing.assert_close(generate_tiled(g, x, TILE, OVERLAP), g(x), atol=1e-4, rtol=0)


@pytest.mark.parametrize("size", [PAGE, (64, 64), (65, 300), (9, 130), (5, 9)])
@torch.inference_mode()
def test_any_page_size_comes_back_at_its_size(size):
    g, x = tiny_generator("instance"), page(size=size)
    assert generate_tiled(g, x, 64, 16).shape == (1, 3, *size)


@torch.inference_mode()
def test_the_generator_is_restored_even_after_an_error():
    g, x = tiny_generator("instance"), page(size=(64, 48))
    before = g(x)
    generate_tiled(g, page(), 64, 16)
    stats = record_statistics(g, x)
    with pytest.raises(RuntimeError, match="boom"), fixed_statistics(g, stats):
        raise RuntimeError("boom")
    assert all("forward" not in m.__dict__ for m in g.modules())
    assert torch.equal(g(x), before)


def test_bf16_autocast_runs_and_stays_close():
    g, x = tiny_generator("instance"), page()
    with torch.inference_mode():
        reference = generate_tiled(g, x, TILE, OVERLAP)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = generate_tiled(g, x, TILE, OVERLAP)
    assert y.dtype == torch.float32 and y.shape == reference.shape and torch.isfinite(y).all()
    assert (y - reference).abs().mean() < 0.05


def test_no_autograd_graph_keeps_the_tiles_alive():
    g, x = tiny_generator("instance"), page().requires_grad_()
    assert not generate_tiled(g, x, TILE, OVERLAP).requires_grad


def test_batch_norm_in_training_mode_is_refused():
    g = tiny_generator("batch").train()
    with pytest.raises(ValueError, match="eval mode"):
        generate_tiled(g, page(), 64, 16)


@pytest.mark.parametrize("length", [8, 100, 204, 512, 1456])
@pytest.mark.parametrize("tile, overlap", [(64, 16), (64, 32), (96, 40), (128, 0)])
def test_tiles_cover_the_page_on_the_4_pixel_grid(length, tile, overlap):
    axis = TileAxis.split(length, tile, overlap)
    assert all(s % 4 == 0 for s in axis.starts + axis.bounds)
    assert axis.starts[0] == 0 and axis.starts[-1] + axis.size == length
    assert all(b - a >= overlap for a, b in zip(axis.starts[1:], [s + axis.size for s in axis.starts[:-1]]))
    assert axis.bounds[0] == 0 and axis.bounds[-1] == length and list(axis.bounds) == sorted(set(axis.bounds))
    for i, start in enumerate(axis.starts):  # every core lies inside its tile, with context on inner sides
        assert start <= axis.bounds[i] < axis.bounds[i + 1] <= start + axis.size
        if i > 0:
            assert axis.bounds[i] - start >= overlap // 2 - 2
        if i + 1 < len(axis.starts):
            assert start + axis.size - axis.bounds[i + 1] >= overlap // 2 - 2
