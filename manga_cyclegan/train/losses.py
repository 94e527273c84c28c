"""CycleGAN losses as small pure functions, named as in the paper (Zhu et al. 2017, section 3)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from manga_cyclegan.config.groups import GAN_MODES


def gan_loss(logits: torch.Tensor, target_is_real: bool, mode: str = "lsgan") -> torch.Tensor:
    """Adversarial loss of discriminator outputs against an all-real or all-fake target.

    lsgan (the paper's choice, Mao et al. 2017): mean (D(x) - t)^2 with t in {0, 1}.
    vanilla: binary cross-entropy on logits (the original GAN objective).
    Computed in fp32 so mixed precision cannot underflow the squared error.
    """
    logits = logits.float()
    target = torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)
    if mode == "lsgan":
        return F.mse_loss(logits, target)
    if mode == "vanilla":
        return F.binary_cross_entropy_with_logits(logits, target)
    raise ValueError(f"unknown gan mode {mode!r}: choose one of {', '.join(GAN_MODES)}")


def cycle_loss(reconstructed: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """||F(G(x)) - x||_1: a page translated and translated back must come home."""
    return F.l1_loss(reconstructed.float(), real.float())


def identity_loss(mapped: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """||G(y) - y||_1: a generator fed a page that is already of its target domain should leave it alone."""
    return F.l1_loss(mapped.float(), real.float())


def discriminator_loss(real_logits, fake_logits, mode: str = "lsgan") -> torch.Tensor:
    """(L_GAN(real -> 1) + L_GAN(fake -> 0)) / 2; halved as in the paper to slow D relative to G."""
    return 0.5 * (gan_loss(real_logits, True, mode) + gan_loss(fake_logits, False, mode))
