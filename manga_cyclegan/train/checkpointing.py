"""Checkpoints written so that a crash while writing never leaves `last.ckpt` unreadable.

Lightning 2.6's TorchCheckpointIO serializes into memory and lets fsspec write the bytes to a file made by
`tempfile.mkstemp()` in the *system* temp folder, then `shutil.move`s it over the target. That is an atomic rename
only when the temp folder and the run folder share a file system; otherwise (a tmpfs /tmp, a network or scratch
disk for outputs) the move copies the bytes into `last.ckpt` itself, and a crash during the copy truncates it.
Nothing is fsynced, and a kill mid-write leaves a checkpoint-sized orphan in /tmp.

Here checkpoints go through `manga_cyclegan.io.atomic` (a temp file in the checkpoint's own folder, fsynced,
renamed, the folder fsynced). Temp files left by a killed process are removed on the next save of the same
checkpoint.

In DDP only rank 0 writes, and the other ranks wait for it at a barrier that a failed write never reaches.
`AgreeingDDPStrategy` tells them whether the write worked, so that every process stops with the same error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins import TorchCheckpointIO
from pytorch_lightning.strategies import DDPStrategy

from manga_cyclegan.io.atomic import atomic_path


def save_atomically(checkpoint: dict[str, Any], path: Path) -> None:
    """torch.save `checkpoint` to `path` through the atomic writer; temp files of killed saves are removed first."""
    with atomic_path(path, remove_stale=True) as tmp, open(tmp, "wb") as f:
        torch.save(checkpoint, f)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's CheckpointIO for local paths, with `save_atomically`; remote URLs keep Lightning's writer."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if storage_options is not None or "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options=storage_options)
        save_atomically(checkpoint, Path(path))


class AgreeingDDPStrategy(DDPStrategy):
    """DDP whose checkpoint writes fail on every process together.

    Without it, a write that fails on rank 0 (disk full, folder gone) ends rank 0 with a clear message while the
    other ranks wait at Lightning's barrier after the write: until the process group's timeout (30 minutes by
    default), or until the lost connection ends them with a traceback of their own. Here rank 0 sends the write's
    outcome to all ranks, and each raises the same OSError, so train() reports it once and every process exits
    with the same code. Every rank calls `save_checkpoint`, so the broadcast is collective.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], filepath, storage_options: Any | None = None) -> None:
        error = None
        try:
            super().save_checkpoint(checkpoint, filepath, storage_options=storage_options)
        except Exception as err:  # noqa: BLE001 (sent to the other ranks, then raised)
            error = err
        outcome = None if error is None else (isinstance(error, OSError), getattr(error, "errno", None),
                                              getattr(error, "strerror", None) or str(error),
                                              getattr(error, "filename", None) or str(filepath))
        outcome = self.broadcast(outcome, src=0)
        if error is not None:
            raise error
        if outcome is not None:
            is_os_error, errno, message, filename = outcome
            if is_os_error:
                raise OSError(errno, message, filename)
            raise RuntimeError(f"Rank 0 could not write the checkpoint {filename}: {message}")
