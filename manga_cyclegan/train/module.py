"""The CycleGAN as a LightningModule: two generators, two discriminators, manual alternating optimization.

Domains: A = black-and-white manga (1 channel), B = colored manga (3 channels).

    fake_B = G_AB(real_A)    rec_A = G_BA(fake_B)     (G_AB is the colorizer predict.py uses)
    fake_A = G_BA(real_B)    rec_B = G_AB(fake_A)     (backward_cycle="pseudo_pair": G_AB(sg(fake_A)), see below)

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

Learning rate: Adam(lr, betas) constant for `epochs_constant` epochs, then linearly down for `epochs_decay`;
the discriminators' is `lr_d_ratio` times the generators' (two-timescale rule, Heusel et al. 2017).

`ema_decay` > 0 keeps G_AB_ema, a running average of G_AB's weights after each generator step; validation and
predict colorize with it (G_AB itself trains as above).

Discriminators: 70x70 PatchGANs; `n_scales_d` > 1 adds the same PatchGAN on the page halved (pix2pixHD), whose
losses are averaged with the full-scale one's; `spectral_norm_d` normalizes their convolutions.

Non-finite losses: before each phase's backward, one isfinite check on its summed loss (agreed by all DDP
processes). If it fails, `nonfinite="stop"` raises NonFiniteLossError naming the losses and the step, with no
optimizer step taken; `nonfinite="skip"` skips the step (a generator-phase failure skips the whole step, pools
included; a discriminator-phase one skips the D update), counts it, and stops after `max_nonfinite_skips`
consecutive skips.
"""

from __future__ import annotations

import copy
import itertools
import logging
import math
from functools import partial

import pytorch_lightning as pl
import torch
import torchvision
from pytorch_lightning.utilities import rank_zero_warn

from manga_cyclegan.evaluate.scoring import contact_sheet, score_pages
from manga_cyclegan.colorize.flat import flat_color
from manga_cyclegan.train.image_pool import ImagePool
from manga_cyclegan.color import descreen, to_gray, to_rgb, to_uint8
from manga_cyclegan.train.losses import cycle_loss, discriminator_loss, gan_loss, identity_loss
from manga_cyclegan.nets import MultiScaleDiscriminator, PatchDiscriminator, ResnetGenerator

log = logging.getLogger(__name__)

CHANNELS_A, CHANNELS_B = 1, 3
NONFINITE_MODES = ("stop", "skip")
BACKWARD_CYCLES = ("paper", "pseudo_pair")


class NonFiniteLossError(RuntimeError):
    """A loss was NaN or Inf: the run stops before any optimizer step with it, keeping its checkpoints."""


def linear_decay(epoch: int, epochs_constant: int, epochs_decay: int) -> float:
    """LR factor for `epoch` (0-based): 1 for the constant phase, then linearly towards 0 (reference rule)."""
    return 1.0 - max(0, epoch + 1 - epochs_constant) / float(epochs_decay + 1)


