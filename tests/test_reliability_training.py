"""Training when things go wrong, made to happen for real: a crash while a checkpoint is written.
"""

from __future__ import annotations

import errno
import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from manga_cyclegan.checkpointing import AtomicCheckpointIO, save_atomically, stale_temp_files
from tests.conftest import REPO


# ---- helpers --------------------------------------------------------------------------------------------------
def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


# ---- 2. a crash while writing a checkpoint ------------------------------------------------------------------
def good_checkpoint() -> dict:
    return {"epoch": 3, "state_dict": {"w": torch.arange(6.0)}}


def test_checkpoint_write_failing_midway_keeps_the_previous_last_ckpt(tmp_path, monkeypatch):
    last = tmp_path / "checkpoints" / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint(good_checkpoint(), last)
    real_save = torch.save

    def disk_full_halfway(obj, f):  # writes half of the real bytes, then the disk is full
        buffer = io.BytesIO()
        real_save(obj, buffer)
        f.write(buffer.getvalue()[: buffer.tell() // 2])
        f.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", disk_full_halfway)
    with pytest.raises(OSError, match="No space left") as failure:
        AtomicCheckpointIO().save_checkpoint({"epoch": 4, "state_dict": {"w": torch.zeros(1 << 20)}}, last)
    assert Path(failure.value.filename).parent == last.parent  # names where it failed, for the run's message
    torch.testing.assert_close(load(last), good_checkpoint())
    assert sorted(p.name for p in last.parent.iterdir()) == ["last.ckpt"]  # no partial temp file left


KILLED_WRITER = """
import sys, torch
from pathlib import Path
from manga_cyclegan.checkpointing import save_atomically
last = Path(sys.argv[1])
save_atomically({"epoch": 3, "state_dict": {"w": torch.arange(6.0)}}, last)
print("first saved", flush=True)
big = {"epoch": 4, "state_dict": {f"w{i}": torch.ones(1 << 22) for i in range(24)}}  # 384 MiB
save_atomically(big, last)
"""


def test_process_killed_while_writing_a_checkpoint_leaves_last_ckpt_readable(tmp_path):
    last = tmp_path / "last.ckpt"
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(KILLED_WRITER), str(last)], cwd=REPO,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "first saved"
        while not any(p.stat().st_size > 0 for p in stale_temp_files(last)):  # the big write has begun
            assert writer.poll() is None, "the big checkpoint was written before it could be interrupted"
            time.sleep(0.001)
        writer.send_signal(signal.SIGKILL)
    finally:
        writer.kill()
        writer.wait()
    assert writer.returncode == -signal.SIGKILL
    partial = stale_temp_files(last)
    assert len(partial) == 1 and partial[0].stat().st_size < 24 * (4 << 22)  # killed mid-write
    torch.testing.assert_close(load(last), good_checkpoint())  # the previous checkpoint, whole

    # The orphan of the killed writer goes with the next save of that checkpoint.
    save_atomically({"epoch": 5}, last)
    assert load(last) == {"epoch": 5} and stale_temp_files(last) == []


@pytest.mark.parametrize("trainer", ["cpu", "gpu", "ddp", "ddp_sim"])
def test_trainers_from_the_configs_write_checkpoints_atomically(trainer, tmp_path):
    from hydra.utils import instantiate

    from tests.test_configs import compose_train

    cfg = compose_train([f"trainer={trainer}", "trainer.accelerator=cpu", "trainer.devices=1"], tmp_path)
    assert any(plugin._target_ == "manga_cyclegan.checkpointing.AtomicCheckpointIO" for plugin in cfg.trainer.plugins)
    built = instantiate(cfg.trainer, logger=False, enable_progress_bar=False)
    assert isinstance(built.strategy.checkpoint_io, AtomicCheckpointIO)
