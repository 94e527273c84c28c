"""ResNet generator of the CycleGAN paper (Zhu et al. 2017, appendix 7.2).

    c7s1-ngf, d2ngf, d4ngf, R4ngf x n_blocks, u2ngf, ungf, c7s1-out, tanh

`ck`: 3x3 stride-2 conv (down), `Rk`: residual block of two reflection-padded 3x3 convs, `uk`: stride-1/2 up.
The layers live in one `nn.Sequential` called `model` with the same indices as the reference implementation
(junyanz/pytorch-CycleGAN-and-pix2pix `ResnetGenerator`), so its `*_net_G_A.pth` state dicts load unchanged when
`upsample="transpose"`.

`GeneratorSpec` is the one description of a generator: its constructor's arguments and their defaults, stored on
the module as `generator.spec`, saved beside exported weights, inferred from reference state dicts, and the source
the config schemas derive their generator keys from. `prepare_input` is the one way pages become its input.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
import torch.nn as nn

from manga_cyclegan.color import descreen, to_rgb
from manga_cyclegan.nets.layers import NORMS, ReflectionPad2d, init_weights, norm_layer, uses_bias
from manga_cyclegan.nets.padding import pad_to_multiple

UPSAMPLES = ("transpose", "resize")


@dataclass(frozen=True)
class GeneratorSpec:
    """The architecture of a ResnetGenerator. Defaults are the paper's; `metadata["choices"]` lists the values a
    string field takes (the config schemas check them).

    in_channels / out_channels: 1 for B/W pages, 3 for color pages.
    ngf: filters of the first layer (64 in the paper).
    n_blocks: residual blocks at quarter resolution (9 in the paper for 256x256 and larger).
    norm: "instance" (paper), "batch" or "none".
    upsample: "transpose" (paper, reference-compatible weights) or "resize" (resize + conv, no checkerboard).
    dropout: dropout in the residual blocks (off in the paper's CycleGAN).
    n_downsampling: stride-2 stages before the residual blocks (2 in the paper); each doubles the channels and the
        context the blocks see, at the same cost per block. Pages are padded to a multiple of 2 ** n_downsampling.
    """

    in_channels: int = 1
    out_channels: int = 3
    ngf: int = 64
    n_blocks: int = 9
    norm: str = field(default="instance", metadata={"choices": NORMS})
    upsample: str = field(default="transpose", metadata={"choices": UPSAMPLES})
    dropout: bool = False
    n_downsampling: int = 2

    def __post_init__(self):
        if self.n_blocks < 0:
            raise ValueError(f"n_blocks must be >= 0, got {self.n_blocks}")
        if self.n_downsampling < 1:
            raise ValueError(f"n_downsampling must be >= 1, got {self.n_downsampling}")
        for f in dataclasses.fields(self):
            choices = f.metadata.get("choices")
            if choices and getattr(self, f.name) not in choices:
                raise ValueError(f"unknown {f.name} {getattr(self, f.name)!r}: choose one of {', '.join(choices)}")

    @property
    def size_multiple(self) -> int:
        """Page sides the generator gives back unchanged without padding."""
        return 2**self.n_downsampling

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def spec_keys() -> tuple[str, ...]:
    """The names of GeneratorSpec's fields, in order."""
    return tuple(f.name for f in dataclasses.fields(GeneratorSpec))


def prepare_input(pages: torch.Tensor, in_channels: int, descreen_sigma: float, border: str | None = None) -> torch.Tensor:
    """One-channel pages [N, 1, H, W] in [-1, 1] -> what a colorizer trained with `descreen_sigma` takes: the
    Gaussian low-pass it saw in training (`color.descreen`; `border` as there), then the gray repeated into RGB
    for generators with 3 input channels (the reference CycleGAN's G_A). Training, predict and export all call it."""
    pages = descreen(pages, descreen_sigma, border=border)
    return to_rgb(pages) if in_channels == 3 and pages.shape[1] == 1 else pages


class ResnetBlock(nn.Module):
    """x + conv(relu(norm(conv(x)))), reflection padded so page borders get no dark frame."""

    def __init__(self, dim: int, norm: str, dropout: bool):
        super().__init__()
        make_norm, bias = norm_layer(norm), uses_bias(norm)
        layers = [ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), make_norm(dim), nn.ReLU(True)]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers += [ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), make_norm(dim)]
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
            ReflectionPad2d(1),
            nn.Conv2d(in_ch, out_ch, 3, bias=bias),
        )
    raise ValueError(f"unknown upsample {upsample!r}: choose one of {', '.join(UPSAMPLES)}")


class ResnetGenerator(nn.Module):
    """Image-to-image generator; any page size in, the same size out (pads to its size multiple, crops back).

    Takes the fields of GeneratorSpec, positionally or by name (`ResnetGenerator(1, 3, ngf=32)`), or a spec
    (`ResnetGenerator.from_spec(spec)`); keeps it as `self.spec`. Input and output are in [-1, 1].
    """

    def __init__(self, *args, **kwargs):
        super().__init__()
        self.spec = spec = GeneratorSpec(*args, **kwargs)
        in_channels, out_channels, ngf, n_blocks = spec.in_channels, spec.out_channels, spec.ngf, spec.n_blocks
        norm, upsample, dropout = spec.norm, spec.upsample, spec.dropout
        make_norm, bias = norm_layer(norm), uses_bias(norm)
        layers: list[nn.Module] = [
            ReflectionPad2d(3),
            nn.Conv2d(in_channels, ngf, 7, bias=bias),
            make_norm(ngf),
            nn.ReLU(True),
        ]
        downs = spec.n_downsampling
        for i in range(downs):
            ch = ngf * 2**i
            layers += [nn.Conv2d(ch, ch * 2, 3, stride=2, padding=1, bias=bias), make_norm(ch * 2), nn.ReLU(True)]
        layers += [ResnetBlock(ngf * 2**downs, norm, dropout) for _ in range(n_blocks)]
        for i in range(downs):
            ch = ngf * 2 ** (downs - i)
            layers += [_upsample_layer(upsample, ch, ch // 2, bias), make_norm(ch // 2), nn.ReLU(True)]
        layers += [ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        init_weights(self)

    @classmethod
    def from_spec(cls, spec: GeneratorSpec) -> ResnetGenerator:
        return cls(**spec.as_dict())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        return self.model(pad_to_multiple(x, self.spec.size_multiple))[..., :h, :w]
