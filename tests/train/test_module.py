"""The CycleGAN module's losses, wired as its docstring states."""

from __future__ import annotations

import torch

from manga_cyclegan.color import to_gray, to_rgb
from manga_cyclegan.train.module import CycleGAN


def tiny(**kwargs) -> CycleGAN:
    return CycleGAN(ngf=4, ndf=4, n_blocks=1, n_layers_d=2, **kwargs)


def record_inputs(net: torch.nn.Module) -> list[torch.Tensor]:
    """The inputs of each call of `net`, and of each batch of pages within a call (passes run batched)."""
    seen = []

    def record(module, args):
        x = args[0].detach().clone()
        seen.append(x)
        seen.extend(x.split(1) if x.shape[0] > 1 else [])

    net.register_forward_pre_hook(record)
    return seen


def test_identity_feeds_each_generator_the_other_domain_in_its_channel_format():
    model = tiny(lambda_identity=0.5, lambda_cycle=10.0)
    real_A, real_B = torch.rand(2, 1, 16, 16) * 2 - 1, torch.rand(2, 3, 16, 16) * 2 - 1
    to_ab, to_ba = record_inputs(model.G_AB), record_inputs(model.G_BA)
    losses, images = model.generator_losses(real_A, real_B)

    def passed(seen, pages):
        return any(x.shape[0] >= len(pages) and torch.allclose(x[i:i + len(pages)], pages)
                   for x in seen if x.shape[1:] == pages.shape[1:] for i in range(x.shape[0] - len(pages) + 1))

    assert passed(to_ab, to_gray(real_B))  # G_AB(gray(real_B))
    assert passed(to_ba, to_rgb(real_A))  # G_BA(rgb(real_A))
    # idt_B = lambda_cycle * lambda_identity * ||G_AB(gray(real_B)) - real_B||_1
    expected = 5.0 * (model.G_AB(to_gray(real_B)) - real_B).abs().mean()
    torch.testing.assert_close(losses["idt_B"], expected)
    torch.testing.assert_close(losses["cycle_A"], 10.0 * (images["rec_A"] - real_A).abs().mean())


def test_no_identity_terms_when_its_weight_is_zero():
    losses, _ = tiny(lambda_identity=0.0).generator_losses(torch.zeros(1, 1, 16, 16), torch.zeros(1, 3, 16, 16))
    assert set(losses) == {"G_AB", "G_BA", "cycle_A", "cycle_B"}


def test_g_ba_identity_term_can_be_dropped():
    model = tiny(lambda_identity=0.5, identity_a=False)
    to_ba = record_inputs(model.G_BA)
    losses, _ = model.generator_losses(torch.zeros(1, 1, 16, 16), torch.zeros(1, 3, 16, 16))
    assert "idt_B" in losses and "idt_A" not in losses
    assert len(to_ba) == 2 and all(len(x) == 1 for x in to_ba)  # rec_A and fake_A only: no G_BA(rgb(real_A))


def test_gray_of_a_gray_page_is_itself():
    page = torch.rand(1, 1, 4, 4)
    torch.testing.assert_close(to_gray(to_rgb(page)), page)


def test_discriminators_see_pooled_fakes_and_real_pages():
    model = tiny(pool_size=2)
    _, images = model.generator_losses(torch.zeros(1, 1, 16, 16), torch.zeros(1, 3, 16, 16))
    losses = model.discriminator_losses(images)
    assert set(losses) == {"D_A", "D_B"} and len(model.pool_A) == 1 and len(model.pool_B) == 1


def test_paper_backward_cycle_trains_both_generators():
    model = tiny(lambda_identity=0.0)
    losses, _ = model.generator_losses(torch.rand(1, 1, 16, 16) * 2 - 1, torch.rand(1, 3, 16, 16) * 2 - 1)
    losses["cycle_B"].backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in (next(model.G_AB.parameters()), next(model.G_BA.parameters())))


def test_the_discriminators_learning_rate_is_its_own():
    model = tiny(lr=1e-4, lr_d_ratio=4.0)
    losses, images = model.generator_losses(torch.zeros(1, 1, 32, 32), torch.zeros(1, 3, 32, 32))
    assert torch.isfinite(losses["G_AB"]) and set(model.discriminator_losses(images)) == {"D_A", "D_B"}
    (opt_g, opt_d), _ = model.configure_optimizers()
    assert opt_g.param_groups[0]["lr"] == 1e-4 and opt_d.param_groups[0]["lr"] == 4e-4


