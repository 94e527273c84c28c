"""The non-finite loss guard the CycleGAN calls before each phase's backward.

One isfinite check on the phase's summed loss, agreed by all DDP processes. If it fails, "stop" raises
NonFiniteLossError naming the losses and the step, with no optimizer step taken; "skip" skips the step, counts it,
and stops after `max_skips` consecutive skips. The counts are training state: they go into checkpoints.
"""

from __future__ import annotations

import logging
import math

import torch

from manga_cyclegan.config.errors import RunError

log = logging.getLogger(__name__)


class NonFiniteLossError(RunError):
    """A loss became NaN/Inf: the run stops before an optimizer step is taken with it, reported in one line.
    Exit code 1: the command was right, the training failed."""

    exit_code = 1


class NonFiniteGuard:
    def __init__(self, mode: str = "stop", max_skips: int = 10):
        self.mode, self.max_skips = mode, max_skips
        self.skips = 0  # steps skipped over the whole run (resumes included)
        self.consecutive = 0

    def allows_step(self, module, total: torch.Tensor, losses: dict, phase: str, batch_idx: int) -> bool:
        """True if this phase may step; else stops the run or counts a skipped step. Cheap when all is well: one
        isfinite and one (DDP: reduced) flag; the per-loss values are only looked at when the sum is not finite."""
        failing = int(_count_across_processes(module, ~torch.isfinite(total.detach())))
        if failing == 0:
            return True
        message = _message(module, losses, phase, batch_idx, failing)
        if self.mode == "stop":
            raise NonFiniteLossError(f"{message} The run stops (model.nonfinite=skip skips such steps instead).")
        self.skips += 1
        self.consecutive += 1
        if self.consecutive > self.max_skips:
            raise NonFiniteLossError(f"{message} That is {self.consecutive} non-finite steps in a row "
                                     f"(model.max_nonfinite_skips={self.max_skips}): the run stops.")
        if module.trainer.is_global_zero:
            log.warning("%s Step skipped (%d so far).", message, self.skips)
        return False

    def step_done(self) -> None:
        self.consecutive = 0

    def state_dict(self) -> dict:
        return {"total": self.skips, "consecutive": self.consecutive}

    def load_state_dict(self, state: dict) -> None:
        self.skips, self.consecutive = state.get("total", 0), state.get("consecutive", 0)


def _count_across_processes(module, flags: torch.Tensor) -> torch.Tensor:
    """Sum boolean flags over DDP processes, so that every process takes the same decision."""
    flags = flags.to(torch.int32)
    if module.trainer.world_size > 1:
        flags = module.trainer.strategy.reduce(flags, reduce_op="sum")
    return flags


def _message(module, losses: dict, phase: str, batch_idx: int, failing: int) -> str:
    """Which losses are not finite (this process's values; names only for the other processes') and where."""
    flags = torch.stack([~torch.isfinite(v.detach()) for v in losses.values()])
    processes = _count_across_processes(module, flags).tolist()  # per loss: on how many processes
    bad = {name: float(losses[name].detach()) for name, n in zip(losses, processes) if n}
    names = ", ".join(f"{name}={value:.4g}" if not math.isfinite(value) else f"{name} (on another process)"
                      for name, value in bad.items())
    world = module.trainer.world_size
    where = f" on {failing} of {world} processes" if world > 1 else ""
    last = getattr(module.trainer.checkpoint_callback, "last_model_path", "") or "none written yet"
    return (f"Non-finite loss at global step {module.global_step} (epoch {module.current_epoch}, batch {batch_idx}), "
            f"{phase} phase{where}: {names}. No optimizer step was taken with it; last good checkpoint: {last}.")
