"""The training steps' own random generator, so that dropout draws the same after a resume.

Dropout (model.dropout) draws from torch's global generator, which Lightning neither saves nor keeps apart from
the DataLoaders (each new iterator draws a worker base seed from it, at points that differ between a fresh epoch
and a resumed one). So the training steps run on their own copy of the global generator, swapped in around each
batch; each process's copy is saved in the checkpoint and restored, and the steps after a resume draw what they
would have drawn. Data pairing, augmentation and the image pools have their own seeded generators.
"""

from __future__ import annotations

import torch
from pytorch_lightning.utilities import rank_zero_warn


class StepRNG:
    def __init__(self):
        self._step: dict | None = None
        self._outside: dict = {}
        self._saved: dict | None = None

    @staticmethod
    def _global(device: torch.device) -> dict:
        states = {"torch": torch.get_rng_state()}
        if device.type == "cuda":
            states["cuda"] = torch.cuda.get_rng_state(device)
        return states

    @staticmethod
    def _set_global(states: dict, device: torch.device) -> None:
        torch.set_rng_state(states["torch"])
        if "cuda" in states and device.type == "cuda":
            torch.cuda.set_rng_state(states["cuda"], device)

    def enter_step(self, device: torch.device) -> None:
        self._outside = self._global(device)
        if self._step is not None:
            self._set_global(self._step, device)

    def leave_step(self, device: torch.device) -> None:
        self._step = self._global(device)
        self._set_global(self._outside, device)

    def states(self, module) -> dict:
        """{"torch": [world, n] uint8, "cuda": [world, m] if on GPU}: every process's training-step generator."""
        states = self._step or self._global(module.device)
        if module.trainer.world_size == 1:
            return {k: v.unsqueeze(0) for k, v in states.items()}
        return {k: module.all_gather(v.to(module.device)).cpu() for k, v in states.items()}

    def load(self, saved: dict | None) -> None:
        """Keep a checkpoint's states until `restore`, where the rank is known."""
        self._saved = saved

    def restore(self, world_size: int, rank: int) -> None:
        saved, self._saved = self._saved, None
        if not saved:
            return
        if saved["torch"].shape[0] != world_size:
            rank_zero_warn("Resumed on another number of processes: dropout will not draw as the first run did.")
            return
        self._step = {k: v[rank] for k, v in saved.items()}
