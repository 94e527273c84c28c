"""ResNet generator of the CycleGAN paper (Zhu et al. 2017, appendix 7.2).

    c7s1-ngf, d2ngf, d4ngf, R4ngf x n_blocks, u2ngf, ungf, c7s1-out, tanh

`ck`: 3x3 stride-2 conv (down), `Rk`: residual block of two reflection-padded 3x3 convs, `uk`: stride-1/2 up.
The layers live in one `nn.Sequential` called `model` with the same indices as the reference implementation
(junyanz/pytorch-CycleGAN-and-pix2pix `ResnetGenerator`), so its `*_net_G_A.pth` state dicts load unchanged when
`upsample="transpose"`.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from manga_cyclegan.nets.layers import init_weights, norm_layer, uses_bias
from manga_cyclegan.nets.padding import pad_to_multiple

UPSAMPLES = ("transpose", "resize")


class ResnetBlock(nn.Module):
    """x + conv(relu(norm(conv(x)))), reflection padded so page borders get no dark frame."""

    def __init__(self, dim: int, norm: str, dropout: bool):
        super().__init__()
        make_norm, bias = norm_layer(norm), uses_bias(norm)
        layers = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), make_norm(dim), nn.ReLU(True)]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), make_norm(dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


def _upsample_layer(upsample: str, in_ch: int, out_ch: int, bias: bool) -> nn.Module:
    if upsample == "transpose":
        return nn.ConvTranspose2d(in_ch, out_ch, 3, stride=2, padding=1, output_padding=1, bias=bias)
    if upsample == "resize":
        # Nearest resize then conv: no uneven kernel overlap, hence no checkerboard (Odena et al. 2016).
        return nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.ReflectionPad2d(1),
            nn.Conv2d(in_ch, out_ch, 3, bias=bias),
        )
    raise ValueError(f"unknown upsample {upsample!r}: choose one of {', '.join(UPSAMPLES)}")


class ResnetGenerator(nn.Module):
    """Image-to-image generator; any page size in, the same size out (pads to a multiple of 4, crops back).

    Args:
        in_channels / out_channels: 1 for B/W pages, 3 for color pages.
        ngf: filters of the first layer (64 in the paper).
        n_blocks: residual blocks at quarter resolution (9 in the paper for 256x256 and larger).
        norm: "instance" (paper), "batch" or "none".
        upsample: "transpose" (paper, reference-compatible weights) or "resize" (resize + conv, no checkerboard).
        dropout: dropout in the residual blocks (off in the paper's CycleGAN).
    Input and output are in [-1, 1].
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 3,
        ngf: int = 64,
        n_blocks: int = 9,
        norm: str = "instance",
        upsample: str = "transpose",
        dropout: bool = False,
    ):
        super().__init__()
        if n_blocks < 0:
            raise ValueError(f"n_blocks must be >= 0, got {n_blocks}")
        make_norm, bias = norm_layer(norm), uses_bias(norm)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, ngf, 7, bias=bias),
            make_norm(ngf),
            nn.ReLU(True),
        ]
        for i in range(2):
            ch = ngf * 2**i
            layers += [nn.Conv2d(ch, ch * 2, 3, stride=2, padding=1, bias=bias), make_norm(ch * 2), nn.ReLU(True)]
        layers += [ResnetBlock(ngf * 4, norm, dropout) for _ in range(n_blocks)]
        for i in range(2):
            ch = ngf * 2 ** (2 - i)
            layers += [_upsample_layer(upsample, ch, ch // 2, bias), make_norm(ch // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        self.in_channels, self.out_channels, self.ngf = in_channels, out_channels, ngf
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        return self.model(pad_to_multiple(x))[..., :h, :w]
