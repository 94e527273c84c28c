"""The channels-last-keeping instance norm and reflection pad compute what torch's own modules compute."""

import pytest
import torch
import torch.nn.functional as F

from manga_cyclegan.nets import PatchDiscriminator, ResnetGenerator
from manga_cyclegan.nets.layers import InstanceNorm2d, ReflectionPad2d

CL = torch.channels_last


def _pages(n: int, c: int = 5, h: int = 9, w: int = 11, dtype=torch.float64) -> torch.Tensor:
    return torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(n), dtype=dtype)


@pytest.mark.parametrize("n", [1, 3])
def test_instance_norm_of_channels_last_pages_matches_torch_and_keeps_the_layout(n):
    x = _pages(n)
    ours, theirs = x.contiguous(memory_format=CL).requires_grad_(), x.clone().requires_grad_()
    y = InstanceNorm2d(5)(ours)
    assert y.is_contiguous(memory_format=CL) and not y.is_contiguous()
    torch.testing.assert_close(y, torch.nn.InstanceNorm2d(5)(theirs))
    grad = torch.randn_like(x)
    y.backward(grad)
    torch.nn.InstanceNorm2d(5)(theirs).backward(grad)
    torch.testing.assert_close(ours.grad, theirs.grad)


@pytest.mark.parametrize("p", [1, 3])
@pytest.mark.parametrize("channels_last", [False, True])
def test_reflection_pad_and_its_gradient_match_torch(p, channels_last):
    x = _pages(2)
    ours = (x.contiguous(memory_format=CL) if channels_last else x.clone()).requires_grad_()
    theirs = x.clone().requires_grad_()
    y = ReflectionPad2d(p)(ours)
    torch.testing.assert_close(y, F.pad(theirs, (p, p, p, p), mode="reflect"), rtol=0, atol=0)
    assert y.is_contiguous(memory_format=CL) == channels_last
    grad = torch.randn(y.shape, dtype=y.dtype, generator=torch.Generator().manual_seed(7))
    y.backward(grad)
    F.pad(theirs, (p, p, p, p), mode="reflect").backward(grad)
    torch.testing.assert_close(ours.grad, theirs.grad)
    assert ours.grad.is_contiguous(memory_format=CL) == channels_last


def test_reflection_pad_keeps_bf16_under_cpu_autocast():
    x = _pages(1, dtype=torch.float32).bfloat16().contiguous(memory_format=CL)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = ReflectionPad2d(1)(x)
    assert y.dtype == torch.bfloat16 and y.is_contiguous(memory_format=CL)
    assert torch.equal(y, F.pad(x, (1, 1, 1, 1), mode="reflect"))


def test_networks_give_the_same_pages_and_gradients_in_either_layout():
    torch.manual_seed(0)
    generator, discriminator = ResnetGenerator(1, 3, ngf=8, n_blocks=2).double(), PatchDiscriminator(3, ndf=8).double()
    x = _pages(2, c=1, h=36, w=44)
    outputs, grads = [], []
    for layout in (torch.contiguous_format, CL):
        for net in (generator, discriminator):
            net.to(memory_format=layout).zero_grad()
        page = x.contiguous(memory_format=layout).requires_grad_()
        out = discriminator(generator(page))
        out.square().mean().backward()
        outputs.append(out)
        grads.append([page.grad] + [p.grad for p in generator.parameters()])
    torch.testing.assert_close(outputs[0], outputs[1])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)
