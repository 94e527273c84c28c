"""Record the scale the colorizer learns at: the stroke width of the training pages as the generator sees them
(`manga_cyclegan.colorize.page_scale`), saved in every checkpoint under "page_scale", so that predict's
`working_size=auto` can bring other pages' strokes to it."""

from __future__ import annotations

import pytorch_lightning as pl

from manga_cyclegan.colorize.page_scale import learned_stroke_width
from manga_cyclegan.io.decode import read_page

# Training B/W pages measured, spread over the set.
PAGES_MEASURED = 32


class PageScale(pl.Callback):
    def __init__(self):
        self.stroke_width: float | None = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        datamodule = trainer.datamodule
        layout = getattr(datamodule, "layout", None)
        if self.stroke_width is not None or layout is None:
            return
        refs = layout.train_pages("A")
        refs = refs[:: max(1, len(refs) // PAGES_MEASURED)][:PAGES_MEASURED]
        pages = [read_page(ref, "L", max_pixels=layout.max_pixels, limits=layout.limits) for ref in refs]
        self.stroke_width = learned_stroke_width(pages, datamodule.load_size)

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        checkpoint["page_scale"] = {"stroke_width": self.stroke_width}

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        self.stroke_width = (checkpoint.get("page_scale") or {}).get("stroke_width")
