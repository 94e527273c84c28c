import pytest
import torch

from manga_cyclegan.nets import PatchDiscriminator, ResnetGenerator


@pytest.mark.parametrize("size", [(37, 53), (64, 64), (130, 97), (5, 9)])
@pytest.mark.parametrize("upsample", ["transpose", "resize"])
def test_generator_returns_page_at_its_exact_size(size, upsample):
    g = ResnetGenerator(1, 3, ngf=8, n_blocks=1, upsample=upsample)
    out = g(torch.randn(2, 1, *size))
    assert out.shape == (2, 3, *size)
    assert out.abs().max() <= 1.0  # tanh output range


def test_generator_channels_both_directions():
    assert ResnetGenerator(3, 1, ngf=8, n_blocks=2)(torch.randn(1, 3, 32, 32)).shape == (1, 1, 32, 32)


def test_generator_layout_matches_reference_state_dict_keys():
    # The reference ResnetGenerator (ngf 64, 9 blocks, instance norm) stores exactly these weight keys.
    keys = set(ResnetGenerator(3, 3, ngf=64, n_blocks=9).state_dict())
    expected = {"model.1.weight", "model.1.bias", "model.4.weight", "model.7.weight", "model.19.weight", "model.22.weight", "model.26.weight"}
    expected |= {f"model.{i}.conv_block.{j}.{p}" for i in range(10, 19) for j in (1, 5) for p in ("weight", "bias")}
    assert expected <= keys
    assert all(k.startswith("model.") for k in keys)
    shapes = ResnetGenerator(3, 3, ngf=64, n_blocks=9).state_dict()
    assert shapes["model.19.weight"].shape == (256, 128, 3, 3)  # ConvTranspose2d(256 -> 128)
    assert shapes["model.26.weight"].shape == (3, 64, 7, 7)


def test_weights_are_initialized_like_the_reference():
    g = ResnetGenerator(1, 3, ngf=32, n_blocks=2)
    w = g.model[1].weight
    assert abs(w.mean().item()) < 0.01 and 0.015 < w.std().item() < 0.025
    assert torch.all(g.model[1].bias == 0)


def test_patchgan_output_is_a_grid_of_patch_logits():
    d = PatchDiscriminator(3, ndf=8, n_layers=3)
    assert d(torch.randn(2, 3, 256, 256)).shape == (2, 1, 30, 30)  # as the reference's 70x70 PatchGAN
    # A change in one corner does not reach the output cell of the other corner: cells judge patches.
    # (Without normalization: instance norm statistics are taken over the whole image.)
    d = PatchDiscriminator(3, ndf=8, n_layers=3, norm="none")
    x = torch.randn(1, 3, 128, 128)
    y = x.clone()
    y[..., :8, :8] += 5
    assert torch.allclose(d(x)[..., -1, -1], d(y)[..., -1, -1])


@pytest.mark.parametrize("bad", [dict(norm="group"), dict(upsample="pixelshuffle"), dict(n_blocks=-1)])
def test_generator_rejects_unknown_options(bad):
    with pytest.raises(ValueError):
        ResnetGenerator(1, 3, ngf=8, **bad)


def test_spectral_norm_holds_each_conv_at_unit_norm():
    from manga_cyclegan.nets import PatchDiscriminator

    d = PatchDiscriminator(3, ndf=4, n_layers=2, spectral_norm=True)
    for _ in range(20):  # power iterations run in training mode
        d(torch.randn(1, 3, 32, 32))
    conv = d.model[0]
    sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2)
    assert abs(float(sigma) - 1.0) < 0.1


@pytest.mark.parametrize("downs", [1, 3])
def test_more_or_fewer_stride2_stages_keep_any_page_size_and_are_read_back_from_the_tensors(downs):
    from manga_cyclegan.colorize.weights import infer_arch

    g = ResnetGenerator(1, 3, ngf=4, n_blocks=1, n_downsampling=downs)
    assert g.spec.size_multiple == 2**downs
    assert g(torch.randn(1, 1, 37, 29)).shape == (1, 3, 37, 29)
    assert infer_arch(g.state_dict()) == g.spec.as_dict()
    assert max(p.shape[0] for p in g.parameters() if p.dim() == 4) == 4 * 2**downs