class CycleGAN(pl.LightningModule):
    """CycleGAN for B/W -> color manga. Every argument is a plain value so checkpoints load with
    `weights_only=True` and the architecture can be rebuilt from the checkpoint alone."""

    def __init__(
        self,
        *,
        ngf: int = 64,
        ndf: int = 64,
        n_blocks: int = 9,
        n_layers_d: int = 3,
        n_scales_d: int = 1,
        spectral_norm_d: bool = False,
        norm: str = "instance",
        upsample: str = "transpose",
        dropout: bool = False,
        gan_mode: str = "lsgan",
        lambda_cycle: float = 10.0,
        lambda_identity: float = 0.5,
        backward_cycle: str = "paper",
        descreen_sigma: float = 0.0,
        ema_decay: float = 0.0,
        pseudo_pair_noise: float = 0.0,
        pool_size: int = 50,
        lr: float = 2e-4,
        lr_d_ratio: float = 1.0,
        beta1: float = 0.5,
        beta2: float = 0.999,
        epochs_constant: int = 100,
        epochs_decay: int = 100,
        fused_adam: bool | None = None,
        channels_last: bool = False,
        compile: bool = False,
        image_log_every_n_batches: int = 200,
        val_samples: int = 4,
        seed: int = 0,
        nonfinite: str = "stop",
        max_nonfinite_skips: int = 10,
    ):
        super().__init__()
        if nonfinite not in NONFINITE_MODES:
            raise ValueError(f"nonfinite must be one of {NONFINITE_MODES}, got {nonfinite!r}")
        if backward_cycle not in BACKWARD_CYCLES:
            raise ValueError(f"backward_cycle must be one of {BACKWARD_CYCLES}, got {backward_cycle!r}")
        self.save_hyperparameters()
        self.automatic_optimization = False
        gen = partial(ResnetGenerator, ngf=ngf, n_blocks=n_blocks, norm=norm, upsample=upsample, dropout=dropout)
        patch = dict(ndf=ndf, n_layers=n_layers_d, norm=norm, spectral_norm=spectral_norm_d)
        # One scale: the paper's PatchGAN itself (its checkpoint keys unchanged); more: pix2pixHD's pyramid.
        disc = partial(PatchDiscriminator, **patch) if n_scales_d == 1 else partial(
            MultiScaleDiscriminator, n_scales=n_scales_d, **patch)
        self.G_AB = gen(CHANNELS_A, CHANNELS_B)
        self.G_BA = gen(CHANNELS_B, CHANNELS_A)
        self.D_A = disc(CHANNELS_A)
        self.D_B = disc(CHANNELS_B)
        if ema_decay > 0:  # the colorizer validation and predict use: a running average of G_AB's weights
            self.G_AB_ema = copy.deepcopy(self.G_AB).requires_grad_(False)
        self.pool_A = ImagePool(pool_size, seed=seed)
        self.pool_B = ImagePool(pool_size, seed=seed + 1)
        self._val_pages: list[dict] = []
        self._color_references = None
        self.nonfinite_skips = 0  # steps skipped for a non-finite loss, over the whole run (resumes included)
        self._consecutive_skips = 0
        self._step_rng: dict | None = None  # the training steps' own generator states (see _global_rng)
        self._outside_rng: dict = {}
        self._saved_rng: dict | None = None

    # ---- the colorizer -------------------------------------------------------------------------------------
    def forward(self, real_A: torch.Tensor) -> torch.Tensor:
        """Colorize B/W pages [N, 1, H, W] in [-1, 1] -> [N, 3, H, W] in [-1, 1]."""
        return self.colorize(real_A)

    def colorize(self, page: torch.Tensor, averaged: bool = False) -> torch.Tensor:
        """G_AB on a one-channel page, descreened first when `descreen_sigma` > 0 (predict does the same);
        `averaged`: with the weights' running average where there is one (what validation and predict use)."""
        generator = self.G_AB_ema if averaged and self.hparams.ema_decay > 0 else self.G_AB
        return generator(self._layout(descreen(page, self.hparams.descreen_sigma)))

    @torch.no_grad()
    def update_average(self) -> None:
        """G_AB_ema <- d * G_AB_ema + (1 - d) * G_AB, d = min(ema_decay, (1 + t) / (10 + t)) after t updates,
        so the average forgets its random start within the first steps (Polyak averaging, as StyleGAN and
        UVCGAN keep for their generators)."""
        if self.hparams.ema_decay <= 0:
            return
        t = self.global_step // 2  # two optimizer steps per batch
        decay = min(self.hparams.ema_decay, (1 + t) / (10 + t))
        for average, current in zip(self.G_AB_ema.parameters(), self.G_AB.parameters()):
            average.lerp_(current.detach().to(average.dtype), 1 - decay)
        for average, current in zip(self.G_AB_ema.buffers(), self.G_AB.buffers()):
            average.copy_(current)

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.hparams.channels_last else x

    # ---- training -------------------------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        # Each DDP process keeps its own pool; distinct seeds keep their draws independent.
        rank = self.global_rank
        self.pool_A.generator.manual_seed(self.hparams.seed + 2 * rank)
        self.pool_B.generator.manual_seed(self.hparams.seed + 2 * rank + 1)
        if self.hparams.channels_last:
            self.to(memory_format=torch.channels_last)
        if self.hparams.compile:  # in place: the state dict keeps its keys, so checkpoints stay interchangeable
            for network in (self.G_AB, self.G_BA, self.D_A, self.D_B):
                network.compile()

    def generator_losses(self, real_A: torch.Tensor, real_B: torch.Tensor) -> tuple[dict, dict]:
        """The generator phase's losses (named as in the module docstring) and the images it made."""
        hp = self.hparams
        fake_B = self.colorize(real_A)
        rec_A = self.G_BA(fake_B)
        fake_A = self.G_BA(real_B)
        rec_B = self.colorize(self._pseudo_pair_input(fake_A))
        losses = {
            "G_AB": gan_loss(self.D_B(fake_B), True, hp.gan_mode),
            "G_BA": gan_loss(self.D_A(fake_A), True, hp.gan_mode),
            "cycle_A": hp.lambda_cycle * cycle_loss(rec_A, real_A),
            "cycle_B": hp.lambda_cycle * cycle_loss(rec_B, real_B),
        }
        if hp.lambda_identity > 0:
            weight = hp.lambda_cycle * hp.lambda_identity
            losses["idt_B"] = weight * identity_loss(self.colorize(to_gray(real_B)), real_B)
            losses["idt_A"] = weight * identity_loss(self.G_BA(self._layout(to_rgb(real_A))), real_A)
        images = {"real_A": real_A, "fake_B": fake_B, "rec_A": rec_A, "real_B": real_B, "fake_A": fake_A, "rec_B": rec_B}
        return losses, images

    def _pseudo_pair_input(self, fake_A: torch.Tensor) -> torch.Tensor:
        """What G_AB gets in the backward cycle. "paper": fake_A itself, so the cycle loss trains both generators
        and G_BA may hide the colors in patterns D_A does not see (Chu et al. 2017). "pseudo_pair": fake_A
        detached (and optionally noised), so ||G_AB(fake_A) - real_B|| is supervised colorization of a printed
        page against its own color original, and G_BA has no reason to smuggle color."""
        if self.hparams.backward_cycle == "paper":
            return fake_A
        fake_A = fake_A.detach()
        if self.hparams.pseudo_pair_noise > 0:
            fake_A = fake_A + self.hparams.pseudo_pair_noise * torch.randn_like(fake_A)
        return fake_A

    def discriminator_losses(self, images: dict) -> dict:
        hp = self.hparams
        fake_A = self.pool_A.query(images["fake_A"].detach())
        fake_B = self.pool_B.query(images["fake_B"].detach())
        return {
            "D_A": discriminator_loss(self.D_A(images["real_A"]), self.D_A(fake_A), hp.gan_mode),
            "D_B": discriminator_loss(self.D_B(images["real_B"]), self.D_B(fake_B), hp.gan_mode),
        }

    def training_step(self, batch: dict, batch_idx: int) -> None:
        opt_g, opt_d = self.optimizers()
        real_A, real_B = self._layout(batch["A"]), self._layout(batch["B"])

        with self.toggled_optimizer(opt_g):  # D_A, D_B get no gradients in this phase
            g_losses, images = self.generator_losses(real_A, real_B)
            loss_G = sum(g_losses.values())
            if not self._finite_or_skipped(loss_G, g_losses, "generator", batch_idx):
                return  # the fakes may be non-finite too: keep them out of the pools and the D phase
            opt_g.zero_grad(set_to_none=True)
            self.manual_backward(loss_G)
            opt_g.step()
            self.update_average()

        with self.toggled_optimizer(opt_d):  # G_AB, G_BA get no gradients in this phase
            d_losses = self.discriminator_losses(images)
            loss_D = sum(d_losses.values())
            if not self._finite_or_skipped(loss_D, d_losses, "discriminator", batch_idx):
                return
            opt_d.zero_grad(set_to_none=True)
            self.manual_backward(loss_D)
            opt_d.step()
        self._consecutive_skips = 0

        n = real_A.shape[0]
        self.log_dict({f"loss/{k}": v.detach() for k, v in {**g_losses, **d_losses}.items()}, batch_size=n)
        self.log_dict({"loss/G": loss_G.detach(), "loss/D": loss_D.detach()}, prog_bar=True, batch_size=n)
        if batch_idx % max(1, self.hparams.image_log_every_n_batches) == 0:
            self._log_grid("train/samples", images)

    # ---- non-finite losses ----------------------------------------------------------------------------------
    def _finite_or_skipped(self, total: torch.Tensor, losses: dict, phase: str, batch_idx: int) -> bool:
        """True if this phase may step. Else stops the run or counts a skipped step (model.nonfinite).
        Cheap when all is well: one isfinite and one (DDP: reduced) flag per phase; per-loss values are only
        looked at when the sum is not finite."""
        failing = int(self._count_across_processes(~torch.isfinite(total.detach())))  # processes
        if failing == 0:
            return True
        message = self._nonfinite_message(losses, phase, batch_idx, failing)
        if self.hparams.nonfinite == "stop":
            raise NonFiniteLossError(f"{message} The run stops (model.nonfinite=skip skips such steps instead).")
        self.nonfinite_skips += 1
        self._consecutive_skips += 1
        if self._consecutive_skips > self.hparams.max_nonfinite_skips:
            raise NonFiniteLossError(
                f"{message} That is {self._consecutive_skips} non-finite steps in a row "
                f"(model.max_nonfinite_skips={self.hparams.max_nonfinite_skips}): the run stops."
            )
        if self.trainer.is_global_zero:
            log.warning("%s Step skipped (%d so far).", message, self.nonfinite_skips)
        return False

    def _count_across_processes(self, flags: torch.Tensor) -> torch.Tensor:
        """Sum boolean flags over DDP processes, so that every process takes the same decision."""
        flags = flags.to(torch.int32)
        if self.trainer.world_size > 1:
            flags = self.trainer.strategy.reduce(flags, reduce_op="sum")
        return flags

    def _nonfinite_message(self, losses: dict, phase: str, batch_idx: int, failing: int) -> str:
        """Which losses are not finite (this process's values; names only for the other processes') and where."""
        flags = torch.stack([~torch.isfinite(v.detach()) for v in losses.values()])
        processes = self._count_across_processes(flags).tolist()  # per loss: on how many processes
        bad = {name: float(losses[name].detach()) for name, n in zip(losses, processes) if n}
        names = ", ".join(f"{name}={value:.4g}" if not math.isfinite(value) else f"{name} (on another process)"
                          for name, value in bad.items())
        world = self.trainer.world_size
        where = f" on {failing} of {world} processes" if world > 1 else ""
        last = getattr(self.trainer.checkpoint_callback, "last_model_path", "") or "none written yet"
        return (f"Non-finite loss at global step {self.global_step} (epoch {self.current_epoch}, batch {batch_idx}), "
                f"{phase} phase{where}: {names}. No optimizer step was taken with it; last good checkpoint: {last}.")

    def on_train_epoch_start(self) -> None:
        # The LR is a function of the epoch. Catching the schedulers up here, rather than stepping them at epoch
        # end, keeps it right after a resume: Lightning writes the epoch's checkpoint before epoch-end hooks run.
        for scheduler in self.lr_schedulers():
            while scheduler.last_epoch < self.current_epoch:
                scheduler.step()
        self.log("lr", self.optimizers()[0].param_groups[0]["lr"])

    def on_train_epoch_end(self) -> None:
        if self.hparams.nonfinite == "skip":
            self.log("train/nonfinite_skips", float(self.nonfinite_skips))

    def configure_optimizers(self):
        hp = self.hparams
        adam = partial(torch.optim.Adam, betas=(hp.beta1, hp.beta2), fused=hp.fused_adam)
        opt_g = adam(itertools.chain(self.G_AB.parameters(), self.G_BA.parameters()), lr=hp.lr)
        opt_d = adam(itertools.chain(self.D_A.parameters(), self.D_B.parameters()), lr=hp.lr * hp.lr_d_ratio)
        factor = partial(linear_decay, epochs_constant=hp.epochs_constant, epochs_decay=hp.epochs_decay)
        schedulers = [torch.optim.lr_scheduler.LambdaLR(opt, factor) for opt in (opt_g, opt_d)]
        return [opt_g, opt_d], schedulers

    # ---- validation -----------------------------------------------------------------------------------------
    def validation_step(self, batch: dict, batch_idx: int) -> None:
        real_A = self._layout(batch["A"])
        fake_B = self.colorize(real_A, averaged=True)
        rec_A = self.G_BA(fake_B)
        self.log("val/cycle_l1", cycle_loss(rec_A, real_A), batch_size=real_A.shape[0], sync_dist=True)
        for i in range(real_A.shape[0]):
            page = {"pred": to_uint8(fake_B[i]), "bw": to_uint8(real_A[i])}
            if "B_truth" in batch:
                page["truth"] = to_uint8(batch["B_truth"][i])
            if "labels" in batch:
                page["labels"] = batch["labels"][i].to(torch.uint8).cpu().numpy()
            self._val_pages.append(page)
        if batch_idx < self.hparams.val_samples:
            self._log_grid(f"val/sample_{batch_idx}", {"real_A": real_A, "fake_B": fake_B, "rec_A": rec_A})

    def on_validation_epoch_end(self) -> None:
        pages, self._val_pages = self._val_pages, []
        if not pages or self.trainer.sanity_checking:
            return
        datamodule = getattr(self.trainer, "datamodule", None)
        if self._color_references is None and hasattr(datamodule, "color_references"):
            self._color_references = datamodule.color_references()
        scores = score_pages(pages, meta=getattr(datamodule, "meta", None), references=self._color_references)
        self.log_dict({f"val/{k}": float(v) for k, v in scores.items()}, sync_dist=True)
        self._log_contact_sheet(pages[: self.hparams.val_samples])

    @torch.no_grad()
    def _log_contact_sheet(self, pages: list[dict]) -> None:
        """The evaluate command's contact sheet for the first validation pages: B/W | flat output | raw | truth."""
        writer = getattr(self.logger, "experiment", None)
        if not pages or writer is None or not hasattr(writer, "add_image") or self.global_rank != 0:
            return
        columns = {"B/W input": [p["bw"] for p in pages], "model": [flat_color(p["bw"], p["pred"]) for p in pages],
                   "model raw": [p["pred"] for p in pages]}
        if all("truth" in p for p in pages):
            columns["truth"] = [p["truth"] for p in pages]
        sheet = contact_sheet(columns, len(pages))
        writer.add_image("val/contact_sheet", sheet, global_step=self.global_step, dataformats="HWC")

    # ---- checkpoints: the pools and the RNG are training state too ------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["image_pools"] = {"A": self.pool_A.state_dict(), "B": self.pool_B.state_dict()}
        checkpoint["nonfinite_skips"] = {"total": self.nonfinite_skips, "consecutive": self._consecutive_skips}
        checkpoint["rng"] = self._rng_states()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        pools = checkpoint.get("image_pools")
        if pools:
            self.pool_A.load_state_dict(pools["A"], self.device)
            self.pool_B.load_state_dict(pools["B"], self.device)
        skips = checkpoint.get("nonfinite_skips", {})
        self.nonfinite_skips, self._consecutive_skips = skips.get("total", 0), skips.get("consecutive", 0)
        self._saved_rng = checkpoint.get("rng")  # taken up in on_train_start, where the rank is known

    # Dropout (model.dropout) draws from torch's global generator, which Lightning neither saves nor keeps
    # apart from the DataLoaders (each new iterator draws a worker base seed from it, at points that differ
    # between a fresh epoch and a resumed one). So the training steps run on their own copy of the global
    # generator, swapped in around each batch; each process's copy is saved in the checkpoint and restored,
    # and the steps after a resume draw what they would have drawn. Data pairing, augmentation and the
    # pools have their own seeded generators.
    def _global_rng(self) -> dict:
        states = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            states["cuda"] = torch.cuda.get_rng_state(self.device)
        return states

    def _set_global_rng(self, states: dict) -> None:
        torch.set_rng_state(states["torch"])
        if "cuda" in states and self.device.type == "cuda":
            torch.cuda.set_rng_state(states["cuda"], self.device)

    def on_train_batch_start(self, batch: dict, batch_idx: int) -> None:
        self._outside_rng = self._global_rng()
        if self._step_rng is not None:
            self._set_global_rng(self._step_rng)

    def on_train_batch_end(self, outputs, batch: dict, batch_idx: int) -> None:
        self._step_rng = self._global_rng()
        self._set_global_rng(self._outside_rng)

    def _rng_states(self) -> dict:
        """{"torch": [world, n] uint8, "cuda": [world, m] if on GPU}: every process's training-step generator."""
        states = self._step_rng or self._global_rng()
        if self.trainer.world_size == 1:
            return {k: v.unsqueeze(0) for k, v in states.items()}
        return {k: self.all_gather(v.to(self.device)).cpu() for k, v in states.items()}

    def on_train_start(self) -> None:
        saved, self._saved_rng = self._saved_rng, None
        if not saved:
            return
        if saved["torch"].shape[0] != self.trainer.world_size:
            rank_zero_warn("Resumed on another number of processes: dropout will not draw as the first run did.")
            return
        self._step_rng = {k: v[self.global_rank] for k, v in saved.items()}

    # ---- logging --------------------------------------------------------------------------------------------
    @torch.no_grad()
    def _log_grid(self, tag: str, images: dict) -> None:
        """One row per image kind (first page of the batch), B/W shown as gray RGB, for TensorBoard."""
        writer = getattr(self.logger, "experiment", None)
        if writer is None or not hasattr(writer, "add_image") or self.global_rank != 0:
            return
        rows = [im[:1].float() for im in images.values()]
        rows = [to_rgb(im) if im.shape[1] == 1 else im for im in rows]
        grid = torchvision.utils.make_grid(torch.cat(rows), nrow=3, normalize=True, value_range=(-1, 1))
        writer.add_image(tag, grid.cpu(), global_step=self.global_step)
