"""train(cfg): build everything a composed config names, fit, and report where the results are.

Problems the user can fix (a value outside its choices, no data, an output folder that cannot be written, a NaN
loss) end a single run with one message and no traceback; config values and folders are checked before any
work starts (keys and types already while Hydra composes, against the schemas in config/groups.py).
"""

from __future__ import annotations

import logging
import os
import typing
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from manga_cyclegan.config.errors import RunError, cannot_write_message, config_hint
from manga_cyclegan.config.groups import DataConfig, ModelConfig
from manga_cyclegan.config.precision import emulated_bf16_warning
from manga_cyclegan.config.schema import check_config as check_schema
from manga_cyclegan.io.pages import is_inside

# Lightning (and with it the model and the data) takes seconds to import: it is imported where it is used,
# so that train.py reports a config error as soon as Hydra finds it.
if typing.TYPE_CHECKING:
    import pytorch_lightning as pl

log = logging.getLogger(__name__)


def instantiate_group(group: DictConfig | None) -> list:
    """Instantiate every entry of a config group like `callbacks` or `logger` that has a `_target_`."""
    if not group:
        return []
    return [hydra.utils.instantiate(item) for item in group.values() if isinstance(item, DictConfig) and "_target_" in item]


def train(cfg: DictConfig) -> dict[str, float]:
    """Train a CycleGAN as `cfg` says; returns the final logged metrics (for sweeps) as plain floats."""
    import pytorch_lightning as pl
    import torch

    check_config(cfg)
    output_dir = Path(cfg.paths.output_dir)
    for folder in output_folders(cfg):
        check_writable(folder)
    pl.seed_everything(cfg.seed, workers=True)
    OmegaConf.save(cfg, output_dir / "config.yaml", resolve=True)

    datamodule: pl.LightningDataModule = hydra.utils.instantiate(cfg.data)
    model: pl.LightningModule = hydra.utils.instantiate(cfg.model)
    callbacks = instantiate_group(cfg.get("callbacks"))
    loggers = instantiate_group(cfg.get("logger"))
    trainer: pl.Trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)

    log.info("Training on %s with precision %s", cfg.trainer.accelerator, trainer.precision)
    if warning := emulated_bf16_warning(trainer.precision, trainer.strategy.root_device.type):
        log.warning(warning)
    try:
        # weights_only: a checkpoint to resume from is data, never code.
        trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"), weights_only=True)
    except OSError as err:  # a checkpoint or log write: disk full, folder gone, permissions changed
        problem = output_folder_problem(err, output_folders(cfg))
        if problem is None:
            raise
        raise problem from err

    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if isinstance(v, torch.Tensor | float | int)}
    if trainer.is_global_zero:
        report(trainer, output_dir)
    return metrics


def report(trainer: pl.Trainer, output_dir: Path) -> None:
    """Tell the user where the checkpoint and the TensorBoard logs are, and about skipped steps."""
    checkpoint = trainer.checkpoint_callback
    last = getattr(checkpoint, "last_model_path", "") if checkpoint else ""
    lines = [f"Run directory:  {output_dir}"]
    if last:
        lines.append(f"Checkpoint:     {last}")
        lines.append(f"Resume with:    python train.py ckpt_path={last}")
        lines.append(f"Evaluate with:  python -m manga_cyclegan.evaluate ckpt={last}")
    if trainer.logger is not None and trainer.logger.log_dir:
        lines.append(f"TensorBoard:    tensorboard --logdir {trainer.logger.log_dir}")
    guard = getattr(trainer.lightning_module, "nonfinite", None)
    skipped = guard.skips if guard is not None else 0
    if skipped:
        lines.append(f"Skipped steps:  {skipped} with a non-finite loss (model.nonfinite=skip; see the log)")
    print("\n".join(lines), flush=True)


# ---- checks before any work ------------------------------------------------------------------------------
def check_config(cfg: DictConfig) -> None:
    """Allowed values of the model and data groups (Hydra checked their keys and types while composing, against
    ModelConfig and DataConfig), and the data folders, before anything is built."""
    hint = f"\n{config_hint('train.py')}"
    check_schema(cfg.model, ModelConfig, prefix="model.", hint=hint)
    check_schema(cfg.data, DataConfig, prefix="data.", hint=hint)
    check_data_folders(cfg.data)


def check_data_folders(data: DictConfig) -> None:
    """A user's own data (no synthetic set to generate, no mixed folder to split) needs trainA/ and trainB/."""
    from manga_cyclegan.data.layout import LAYOUT_HELP, missing_domain_folders

    if data.get("synthetic") is not None or data.get("mixed") is not None:
        return
    root = Path(str(data.root)).expanduser()
    missing = missing_domain_folders(root)
    if missing:
        what = "does not exist" if not root.is_dir() else f"has no {' or '.join(f'{m}/' for m in missing)} folder"
        raise RunError(f"data.root={root} {what}: nothing to train on.\n{LAYOUT_HELP}")


def output_folders(cfg: DictConfig) -> list[Path]:
    """The folders a run writes to: the run directory and the checkpoint folder."""
    folders = [Path(cfg.paths.output_dir)]
    checkpoint = (cfg.get("callbacks") or {}).get("model_checkpoint")
    if checkpoint is not None and checkpoint.get("dirpath"):
        folders.append(Path(checkpoint.dirpath))
    return folders


def check_writable(folder: Path) -> None:
    """Create `folder` and a file in it, so that a full disk or a missing permission shows now, not after an
    epoch of training."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write_probe.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise RunError(cannot_write_message(folder, err)) from err


def output_folder_problem(err: OSError, folders: list[Path]) -> RunError | None:
    """The RunError for `err` if it concerns one of `folders` (named: the innermost one), else None."""
    concerned = [f for f in folders if is_inside(err.filename, f)]
    if not concerned:
        return None
    return RunError(cannot_write_message(max(concerned, key=lambda f: len(f.parts)), err))
