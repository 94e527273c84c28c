"""What TensorBoard shows of a run's images, as a Lightning callback: the module's steps return the images they
made, and this logs them, so the CycleGAN itself only computes.

- train/samples: a grid of the generator phase's images (real_A, fake_B, rec_A / real_B, fake_A, rec_B, the first
  page of the batch), every `model.image_log_every_n_batches` batches;
- val/sample_<i>: real_A, fake_B, rec_A of the first `model.val_samples` validation batches;
- val/contact_sheet: after each validation epoch (not the sanity check), the evaluate command's contact sheet of
  the first `model.val_samples` pages: B/W | flat output | raw | truth.

Only rank 0 writes, and only to a logger that takes images (TensorBoard's SummaryWriter).
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch
import torchvision

from manga_cyclegan.color import to_rgb, to_uint8
from manga_cyclegan.colorize.flat import flat_color
from manga_cyclegan.evaluate.report import contact_sheet


class ImageLogger(pl.Callback):
    """Reads the cadence (`image_log_every_n_batches`) and the number of validation samples (`val_samples`) from
    the module's hyperparameters, where the model config sets them."""

    def __init__(self):
        self.sheet_pages: list[dict] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        images = (outputs or {}).get("images")  # none when the step was skipped (non-finite loss)
        if images is not None and batch_idx % max(1, pl_module.hparams.image_log_every_n_batches) == 0:
            log_grid(pl_module, "train/samples", images)

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        self.sheet_pages = []

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int,
                                dataloader_idx: int = 0) -> None:
        images, wanted = outputs["images"], pl_module.hparams.val_samples
        if batch_idx < wanted:
            log_grid(pl_module, f"val/sample_{batch_idx}", images)
        for i in range(images["real_A"].shape[0]):
            if len(self.sheet_pages) < wanted:
                page = {"bw": to_uint8(images["real_A"][i]), "pred": to_uint8(images["fake_B"][i])}
                if "B_truth" in batch:
                    page["truth"] = to_uint8(batch["B_truth"][i])
                self.sheet_pages.append(page)

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        pages, self.sheet_pages = self.sheet_pages, []
        writer = image_writer(pl_module)
        if not pages or trainer.sanity_checking or writer is None:
            return
        columns = {"B/W input": [p["bw"] for p in pages], "model": [flat_color(p["bw"], p["pred"]) for p in pages],
                   "model raw": [p["pred"] for p in pages]}
        if all("truth" in p for p in pages):
            columns["truth"] = [p["truth"] for p in pages]
        writer.add_image("val/contact_sheet", contact_sheet(columns, len(pages)), global_step=pl_module.global_step,
                         dataformats="HWC")


def image_writer(pl_module: pl.LightningModule):
    """The logger's SummaryWriter on rank 0, else None."""
    writer = getattr(pl_module.logger, "experiment", None)
    if writer is None or not hasattr(writer, "add_image") or pl_module.global_rank != 0:
        return None
    return writer


@torch.no_grad()
def log_grid(pl_module: pl.LightningModule, tag: str, images: dict) -> None:
    """One row per image kind (first page of the batch), B/W shown as gray RGB."""
    writer = image_writer(pl_module)
    if writer is None:
        return
    rows = [im[:1].float() for im in images.values()]
    rows = [to_rgb(im) if im.shape[1] == 1 else im for im in rows]
    grid = torchvision.utils.make_grid(torch.cat(rows), nrow=3, normalize=True, value_range=(-1, 1))
    writer.add_image(tag, grid.cpu(), global_step=pl_module.global_step)
