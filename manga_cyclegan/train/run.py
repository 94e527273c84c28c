"""train(cfg): build everything a composed config names, fit, and report where the results are.

Problems the user can fix (a wrong type in an override, no data, an output folder that cannot be written, a
NaN loss) end a single run with one message and no traceback; config values and folders are checked before
any work starts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import types
import typing
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from manga_cyclegan.config.precision import emulated_bf16_warning

# Lightning (and with it the model and the data) takes seconds to import: it is imported where it is used,
# so that train.py reports a config error as soon as Hydra finds it.
if typing.TYPE_CHECKING:
    import pytorch_lightning as pl

log = logging.getLogger(__name__)

CONFIG_HINT = ("Hint: `python train.py --help` lists the config groups and their options; "
               "`python train.py --cfg job [overrides]` prints the composed config with every key and value.")
# Config groups whose arguments are checked against their _target_'s signature before anything is built.
CHECKED_GROUPS = ("model", "data")


class RunError(Exception):
    """A problem with the command (config, data, output folder): reported in one message, exit code 2."""

    exit_code = 2


class ReportedExit(SystemExit):
    """The process ends after its error was printed; nothing is to be added to it."""


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
    skipped = getattr(trainer.lightning_module, "nonfinite_skips", 0)
    if skipped:
        lines.append(f"Skipped steps:  {skipped} with a non-finite loss (model.nonfinite=skip; see the log)")
    print("\n".join(lines), flush=True)


# ---- checks before any work ------------------------------------------------------------------------------
def check_config(cfg: DictConfig) -> None:
    """Argument names and types of the checked groups, and the data folders, before anything is built."""
    for group in CHECKED_GROUPS:
        check_arguments(group, cfg[group])
    check_data_folders(cfg.data)


def check_arguments(group: str, section: DictConfig) -> None:
    """Each key of `section` must be an argument of its `_target_`, of the annotated type (Hydra's own
    composition only checks keys: these configs have no schema, so `model.ngf=abc` would reach the model)."""
    target = hydra.utils.get_class(section._target_)
    hints = typing.get_type_hints(target.__init__)
    for key, value in OmegaConf.to_container(section, resolve=True).items():
        if key.startswith("_"):
            continue
        if key not in hints:
            raise RunError(f"{group}.{key} is not an argument of {section._target_}.\n{CONFIG_HINT}")
        if not matches_type(value, hints[key]):
            raise RunError(f"{group}.{key}={value!r} has the wrong type: {section._target_} expects "
                           f"{type_name(hints[key])}.\n{CONFIG_HINT}")


def matches_type(value, hint) -> bool:
    """Plain scalar types only (int, float, bool, str, None and unions of them); anything else passes."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(matches_type(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:  # Hydra reads `data.root=2024` as a number: a folder name may look like one
        return isinstance(value, str | int | float) and not isinstance(value, bool)
    return True


def type_name(hint) -> str:
    return getattr(hint, "__name__", None) or str(hint)


def check_data_folders(data: DictConfig) -> None:
    """A user's own data (no synthetic set to generate, no mixed folder to split) needs trainA/ and trainB/."""
    from manga_cyclegan.data.datamodule import LAYOUT_HELP

    if data.get("synthetic") is not None or data.get("mixed") is not None:
        return
    root = Path(str(data.root)).expanduser()
    missing = [name for name in ("trainA", "trainB") if not (root / name).is_dir()]
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


def cannot_write_message(path: Path, err: OSError) -> str:
    reason = err.strerror or str(err)
    return (f"Cannot write to the output folder {path} ({reason}): check free space and permissions there, "
            f"or write elsewhere with hydra.run.dir=FOLDER.")


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
    concerned = [f for f in folders if is_under(err.filename, f)]
    if not concerned:
        return None
    return RunError(cannot_write_message(max(concerned, key=lambda f: len(f.parts)), err))


def is_under(filename, folder: Path) -> bool:
    if not filename:
        return False
    path, folder = Path(os.fsdecode(filename)).absolute(), folder.absolute()
    return path == folder or folder in path.parents


# ---- reporting errors ------------------------------------------------------------------------------------
_task_started = False  # set once Hydra has composed the config, made the run folder and called the task


@contextlib.contextmanager
def errors_reported_in_one_line():
    """Inside the task: a RunError or NonFiniteLossError ends a single run with its message (printed once, by
    rank 0) instead of a traceback. In sweeps it propagates, so that Hydra/Optuna fail just that job."""
    from pytorch_lightning.utilities.rank_zero import rank_zero_only

    from manga_cyclegan.train.module import NonFiniteLossError

    global _task_started
    _task_started = True
    try:
        yield
    except (RunError, NonFiniteLossError) as err:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise
        if rank_zero_only.rank == 0:
            print(f"Error: {err}", file=sys.stderr, flush=True)
        raise ReportedExit(getattr(err, "exit_code", 1)) from None


@contextlib.contextmanager
def startup_errors_explained():
    """Around `@hydra.main`. Before the task runs, Hydra composes the config and creates the run folder; on
    an error it prints it and exits, the error being the exit's __context__. Add one line: how to see the
    valid options, or, for a folder it could not create or write, what to check. Exit code 2 (the command is
    wrong), as for the errors train() reports itself. Errors of the task itself are left as Hydra shows them."""
    try:
        yield
    except ReportedExit:
        raise
    except SystemExit as stop:
        if stop.code in (0, None) or _task_started:
            raise
        os_error = first_os_error(stop.__context__)
        if os_error is not None and os_error.filename:
            print(f"Error: {cannot_write_message(Path(os.fsdecode(os_error.filename)), os_error)}", file=sys.stderr)
        else:
            print(CONFIG_HINT, file=sys.stderr)
        raise SystemExit(2) from None


def first_os_error(error: BaseException | None) -> OSError | None:
    """The OSError in an exception's chain (Hydra wraps a log file it cannot open in a ValueError)."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, OSError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None
