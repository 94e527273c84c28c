"""Screened pseudo-pairs: a dot screen that keeps the gray, at the pitch asked, drawn from the seed and the step."""

from __future__ import annotations

import pytest
import torch

from manga_cyclegan.color import descreen, to_gray
from manga_cyclegan.train.screening import RandomScreen, dot_screen


@pytest.mark.parametrize("gray", [-0.8, -0.2, 0.3, 0.85])
@pytest.mark.parametrize("pitch, angle", [(2.5, 45.0), (6.0, 15.0)])
def test_a_screened_page_keeps_its_gray_on_average(gray, pitch, angle):
    screened = dot_screen(torch.full((1, 1, 120, 120), gray), pitch, angle, (0.4, 2.0))
    assert abs(float(screened.mean()) - gray) < 0.01
    assert float(screened.std()) > 0.2  # dots, not the flat gray


def test_the_screen_repeats_at_its_pitch():
    pitch = 6.0
    screened = dot_screen(torch.zeros(1, 1, 96, 96), pitch, 0.0)[0, 0]
    spectrum = torch.fft.rfft2(screened - screened.mean()).abs()
    fy, fx = divmod(int(spectrum.argmax()), spectrum.shape[1])
    assert (fy, fx) in {(0, 96 // pitch), (96 // pitch, 0), (96 - 96 // pitch, 0)}


def test_a_coarse_screen_survives_the_descreen_a_fine_one_does_not():
    gray = torch.zeros(1, 1, 96, 96)
    fine, coarse = (descreen(dot_screen(gray, pitch, 45.0), 1.5) for pitch in (2.5, 6.0))
    assert float(fine.std()) < 0.05 < 0.1 < float(coarse.std())


def test_ink_lines_stay_solid_with_their_edges():
    gray = torch.full((1, 1, 48, 48), 0.2)
    gray[..., 20:22, :] = -1.0  # a 2 px ink line
    gray[..., 22, :] = 0.0  # its anti-aliased edge
    screened = dot_screen(gray, 6.0, 45.0)
    torch.testing.assert_close(screened[..., 19:23, :], gray[..., 19:23, :])  # the line and a pixel either side
    assert float(screened[..., :17, :].std()) > 0.2  # the tone around it is screened


def test_random_screens_come_from_the_seed_and_the_step():
    gray = torch.rand(1, 1, 40, 40) * 2 - 1
    screen = RandomScreen(1.0, (2.0, 6.0), seed=3)
    assert torch.equal(screen(gray, step=10), screen(gray, step=10))
    assert not torch.equal(screen(gray, step=10), screen(gray, step=12))
    assert not torch.equal(screen(gray, step=10), RandomScreen(1.0, (2.0, 6.0), seed=4)(gray, step=10))
    assert RandomScreen(0.0, (2.0, 6.0), seed=3)(gray, step=10) is gray
    half = RandomScreen(0.5, (2.0, 6.0), seed=3)
    screened = sum(not torch.equal(half(gray, step), gray) for step in range(200))
    assert 70 < screened < 130


@pytest.mark.parametrize("probability, pitch", [(1.5, (2.0, 6.0)), (0.5, (0.0, 6.0)), (0.5, (6.0, 2.0)), (0.5, (3.0,))])
def test_bad_screen_settings_are_refused(probability, pitch):
    with pytest.raises(ValueError):
        RandomScreen(probability, pitch, seed=0)


def test_the_module_screens_its_pseudo_pairs_only():
    from manga_cyclegan.train.module import CycleGAN

    model = CycleGAN(ngf=4, ndf=4, n_blocks=1, n_layers_d=2, lambda_identity=0.5, pseudo_pair_screen=1.0)
    real_A, real_B = torch.rand(1, 1, 32, 32) * 2 - 1, torch.rand(1, 3, 32, 32) * 2 - 1
    seen = []
    model.G_AB.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    model.generator_losses(real_A, real_B)
    screened = model.screen(to_gray(real_B), step=0)
    assert any(torch.equal(x, screened) for x in seen)  # the pseudo-pair, screened
    assert any(torch.equal(x, real_A) for x in seen)  # the B/W page as it is
    assert not any(torch.allclose(x, to_gray(real_B)) for x in seen)


def test_a_screened_pseudo_pair_can_join_the_gray_one():
    from manga_cyclegan.train.module import CycleGAN

    model = CycleGAN(ngf=4, ndf=4, n_blocks=1, n_layers_d=2, lambda_identity=0.5, pseudo_pair_screen=1.0,
                     screen_adds_pair=True)
    real_B = torch.rand(1, 3, 32, 32) * 2 - 1
    pages, colors = model.pseudo_pairs(real_B)
    torch.testing.assert_close(pages, torch.cat([to_gray(real_B), model.screen(to_gray(real_B), step=0)]))
    torch.testing.assert_close(colors, torch.cat([real_B, real_B]))