def test_descreen_feeds_g_ab_the_low_passed_page_everywhere():
    from manga_cyclegan.color import descreen

    model = tiny(descreen_sigma=1.0)
    real_A = torch.where(torch.rand(1, 1, 16, 16) > 0.5, 1.0, -1.0)  # a binary "screen"
    real_B = torch.rand(1, 3, 16, 16) * 2 - 1
    to_ab = record_inputs(model.G_AB)
    model.generator_losses(real_A, real_B)
    assert any(torch.allclose(x, descreen(real_A, 1.0)) for x in to_ab)
    assert any(torch.allclose(x, descreen(to_gray(real_B), 1.0)) for x in to_ab)  # the identity term
    assert not any(torch.equal(x, real_A) for x in to_ab)
    torch.testing.assert_close(model(real_A), model.G_AB(descreen(real_A, 1.0)))


def test_a_checkpoint_of_an_earlier_version_holding_a_dropout_generator_still_loads(tmp_path):
    import pytorch_lightning as pl

    model = tiny(pool_size=2)
    model.discriminator_losses(model.generator_losses(torch.zeros(1, 1, 16, 16), torch.zeros(1, 3, 16, 16))[1])
    checkpoint = {"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams),
                  "pytorch-lightning_version": pl.__version__}
    model.on_save_checkpoint(checkpoint)
    assert "rng" not in checkpoint  # nothing in a step draws from torch's global generator: nothing to save
    checkpoint["rng"] = {"torch": torch.get_rng_state()[None]}  # what earlier versions saved for dropout
    torch.save(checkpoint, tmp_path / "old.ckpt")
    loaded = CycleGAN.load_from_checkpoint(tmp_path / "old.ckpt", weights_only=True)
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in model.state_dict().items())
    assert len(loaded.pool_A) == len(model.pool_A) == 1


def test_channels_last_training_computes_the_same_losses_and_gradients():
    torch.manual_seed(0)
    plain = tiny(lambda_identity=0.5, channels_last=False).double()
    fast = tiny(lambda_identity=0.5, channels_last=True).double()
    fast.load_state_dict(plain.state_dict())
    for model in (plain, fast):
        model.setup("fit")
    assert fast.G_AB.model[1].weight.is_contiguous(memory_format=torch.channels_last)
    assert plain.G_AB.model[1].weight.is_contiguous()
    real_A = torch.rand(2, 1, 20, 24, dtype=torch.float64) * 2 - 1
    real_B = torch.rand(2, 3, 20, 24, dtype=torch.float64) * 2 - 1
    results = []
    for model in (plain, fast):
        losses, images = model.generator_losses(model._layout(real_A), model._layout(real_B))
        sum(losses.values()).backward()
        results.append((losses, [p.grad for p in model.G_AB.parameters()]))
    (losses_p, grads_p), (losses_f, grads_f) = results
    for name in losses_p:
        torch.testing.assert_close(losses_f[name], losses_p[name])
    for a, b in zip(grads_p, grads_f):
        torch.testing.assert_close(b, a)


def test_batched_passes_give_the_losses_and_gradients_of_separate_ones():
    torch.manual_seed(0)
    kwargs = dict(ngf=4, ndf=4, n_blocks=1, n_layers_d=2, lambda_identity=0.5, descreen_sigma=1.0)
    batched = CycleGAN(**kwargs, batched_passes=True).double()
    separate = CycleGAN(**kwargs, batched_passes=False).double()
    separate.load_state_dict(batched.state_dict())
    real_A = torch.rand(2, 1, 20, 24, dtype=torch.float64) * 2 - 1
    real_B = torch.rand(2, 3, 20, 24, dtype=torch.float64) * 2 - 1
    calls = record_inputs(batched.G_AB)
    results = []
    for model in (batched, separate):
        losses, images = model.generator_losses(real_A, real_B)
        sum(losses.values()).backward()
        results.append((losses, images, [p.grad for p in model.parameters() if p.grad is not None]))
    assert sum(1 for x in calls if len(x) == 6) == 1  # G_AB's three passes of two pages: one call
    (losses_b, images_b, grads_b), (losses_s, images_s, grads_s) = results
    assert set(losses_b) == set(losses_s) == {"G_AB", "G_BA", "cycle_A", "cycle_B", "idt_B", "idt_A"}
    for name in losses_b:
        torch.testing.assert_close(losses_b[name], losses_s[name])
    for name in images_b:
        torch.testing.assert_close(images_b[name], images_s[name])
    assert len(grads_b) == len(grads_s)
    for a, b in zip(grads_b, grads_s):
        torch.testing.assert_close(a, b)
