"""The CycleGAN as a LightningModule: two generators, two discriminators, manual alternating optimization.

Domains: A = black-and-white manga (1 channel), B = colored manga (3 channels).

    fake_B = G_AB(real_A)    rec_A = G_BA(fake_B)     (G_AB is the colorizer predict.py uses)
    fake_A = G_BA(real_B)    rec_B = G_AB(fake_A)

Generator phase (D_A, D_B frozen), minimizing

    L_G = L_GAN(G_AB, D_B) + L_GAN(G_BA, D_A)
        + lambda_cycle * (||rec_A - real_A||_1 + ||rec_B - real_B||_1)
        + lambda_cycle * lambda_identity * (||G_AB(gray(real_B)) - real_B||_1 + ||G_BA(rgb(real_A)) - real_A||_1)

with L_GAN(G_AB, D_B) = E[(D_B(fake_B) - 1)^2] for LSGAN (BCE for "vanilla").

Descreening (`descreen_sigma` > 0): every input of G_AB is low-passed first, D(x) = Gaussian(sigma) * x, and predict
does the same. A printed page's screentone then looks like the luma of a color page, so the identity term
||G_AB(D(gray(real_B))) - real_B|| is supervised colorization of the very inputs G_AB meets at test time.

Identity with different channel counts: G_AB takes one channel, so it is fed the luma of a color page,
gray(real_B), and asked to give back real_B; G_BA takes three, so it is fed the B/W page replicated,
rgb(real_A), and asked to give back real_A. Both keep the paper's intent (a page already "in" the target
domain, up to the channel format, is left alone) and, for G_AB, teach that the output's lightness follows the
input's.

Discriminator phase (G frozen), on real pages and on fakes drawn from a pool of 50 past fakes:

    L_D_B = (E[(D_B(real_B) - 1)^2] + E[D_B(pool_B(fake_B))^2]) / 2,   likewise L_D_A.

Palette term (`palette_classes` > 0, off in the paper; `train/palette_term.py`): the pseudo-pair G_AB(gray(real_B))
is also classified over the training color pages' palette, adding lambda_palette * L_palette(G_AB(gray(real_B)),
real_B), so an unsure colorizer picks one of the series' colors instead of averaging two into a third.

Screened pseudo-pairs (`pseudo_pair_screen` > 0, off in the paper; `train/screening.py`): that share of the gray
pages gray(real_B) is printed with a dot screen of random pitch and angle first, so the pseudo-pairs look like the
screened pages G_AB meets, at every pitch; with `screen_adds_pair` the screened page is a second pseudo-pair beside
the gray one.

Supervised warm-up (`warmup_batches` > 0, off in the paper): the first batches train G_AB alone on the identity
pseudo-pairs, minimizing ||G_AB(gray(real_B)) - real_B||_1, before the full CycleGAN takes over.

Learning rate: Adam(lr, betas) constant for `epochs_constant` epochs, then linearly down for `epochs_decay`;
the discriminators' is `lr_d_ratio` times the generators' (two-timescale rule, Heusel et al. 2017).

Discriminators: 70x70 PatchGANs; `spectral_norm_d` normalizes their convolutions.

Around the steps, small helpers keep what is not the paper out of this file: a non-finite loss guard before each
phase's backward (`train/nonfinite.py`; a generator-phase failure skips the whole step, pools included, a
discriminator-phase one the D update) and validation scoring with the evaluation metrics (`train/validation.py`).
The steps return the images they made; a callback logs them to TensorBoard (`train/image_logging.py`).
Nothing in a step draws from torch's global generator, so resuming is exact without saving it; `dropout` (no config
uses it) would draw from it, and a resumed run with dropout does not draw as the first run did.
"""

from __future__ import annotations

import dataclasses
import itertools
from functools import partial

import pytorch_lightning as pl
import torch

from manga_cyclegan.color import to_gray, to_rgb
from manga_cyclegan.config.groups import NONFINITE_MODES, ModelConfig
from manga_cyclegan.config.precision import resolve_channels_last
from manga_cyclegan.nets import PatchDiscriminator, ResnetGenerator
from manga_cyclegan.nets.generator import prepare_input, spec_keys
from manga_cyclegan.train.image_pool import ImagePool
from manga_cyclegan.train.losses import (
    cycle_loss,
    discriminator_loss,
    gan_loss,
    identity_loss,
)
from manga_cyclegan.train.nonfinite import NonFiniteGuard
from manga_cyclegan.train.palette_term import PaletteTerm
from manga_cyclegan.train.screening import RandomScreen
from manga_cyclegan.train.validation import ValidationScores

