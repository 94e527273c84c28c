"""The palette term: k-means palette of the color pages, Zhang et al.'s rebalancing, a loss that decides."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from manga_cyclegan.train.palette_term import PaletteTerm

RED, GREEN, WHITE = (220, 40, 40), (40, 200, 60), (255, 255, 255)


def pages_of(colors_and_shares, n_pages=3, size=(40, 50)):
    """Flat pages: bands of the given colors covering the given shares of each page."""
    pages = []
    for _ in range(n_pages):
        page = np.zeros((*size, 3), np.uint8)
        start = 0
        for color, share in colors_and_shares:
            rows = round(share * size[0])
            page[start:start + rows] = color
            start += rows
        pages.append(page)
    return pages


def as_tensor(rgb) -> torch.Tensor:
    return torch.tensor(rgb, dtype=torch.float32).view(1, 3, 1, 1) / 127.5 - 1


def test_palette_holds_the_pages_colors_and_weights_rare_colors_up():
    term = PaletteTerm(classes=8, temperature=0.02)
    term.fit(pages_of([(WHITE, 0.8), (RED, 0.15), (GREEN, 0.05)]), seed=0)
    found = ((term.centers[:3] + 1) * 127.5).round().int().tolist()
    assert sorted(map(tuple, found)) == sorted([WHITE, RED, GREEN])
    assert term.centers[3:].min() > 50 and term.weights[3:].eq(0).all()  # classes k-means could not fill
    weight = {tuple(c): float(w) for c, w in zip(found, term.weights[:3])}
    assert weight[GREEN] > weight[RED] > weight[WHITE]
    frequencies = np.array([0.8, 0.15, 0.05])
    expected = PaletteTerm.rebalancing_weights(frequencies)
    assert float((frequencies * expected).sum()) == pytest.approx(1.0)
    assert weight[WHITE] == pytest.approx(expected[0], rel=0.05)
    # palette_rebalance 1: no rebalancing, every filled class weighs the same.
    even = PaletteTerm(classes=8, temperature=0.02, rebalance=1.0)
    even.fit(pages_of([(WHITE, 0.8), (RED, 0.15), (GREEN, 0.05)]), seed=0)
    assert even.weights[:3].tolist() == pytest.approx([1.0, 1.0, 1.0])


def test_loss_prefers_committing_to_the_true_color_over_averaging_two():
    term = PaletteTerm(classes=4, temperature=0.02)
    term.fit(pages_of([(WHITE, 0.5), (RED, 0.25), (GREEN, 0.25)]), seed=0)
    truth = as_tensor(RED)
    right, between, wrong = as_tensor(RED), (as_tensor(RED) + as_tensor(GREEN)) / 2, as_tensor(GREEN)
    losses = [float(term(x, truth)) for x in (right, between, wrong)]
    assert losses[0] < 0.01 < losses[1] < losses[2]
    y = between.clone().requires_grad_(True)
    term(y, truth).backward()
    step = -y.grad.view(3)  # gradient descent moves the average toward red, away from green
    assert float(step @ (as_tensor(RED) - between).view(3)) > 0


def test_a_palette_must_be_fitted_and_sizes_checked():
    with pytest.raises(RuntimeError, match="fit"):
        PaletteTerm(4, 0.02)(torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2))
    with pytest.raises(ValueError, match="palette_classes"):
        PaletteTerm(1, 0.02)
    with pytest.raises(ValueError, match="color pages"):
        PaletteTerm(4, 0.02).fit([], seed=0)
    with pytest.raises(ValueError, match="palette_rebalance"):
        PaletteTerm(4, 0.02, rebalance=1.5)
