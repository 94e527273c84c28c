"""PatchGAN discriminator (Isola et al. 2017): each output cell judges one overlapping patch real or fake.

With n_layers=3 each cell sees a 70x70 patch: C64 (no norm) - C128 - C256 - C512 (stride 1) - 1-channel conv,
4x4 kernels, LeakyReLU 0.2. Same `model` layout as the reference `NLayerDiscriminator`.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from manga_cyclegan.nets.layers import init_weights, norm_layer, uses_bias


class PatchDiscriminator(nn.Module):
    """Maps an image in [-1, 1] to a grid of real/fake logits (one per receptive-field patch)."""

    def __init__(self, in_channels: int = 3, ndf: int = 64, n_layers: int = 3, norm: str = "instance",
                 spectral_norm: bool = False):
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        make_norm, bias = norm_layer(norm), uses_bias(norm)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride, padding=1, bias=bias),
                make_norm(ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)
        init_weights(self)
        if spectral_norm:  # Miyato et al. 2018: each conv's largest singular value held at 1
            for index, layer in enumerate(self.model):
                if isinstance(layer, nn.Conv2d):
                    self.model[index] = nn.utils.parametrizations.spectral_norm(layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