CHANNELS_A, CHANNELS_B = 1, 3


def linear_decay(epoch: int, epochs_constant: int, epochs_decay: int) -> float:
    """LR factor for `epoch` (0-based): 1 for the constant phase, then linearly towards 0 (reference rule)."""
    return 1.0 - max(0, epoch + 1 - epochs_constant) / float(epochs_decay + 1)


class CycleGAN(pl.LightningModule):
    """CycleGAN for B/W -> color manga. Every argument is a plain value so checkpoints load with
    `weights_only=True` and the architecture can be rebuilt from the checkpoint alone."""

    def __init__(self, **hparams):
        """Keyword arguments: the fields of ModelConfig (manga_cyclegan.config.groups), the one home of their
        defaults, which are the paper's."""
        super().__init__()
        config = ModelConfig(**hparams)
        if config.nonfinite not in NONFINITE_MODES:
            raise ValueError(f"nonfinite must be one of {NONFINITE_MODES}, got {config.nonfinite!r}")
        # Plain floats for the pitch range (Hydra hands a ListConfig), so checkpoints load with weights_only=True.
        config.screen_pitch = [float(p) for p in config.screen_pitch]
        self.save_hyperparameters({k: v for k, v in dataclasses.asdict(config).items() if k != "_target_"})
        self.automatic_optimization = False
        arch = {k: getattr(config, k) for k in spec_keys() if k not in ("in_channels", "out_channels")}
        self.G_AB = ResnetGenerator(CHANNELS_A, CHANNELS_B, **arch)
        self.G_BA = ResnetGenerator(CHANNELS_B, CHANNELS_A, **arch)
        disc = partial(PatchDiscriminator, ndf=config.ndf, n_layers=config.n_layers_d, norm=config.norm,
                       spectral_norm=config.spectral_norm_d)
        self.D_A = disc(CHANNELS_A)
        self.D_B = disc(CHANNELS_B)
        seed = config.seed
        self.pool_A = ImagePool(config.pool_size, seed=seed)
        self.pool_B = ImagePool(config.pool_size, seed=seed + 1)
        self.nonfinite = NonFiniteGuard(config.nonfinite, config.max_nonfinite_skips)
        self.channels_last = bool(config.channels_last)  # None (auto) is resolved in setup, on the device
        self.palette_term = (PaletteTerm(config.palette_classes, config.palette_temperature, config.palette_rebalance)
                             if config.palette_classes else None)
        self.screen = RandomScreen(config.pseudo_pair_screen, tuple(config.screen_pitch), seed)
        self.val_scores = ValidationScores()

    # ---- the colorizer -------------------------------------------------------------------------------------
    def forward(self, real_A: torch.Tensor) -> torch.Tensor:
        """Colorize B/W pages [N, 1, H, W] in [-1, 1] -> [N, 3, H, W] in [-1, 1]."""
        return self.colorize(real_A)

    def colorize(self, page: torch.Tensor) -> torch.Tensor:
        """G_AB on a one-channel page, prepared as predict and export prepare it (descreened when
        `descreen_sigma` > 0)."""
        return self.G_AB(self._layout(prepare_input(page, CHANNELS_A, self.hparams.descreen_sigma)))

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    # ---- training -------------------------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        # Each DDP process keeps its own pool; distinct seeds keep their draws independent.
        rank = self.global_rank
        self.pool_A.generator.manual_seed(self.hparams.seed + 2 * rank)
        self.pool_B.generator.manual_seed(self.hparams.seed + 2 * rank + 1)
        device = self.trainer.strategy.root_device.type if self._trainer is not None else "cpu"
        self.channels_last = resolve_channels_last(self.hparams.channels_last, device)
        if self.channels_last:
            self.to(memory_format=torch.channels_last)
        if self.hparams.compile:  # in place: the state dict keeps its keys, so checkpoints stay interchangeable
            for network in (self.G_AB, self.G_BA, self.D_A, self.D_B):
                network.compile()

    def on_fit_start(self) -> None:
        if self.palette_term is not None and not bool(self.palette_term.fitted):  # a resumed run has its palette
            datamodule = getattr(self.trainer, "datamodule", None)
            if datamodule is None or not hasattr(datamodule, "training_color_pages"):
                raise RuntimeError("model.palette_classes needs the UnpairedDataModule to read the color pages from")
            self.palette_term.fit(datamodule.training_color_pages(), seed=self.hparams.seed)

    def pseudo_pairs(self, real_B: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B/W pages, their colors) of the pseudo-pairs: the color pages' luma, screened as `pseudo_pair_screen`
        says, in place of the gray page or beside it (`screen_adds_pair`)."""
        gray = to_gray(real_B)
        screened = self.screen(gray, self.global_step, self.global_rank)
        if self.hparams.screen_adds_pair and screened is not gray:
            return torch.cat([gray, screened]), torch.cat([real_B, real_B])
        return screened, real_B

    def generator_losses(self, real_A: torch.Tensor, real_B: torch.Tensor) -> tuple[dict, dict]:
        """The generator phase's losses (named as in the module docstring) and the images it made."""
        hp = self.hparams
        identity = hp.lambda_identity > 0
        pages, colors = self.pseudo_pairs(real_B) if identity else (None, None)
        # The paper's passes; with `batched_passes`, a generator's passes that do not wait on each other run as one
        # batch (`_together`):
        #   fake_A = G_BA(real_B)  and  idt_A = G_BA(rgb(real_A))
        #   fake_B = G_AB(real_A),  rec_B = G_AB(fake_A)  and  idt_B = G_AB(gray(real_B))
        #   rec_A = G_BA(fake_B)
        ba_inputs = [real_B, self._layout(to_rgb(real_A))] if identity and hp.identity_a else [real_B]
        fake_A, *idt_A = self._together(self.G_BA, ba_inputs)
        fake_B, rec_B, *idt_B = self._together(self.colorize, [real_A, fake_A] + ([pages] if identity else []))
        rec_A = self.G_BA(fake_B)
        losses = {
            "G_AB": gan_loss(self.D_B(fake_B), True, hp.gan_mode),
            "G_BA": gan_loss(self.D_A(fake_A), True, hp.gan_mode),
            "cycle_A": hp.lambda_cycle * cycle_loss(rec_A, real_A),
            "cycle_B": hp.lambda_cycle * cycle_loss(rec_B, real_B),
        }
        if identity:
            weight = hp.lambda_cycle * hp.lambda_identity
            losses["idt_B"] = weight * identity_loss(idt_B[0], colors)
            if self.palette_term is not None:
                losses["palette"] = hp.lambda_palette * self.palette_term(idt_B[0], colors)
            if idt_A:
                losses["idt_A"] = weight * identity_loss(idt_A[0], real_A)
        images = {"real_A": real_A, "fake_B": fake_B, "rec_A": rec_A, "real_B": real_B, "fake_A": fake_A, "rec_B": rec_B}
        return losses, images

    def _together(self, network, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        """`[network(x) for x in inputs]`, with `batched_passes` in one batched call: the norms are per page, so
        each page's result is the one its own call gives. Separate calls where page sizes differ or batch norm
        would mix the pages' statistics."""
        separate = not self.hparams.batched_passes or self.hparams.norm == "batch"
        if separate or len(inputs) == 1 or len({x.shape[1:] for x in inputs}) > 1:
            return [network(x) for x in inputs]
        return list(network(torch.cat(inputs)).split([x.shape[0] for x in inputs]))

    def discriminator_losses(self, images: dict) -> dict:
        hp = self.hparams
        fake_A = self.pool_A.query(images["fake_A"].detach())
        fake_B = self.pool_B.query(images["fake_B"].detach())
        return {
            "D_A": discriminator_loss(self.D_A(images["real_A"]), self.D_A(fake_A), hp.gan_mode),
            "D_B": discriminator_loss(self.D_B(images["real_B"]), self.D_B(fake_B), hp.gan_mode),
        }

    def in_warmup(self) -> bool:
        # A warm-up batch steps one optimizer (global_step + 1), a full batch two: until the warm-up's last batch,
        # global_step counts warm-up batches.
        return self.global_step < self.hparams.warmup_batches

    def warmup_step(self, real_B: torch.Tensor) -> dict | None:
        opt_g, _ = self.optimizers()
        with self.toggled_optimizer(opt_g):
            pages, colors = self.pseudo_pairs(real_B)
            loss = identity_loss(self.colorize(pages), colors)
            if not self.nonfinite.allows_step(self, loss, {"warmup": loss}, "generator", self.global_step):
                return None
            opt_g.zero_grad(set_to_none=True)
            self.manual_backward(loss)
            opt_g.step()
        self.nonfinite.step_done()
        self.log("loss/warmup", loss.detach(), prog_bar=True, batch_size=real_B.shape[0])
        return None

    def training_step(self, batch: dict, batch_idx: int) -> dict | None:
        opt_g, opt_d = self.optimizers()
        real_A, real_B = self._layout(batch["A"]), self._layout(batch["B"])
        if self.in_warmup():
            return self.warmup_step(real_B)

        with self.toggled_optimizer(opt_g):  # D_A, D_B get no gradients in this phase
            g_losses, images = self.generator_losses(real_A, real_B)
            loss_G = sum(g_losses.values())
            if not self.nonfinite.allows_step(self, loss_G, g_losses, "generator", batch_idx):
                return  # the fakes may be non-finite too: keep them out of the pools and the D phase
            opt_g.zero_grad(set_to_none=True)
            self.manual_backward(loss_G)
            opt_g.step()

        with self.toggled_optimizer(opt_d):  # G_AB, G_BA get no gradients in this phase
            d_losses = self.discriminator_losses(images)
            loss_D = sum(d_losses.values())
            if not self.nonfinite.allows_step(self, loss_D, d_losses, "discriminator", batch_idx):
                return
            opt_d.zero_grad(set_to_none=True)
            self.manual_backward(loss_D)
            opt_d.step()
        self.nonfinite.step_done()

        n = real_A.shape[0]
        self.log_dict({f"loss/{k}": v.detach() for k, v in {**g_losses, **d_losses}.items()}, batch_size=n)
        self.log_dict({"loss/G": loss_G.detach(), "loss/D": loss_D.detach()}, prog_bar=True, batch_size=n)
        return {"images": images}  # for the image logging callback

    def on_train_epoch_start(self) -> None:
        # The LR is a function of the epoch. Catching the schedulers up here, rather than stepping them at epoch
        # end, keeps it right after a resume: Lightning writes the epoch's checkpoint before epoch-end hooks run.
        for scheduler in self.lr_schedulers():
            while scheduler.last_epoch < self.current_epoch:
                scheduler.step()
        self.log("lr", self.optimizers()[0].param_groups[0]["lr"])

    def on_train_epoch_end(self) -> None:
        if self.hparams.nonfinite == "skip":
            self.log("train/nonfinite_skips", float(self.nonfinite.skips))

    def configure_optimizers(self):
        hp = self.hparams
        adam = partial(torch.optim.Adam, betas=(hp.beta1, hp.beta2), fused=hp.fused_adam)
        opt_g = adam(itertools.chain(self.G_AB.parameters(), self.G_BA.parameters()), lr=hp.lr)
        opt_d = adam(itertools.chain(self.D_A.parameters(), self.D_B.parameters()), lr=hp.lr * hp.lr_d_ratio)
        factor = partial(linear_decay, epochs_constant=hp.epochs_constant, epochs_decay=hp.epochs_decay)
        schedulers = [torch.optim.lr_scheduler.LambdaLR(opt, factor) for opt in (opt_g, opt_d)]
        return [opt_g, opt_d], schedulers

    # ---- validation -----------------------------------------------------------------------------------------
    def validation_step(self, batch: dict, batch_idx: int) -> dict:
        real_A = self._layout(batch["A"])
        fake_B = self.colorize(real_A)
        rec_A = self.G_BA(fake_B)
        self.log("val/cycle_l1", cycle_loss(rec_A, real_A), batch_size=real_A.shape[0], sync_dist=True)
        self.val_scores.add(batch, real_A, fake_B)
        return {"images": {"real_A": real_A, "fake_B": fake_B, "rec_A": rec_A}}  # for the image logging callback

    def on_validation_epoch_end(self) -> None:
        self.val_scores.finish(self)

    # ---- checkpoints: the pools and the skip counts are training state too ------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["image_pools"] = {"A": self.pool_A.state_dict(), "B": self.pool_B.state_dict()}
        checkpoint["nonfinite_skips"] = self.nonfinite.state_dict()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        pools = checkpoint.get("image_pools")
        if pools:
            self.pool_A.load_state_dict(pools["A"], self.device)
            self.pool_B.load_state_dict(pools["B"], self.device)
        self.nonfinite.load_state_dict(checkpoint.get("nonfinite_skips", {}))
        # Checkpoints of earlier versions also hold "rng", a dropout generator no longer kept: it is ignored.
