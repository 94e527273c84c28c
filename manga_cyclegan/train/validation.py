"""Validation scoring for the CycleGAN: each epoch's colorized pages, scored by the evaluation code (the same
metrics `python -m manga_cyclegan.evaluate` reports) on what predict writes, the flat output (`val/<metric>`), and
on the generator's raw colors beside it (`val/raw_<metric>`). Their contact sheet is drawn by
`train/image_logging.py`."""

from __future__ import annotations

import torch

from manga_cyclegan.color import to_uint8
from manga_cyclegan.colorize.flat import flat_color
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

    def finish(self, module) -> None:
        """Log val/<metric> for the epoch's pages."""
        pages, self.pages = self.pages, []
        if not pages or module.trainer.sanity_checking:
            return
        datamodule = getattr(module.trainer, "datamodule", None)
        if self._references is None and hasattr(datamodule, "color_references"):
            self._references = datamodule.color_references()
        meta = getattr(datamodule, "meta", None)
        flat = [{**page, "pred": flat_color(page["bw"], page["pred"])} for page in pages]
        scores = score_pages(flat, meta=meta, references=self._references)
        raw = score_pages(pages, meta=meta, references=self._references)
        module.log_dict({f"val/{k}": float(v) for k, v in scores.items()}, sync_dist=True)
        module.log_dict({f"val/raw_{k}": float(v) for k, v in raw.items()}, sync_dist=True)

