"""The image logging callback: what it writes to TensorBoard, from the images the module's steps return."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from manga_cyclegan.train.image_logging import ImageLogger

KINDS = {"real_A": 1, "fake_B": 3, "rec_A": 1, "real_B": 3, "fake_A": 1, "rec_B": 3}


class Writer:
    def __init__(self):
        self.images = []

    def add_image(self, tag, image, global_step, dataformats="CHW"):
        self.images.append((tag, tuple(image.shape), global_step, dataformats))


def module(rank: int = 0) -> SimpleNamespace:
    hparams = SimpleNamespace(image_log_every_n_batches=2, val_samples=2)
    return SimpleNamespace(hparams=hparams, logger=SimpleNamespace(experiment=Writer()), global_rank=rank,
                           global_step=7)


def images(kinds, n: int = 2) -> dict:
    return {k: torch.rand(n, KINDS[k], 16, 12) * 2 - 1 for k in kinds}


def test_training_grids_follow_the_modules_cadence_and_skip_skipped_steps():
    model, callback, trainer = module(), ImageLogger(), SimpleNamespace(sanity_checking=False)
    for batch_idx in range(4):
        callback.on_train_batch_end(trainer, model, {"images": images(KINDS)}, {}, batch_idx)
    callback.on_train_batch_end(trainer, model, {}, {}, 4)  # a step skipped for a non-finite loss returns nothing
    grid = (3, 2 * (16 + 2) + 2, 3 * (12 + 2) + 2)  # two rows of three, make_grid's 2 px padding
    assert model.logger.experiment.images == [("train/samples", grid, 7, "CHW")] * 2


def test_validation_samples_and_the_contact_sheet_of_the_first_pages():
    model, callback, trainer = module(), ImageLogger(), SimpleNamespace(sanity_checking=False)
    callback.on_validation_epoch_start(trainer, model)
    for batch_idx in range(3):
        batch = {"B_truth": torch.rand(1, 3, 16, 12) * 2 - 1}
        callback.on_validation_batch_end(trainer, model, {"images": images(["real_A", "fake_B", "rec_A"], 1)},
                                         batch, batch_idx)
    callback.on_validation_epoch_end(trainer, model)
    logged = model.logger.experiment.images
    assert [entry[0] for entry in logged] == ["val/sample_0", "val/sample_1", "val/contact_sheet"]
    tag, shape, step, dataformats = logged[-1]
    assert dataformats == "HWC" and shape[2] == 3 and step == 7
    assert shape[0] > 2 * 16 and shape[1] > 4 * 12  # two pages, four columns: B/W, flat output, raw, truth


def test_nothing_during_the_sanity_check_sheet_nor_on_other_ranks():
    sanity, callback = SimpleNamespace(sanity_checking=True), ImageLogger()
    model = module()
    callback.on_validation_batch_end(sanity, model, {"images": images(["real_A", "fake_B", "rec_A"], 1)}, {}, 0)
    callback.on_validation_epoch_end(sanity, model)
    assert [entry[0] for entry in model.logger.experiment.images] == ["val/sample_0"]  # as before: samples only
    other = module(rank=1)
    callback.on_train_batch_end(SimpleNamespace(sanity_checking=False), other, {"images": images(KINDS)}, {}, 0)
    assert other.logger.experiment.images == []
