import pytest
import torch

from manga_cyclegan.train.image_pool import ImagePool
from manga_cyclegan.train.losses import cycle_loss, discriminator_loss, gan_loss
from manga_cyclegan.train.module import linear_decay


def test_lsgan_loss_is_mean_squared_distance_to_target():
    logits = torch.tensor([0.0, 0.5, 1.0])
    assert gan_loss(logits, True, "lsgan").item() == pytest.approx((1 + 0.25 + 0) / 3)
    assert gan_loss(logits, False, "lsgan").item() == pytest.approx((0 + 0.25 + 1) / 3)


def test_vanilla_loss_is_bce_on_logits():
    assert gan_loss(torch.zeros(4), True, "vanilla").item() == pytest.approx(0.693147, abs=1e-5)
    with pytest.raises(ValueError, match="wgan"):
        gan_loss(torch.zeros(1), True, "wgan")


def test_discriminator_loss_is_halved_sum():
    real, fake = torch.ones(3), torch.zeros(3)
    assert discriminator_loss(real, fake).item() == 0
    assert discriminator_loss(fake, real).item() == pytest.approx(1.0)  # 0.5 * (1 + 1)


def test_cycle_loss_is_l1():
    assert cycle_loss(torch.zeros(2, 2), torch.full((2, 2), 0.5)).item() == pytest.approx(0.5)


def test_linear_decay_schedule_matches_reference():
    factors = [linear_decay(e, epochs_constant=3, epochs_decay=4) for e in range(7)]
    # Constant for 3 epochs, then down by 1/(decay + 1) per epoch: the last epoch still learns (at lr / 5).
    assert factors == pytest.approx([1, 1, 1, 0.8, 0.6, 0.4, 0.2])


def test_pool_fills_then_mixes_old_and_new():
    pool = ImagePool(size=3, seed=0)
    first = [pool.query(torch.full((1, 1, 2, 2), float(i))) for i in range(3)]
    assert [t.item() for t in (f.mean() for f in first)] == [0, 1, 2]  # returned as is while filling
    from_pool = 0
    for i in range(200):
        new = torch.full((1, 1, 2, 2), 100.0 + i)
        from_pool += not torch.equal(pool.query(new), new)
    assert 60 < from_pool < 140  # about half of the answers are stored fakes
    assert len(pool) == 3


def test_pool_of_size_zero_is_a_pass_through():
    x = torch.randn(4, 3, 2, 2)
    assert torch.equal(ImagePool(0).query(x), x)


def test_pool_state_round_trip_reproduces_the_same_draws():
    pool = ImagePool(size=4, seed=7)
    for i in range(10):
        pool.query(torch.randn(2, 1, 3, 3))
    state = pool.state_dict()
    restored = ImagePool(size=4, seed=999)
    restored.load_state_dict(state)
    probe = torch.randn(8, 1, 3, 3)
    assert torch.equal(pool.query(probe.clone()), restored.query(probe.clone()))
    # Plain tensors and ints only: loadable with torch.load(weights_only=True).
    torch.save(state, buf := __import__("io").BytesIO())
    buf.seek(0)
    assert torch.load(buf, weights_only=True)["size"] == 4
