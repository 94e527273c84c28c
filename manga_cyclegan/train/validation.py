"""Validation scoring for the CycleGAN: each epoch's colorized pages, scored by the evaluation code (the same
metrics `python -m manga_cyclegan.evaluate` reports), and the contact sheet logged to TensorBoard."""

from __future__ import annotations

import torch

from manga_cyclegan.color import to_uint8
from manga_cyclegan.colorize.flat import flat_color
from manga_cyclegan.evaluate.report import contact_sheet
from manga_cyclegan.evaluate.scoring import score_pages


class ValidationScores:
    def __init__(self):
        self.pages: list[dict] = []
        self._references = None  # the datamodule's color pages, for the unpaired metrics; read once

    def add(self, batch: dict, real_A: torch.Tensor, fake_B: torch.Tensor) -> None:
        for i in range(real_A.shape[0]):
            page = {"pred": to_uint8(fake_B[i]), "bw": to_uint8(real_A[i])}
            if "B_truth" in batch:
                page["truth"] = to_uint8(batch["B_truth"][i])
            if "labels" in batch:
                page["labels"] = batch["labels"][i].to(torch.uint8).cpu().numpy()
            self.pages.append(page)

    def finish(self, module, sheet_pages: int) -> None:
        """Log val/<metric> for the epoch's pages and the contact sheet of the first `sheet_pages`."""
        pages, self.pages = self.pages, []
        if not pages or module.trainer.sanity_checking:
            return
        datamodule = getattr(module.trainer, "datamodule", None)
        if self._references is None and hasattr(datamodule, "color_references"):
            self._references = datamodule.color_references()
        scores = score_pages(pages, meta=getattr(datamodule, "meta", None), references=self._references)
        module.log_dict({f"val/{k}": float(v) for k, v in scores.items()}, sync_dist=True)
        _log_contact_sheet(module, pages[:sheet_pages])


@torch.no_grad()
def _log_contact_sheet(module, pages: list[dict]) -> None:
    """The evaluate command's contact sheet for the first validation pages: B/W | flat output | raw | truth."""
    writer = getattr(module.logger, "experiment", None)
    if not pages or writer is None or not hasattr(writer, "add_image") or module.global_rank != 0:
        return
    columns = {"B/W input": [p["bw"] for p in pages], "model": [flat_color(p["bw"], p["pred"]) for p in pages],
               "model raw": [p["pred"] for p in pages]}
    if all("truth" in p for p in pages):
        columns["truth"] = [p["truth"] for p in pages]
    writer.add_image("val/contact_sheet", contact_sheet(columns, len(pages)), global_step=module.global_step,
                     dataformats="HWC")
