"""train(cfg): build everything a composed config names, fit, and report where the results are."""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


def instantiate_group(group: DictConfig | None) -> list:
    """Instantiate every entry of a config group like `callbacks` or `logger` that has a `_target_`."""
    if not group:
        return []
    return [hydra.utils.instantiate(item) for item in group.values() if isinstance(item, DictConfig) and "_target_" in item]


def train(cfg: DictConfig) -> dict[str, float]:
    """Train a CycleGAN as `cfg` says; returns the final logged metrics (for sweeps) as plain floats."""
    pl.seed_everything(cfg.seed, workers=True)
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, output_dir / "config.yaml", resolve=True)

    datamodule: pl.LightningDataModule = hydra.utils.instantiate(cfg.data)
    model: pl.LightningModule = hydra.utils.instantiate(cfg.model)
    callbacks = instantiate_group(cfg.get("callbacks"))
    loggers = instantiate_group(cfg.get("logger"))
    trainer: pl.Trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)

    log.info("Training on %s with precision %s", cfg.trainer.accelerator, trainer.precision)
    # weights_only: a checkpoint to resume from is data, never code.
    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"), weights_only=True)

    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if isinstance(v, torch.Tensor | float | int)}
    if trainer.is_global_zero:
        report(trainer, output_dir)
    return metrics


def report(trainer: pl.Trainer, output_dir: Path) -> None:
    """Tell the user where the checkpoint and the TensorBoard logs are."""
    checkpoint = trainer.checkpoint_callback
    last = getattr(checkpoint, "last_model_path", "") if checkpoint else ""
    lines = [f"Run directory:  {output_dir}"]
    if last:
        lines.append(f"Checkpoint:     {last}")
        lines.append(f"Resume with:    python train.py ckpt_path={last}")
        lines.append(f"Evaluate with:  python -m manga_cyclegan.evaluate ckpt={last}")
    if trainer.logger is not None and trainer.logger.log_dir:
        lines.append(f"TensorBoard:    tensorboard --logdir {trainer.logger.log_dir}")
    print("\n".join(lines), flush=True)
