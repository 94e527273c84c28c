"""Training when things go wrong, made to happen for real: a run killed mid-epoch and resumed, a crash while a
checkpoint is written, NaN losses, an output folder that cannot be written. (Config errors: tests/config/test_configs.py.)

The callbacks below are test-only fault injectors, added to a run's config with `+callbacks.NAME={...}`.
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
import pytorch_lightning as pl
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from manga_cyclegan.config.errors import RunError
from manga_cyclegan.io.atomic import stale_temp_files
from manga_cyclegan.train.checkpointing import AtomicCheckpointIO, save_atomically
from manga_cyclegan.train.nonfinite import NonFiniteLossError
from manga_cyclegan.train.run import train as train_from_config
from tests.helpers import REPO, compose_train, run_script

HERE = __name__  # "tests.train.test_reliability": train.py instantiates the injectors from here
BATCHES = 6  # per epoch on the tiny set: max(#trainA, #trainB); two optimizer steps (global steps) each


# ---- fault injectors (Lightning callbacks, instantiated by the run) --------------------------------------
class NaNPages(pl.Callback):
    """Turn the B/W pages of chosen batches of one epoch into NaN (on one process, or all), as a corrupt page or
    an overflow upstream would: the losses that see them become NaN, the others stay finite."""

    def __init__(self, epoch: int, batches: list[int], rank: int | None = None):
        self.epoch, self.batches, self.rank = epoch, set(batches), rank

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        hit = trainer.current_epoch == self.epoch and batch_idx in self.batches
        if hit and self.rank in (None, trainer.global_rank):
            batch["A"].fill_(float("nan"))


class CheckpointFolderTurnsIntoAFile(pl.Callback):
    """At the end of the first epoch, just before its checkpoint is written (ModelCheckpoint runs last), the
    checkpoint folder is replaced by a file, as when the disk under it goes away: the write fails for real.
    With `rank`, only that process breaks it (the others share the folder)."""

    def __init__(self, rank: int | None = None):
        self.rank = rank

    def on_train_epoch_end(self, trainer, pl_module):
        if self.rank not in (None, trainer.global_rank):
            return
        folder = Path(trainer.checkpoint_callback.dirpath)
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()
        folder.write_text("")


def injector(name: str, cls: type, **kwargs) -> str:
    """The override that adds callback `cls(**kwargs)` to a run (numbers and lists of numbers only)."""
    args = ",".join(f"{k}:{v}".replace(" ", "") for k, v in kwargs.items())
    return f"+callbacks.{name}={{_target_:{HERE}.{cls.__name__}{',' if args else ''}{args}}}"


# ---- helpers --------------------------------------------------------------------------------------------------
def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def train(run_dir: Path, overrides: list[str], *extra: str, check: bool = True) -> subprocess.CompletedProcess:
    return run_script("train.py", [*overrides, f"hydra.run.dir={run_dir}", *extra], check=check)


def train_in_process(run_dir: Path, overrides: list[str]) -> dict[str, float]:
    """train(cfg) in this process, for cases whose command-line reporting another test covers: saves the
    seconds a fresh interpreter takes to import Lightning."""
    quiet = ["~callbacks.progress_bar", "+trainer.enable_progress_bar=false"]
    return train_from_config(compose_train([*overrides, *quiet], run_dir))


def scalars(run_dir: Path, tag: str) -> dict[int, float]:
    events = EventAccumulator(str(run_dir / "tensorboard")).Reload()
    return {e.step: e.value for e in events.Scalars(tag)} if tag in events.Tags()["scalars"] else {}


def all_finite(tensors) -> bool:
    return all(torch.isfinite(t).all() for t in tensors if t.is_floating_point())


def adam_moments(ckpt: dict) -> list[torch.Tensor]:
    return [t for opt in ckpt["optimizer_states"] for s in opt["state"].values() for k, t in s.items() if k != "step"]


def saved_epoch(path: Path) -> int | None:
    """Epoch of the checkpoint at `path`, None while there is none (it only ever appears whole)."""
    try:
        return load(path)["epoch"]
    except FileNotFoundError:
        return None


# ---- 1. killed mid-training, resumed exactly ------------------------------------------------------------------
def wait_for_epoch(proc: subprocess.Popen, last: Path, epoch: int, timeout: float = 240) -> float:
    """Poll until `last` holds `epoch`; returns when that was seen."""
    deadline = time.monotonic() + timeout
    while (saved_epoch(last) or -1) < epoch:
        assert proc.poll() is None, f"train.py ended ({proc.returncode}) before epoch {epoch} was saved"
        assert time.monotonic() < deadline, f"no checkpoint of epoch {epoch} after {timeout}s"
        time.sleep(0.05)
    return time.monotonic()


@pytest.mark.slow
def test_run_killed_mid_epoch_resumes_exactly_like_an_uninterrupted_run(tmp_path, tiny_overrides):
    # Four epochs (2 constant + 2 decaying LR); every batch's losses logged.
    run = [*tiny_overrides, "model.epochs_constant=2", "model.epochs_decay=2", "trainer.log_every_n_steps=1"]
    straight_dir, crashed_dir, resumed_dir = tmp_path / "straight", tmp_path / "crashed", tmp_path / "resumed"
    train(straight_dir, run)

    env = {**os.environ, "MANGA_CYCLEGAN_ROOT": str(REPO)}
    crashed = subprocess.Popen([sys.executable, str(REPO / "train.py"), *run, f"hydra.run.dir={crashed_dir}"],
                               cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = crashed_dir / "checkpoints" / "last.ckpt"
    try:
        epoch_0_seen = wait_for_epoch(crashed, last, 0)
        epoch_1_seen = wait_for_epoch(crashed, last, 1)
        time.sleep((epoch_1_seen - epoch_0_seen) / 2)  # half an epoch into epoch 2
        assert crashed.poll() is None
        crashed.send_signal(signal.SIGKILL)
    finally:
        crashed.kill()
        crashed.wait()
    assert crashed.returncode == -signal.SIGKILL
    assert not last.is_symlink()  # save_last=True: a fresh, complete save each epoch, not a link or a copy
    saved = load(last)
    assert (saved["epoch"], saved["global_step"]) == (1, 2 * BATCHES * 2)  # killed in epoch 2, before its save

    proc = train(resumed_dir, run, f"ckpt_path={last}")
    assert f"Restoring states from the checkpoint path at {last}" in proc.stdout + proc.stderr
    straight = load(straight_dir / "checkpoints" / "last.ckpt")
    resumed = load(resumed_dir / "checkpoints" / "last.ckpt")

    # It continued from the saved step: its first logged batch is the one after it (TensorBoard counts batches,
    # the global step optimizer steps), and the LR of epochs 2 and 3 is the decayed one of the uninterrupted
    # run (restored scheduler), not epoch 0's.
    resumed_losses, straight_losses = scalars(resumed_dir, "loss/G"), scalars(straight_dir, "loss/G")
    assert min(resumed_losses) == saved["global_step"] // 2
    assert list(scalars(resumed_dir, "lr").values()) == pytest.approx(list(scalars(straight_dir, "lr").values())[2:])
    assert (resumed["epoch"], resumed["global_step"]) == (straight["epoch"], straight["global_step"]) == (3, 48)
    assert resumed["lr_schedulers"] == straight["lr_schedulers"]

    # Same machine, same thread count, same order of operations: in practice the two runs are bitwise equal
    # (measured max difference 0). The tolerance only leaves room for CPU reductions whose summation order
    # may vary with thread scheduling; far below what a lost state costs.
    tolerance = dict(rtol=1e-4, atol=1e-5)
    for key, value in straight["state_dict"].items():
        torch.testing.assert_close(resumed["state_dict"][key], value, **tolerance, msg=key)
    for a, b in zip(adam_moments(resumed), adam_moments(straight), strict=True):
        torch.testing.assert_close(a, b, **tolerance)
    for pool in ("A", "B"):
        images = straight["image_pools"][pool]["images"]
        torch.testing.assert_close(resumed["image_pools"][pool]["images"], images, **tolerance)
        assert torch.equal(resumed["image_pools"][pool]["rng"], straight["image_pools"][pool]["rng"])
    assert resumed_losses.keys() <= straight_losses.keys()
    for step, value in resumed_losses.items():
        assert value == pytest.approx(straight_losses[step], rel=1e-4), step


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
from manga_cyclegan.train.checkpointing import save_atomically
last = Path(sys.argv[1])
save_atomically({"epoch": 3, "state_dict": {"w": torch.arange(6.0)}}, last)
print("first saved", flush=True)
big = {"epoch": 4, "state_dict": {f"w{i}": torch.ones(1 << 22) for i in range(24)}}  # 384 MiB
save_atomically(big, last)
"""


@pytest.mark.slow  # writes a 384 MiB checkpoint in a fresh interpreter
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

    cfg = compose_train([f"trainer={trainer}", "trainer.accelerator=cpu", "trainer.devices=1"], tmp_path)
    assert any(plugin._target_ == "manga_cyclegan.train.checkpointing.AtomicCheckpointIO" for plugin in cfg.trainer.plugins)
    built = instantiate(cfg.trainer, logger=False, enable_progress_bar=False)
    assert isinstance(built.strategy.checkpoint_io, AtomicCheckpointIO)


# ---- 3. NaN / Inf losses ------------------------------------------------------------------------------------
# The NaN B/W page makes exactly the losses that see it NaN: G_AB(real_A), its cycle, and G_BA's identity on it.
NAN_LOSSES = "G_AB=nan, cycle_A=nan, idt_A=nan"


@pytest.mark.slow
def test_nan_loss_stops_the_run_naming_loss_and_step_keeping_the_last_good_checkpoint(tmp_path, tiny_overrides):
    # DDP on two processes, the NaN on the second only: both must stop together (a lone stop would hang the
    # other in its next all-reduce), and rank 0 reports what rank 1 saw.
    run_dir = tmp_path / "nan"
    nan = injector("nan_pages", NaNPages, epoch=1, batches=[1], rank=1)
    proc = train(run_dir, tiny_overrides, "trainer=ddp_sim", "trainer.precision=32", "trainer.max_epochs=3", nan,
                 check=False)
    last = run_dir / "checkpoints" / "last.ckpt"
    steps_per_epoch = 2 * BATCHES // 2  # 3 batches per process
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert (f"Error: Non-finite loss at global step {steps_per_epoch + 2} (epoch 1, batch 1), generator phase on 1 "
            f"of 2 processes: G_AB (on another process), cycle_A (on another process), idt_A (on another process). "
            f"No optimizer step was taken with it; last good checkpoint: {last}. The run stops "
            f"(model.nonfinite=skip skips such steps instead).") in proc.stderr
    assert "Traceback" not in proc.stderr
    saved = load(last)
    assert (saved["epoch"], saved["global_step"]) == (0, steps_per_epoch)  # epoch 0's, not overwritten
    assert all_finite(saved["state_dict"].values()) and all_finite(adam_moments(saved))


@pytest.mark.slow
def test_skip_mode_skips_counts_and_reports_nonfinite_steps(tmp_path, tiny_overrides):
    run_dir = tmp_path / "skip"
    nan = injector("nan_pages", NaNPages, epoch=1, batches=[1, 2, 4])  # 2 in a row, then 1
    proc = train(run_dir, tiny_overrides, "trainer.max_epochs=2", "model.nonfinite=skip",
                 "model.max_nonfinite_skips=2", nan)
    log = proc.stdout + proc.stderr
    assert f"Non-finite loss at global step {2 * BATCHES + 2} (epoch 1, batch 1), generator phase: {NAN_LOSSES}." in log
    assert "Step skipped (3 so far)" in log
    assert "Skipped steps:  3 with a non-finite loss" in proc.stdout

    ckpt = load(run_dir / "checkpoints" / "last.ckpt")
    assert ckpt["global_step"] == 2 * (2 * BATCHES - 3)  # no optimizer step for the 3 skipped batches
    assert ckpt["nonfinite_skips"] == {"total": 3, "consecutive": 0}
    assert all_finite(ckpt["state_dict"].values()) and all_finite(adam_moments(ckpt))  # never stepped on NaN
    assert list(scalars(run_dir, "train/nonfinite_skips").values()) == [0, 3]  # at each epoch's end


@pytest.mark.slow  # trains in process
def test_skip_mode_stops_after_too_many_consecutive_nonfinite_steps(tmp_path, tiny_overrides):
    # In process: how train.py prints this error is the stop test's part.
    run_dir = tmp_path / "skip_stop"
    nan = injector("nan_pages", NaNPages, epoch=1, batches=[1, 2, 3])
    with pytest.raises(NonFiniteLossError) as stop:
        train_in_process(run_dir, [*tiny_overrides, "trainer.max_epochs=2", "model.nonfinite=skip",
                                   "model.max_nonfinite_skips=2", nan])
    message = str(stop.value)
    # Skipped batches 1 and 2 took no optimizer step: batch 3 comes right after batch 0's two steps.
    assert message.startswith(f"Non-finite loss at global step {2 * BATCHES + 2} (epoch 1, batch 3), "
                              f"generator phase: {NAN_LOSSES}.")
    assert message.endswith("That is 3 non-finite steps in a row (model.max_nonfinite_skips=2): the run stops.")
    assert load(run_dir / "checkpoints" / "last.ckpt")["global_step"] == 2 * BATCHES


# ---- 5. output folder not writable --------------------------------------------------------------------------
def unwritable_folder(tmp_path: Path, kind: str) -> Path:
    if kind == "under_a_file":  # mkdir fails with NotADirectoryError, for root too
        (tmp_path / "a_file").write_text("")
        return tmp_path / "a_file" / "run"
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        (folder / "probe").write_text("")
    except PermissionError:
        return folder
    pytest.skip("chmod does not stop this user (root) from writing; the under_a_file case covers it")


@pytest.mark.slow  # train.py in a fresh interpreter
@pytest.mark.parametrize("kind", ["under_a_file", "read_only"])
def test_unwritable_output_folder_fails_at_once_with_one_line(kind, tmp_path, tiny_overrides):
    folder = unwritable_folder(tmp_path, kind)
    try:
        proc = train(folder, tiny_overrides, check=False)
    finally:
        if kind == "read_only":
            folder.chmod(0o700)
    assert proc.returncode == 2
    message = proc.stderr.strip().splitlines()[-1]
    assert message.startswith(f"Error: Cannot write to the output folder {folder}")
    assert "check free space and permissions" in message


@pytest.mark.slow  # trains in process
def test_checkpoint_folder_failing_during_training_is_reported_as_a_folder_problem(tmp_path, tiny_overrides):
    # In process: train.py prints a RunError as one line (exit code 2), as the config-error tests show.
    run_dir = tmp_path / "run"
    breaks = injector("breaks_checkpoints", CheckpointFolderTurnsIntoAFile)
    with pytest.raises(RunError) as failure:
        train_in_process(run_dir, [*tiny_overrides, "trainer.max_epochs=2", breaks])
    assert str(failure.value) == (f"Cannot write to the output folder {run_dir / 'checkpoints'} (File exists): check "
                                  f"free space and permissions there, or write elsewhere with hydra.run.dir=FOLDER.")
    assert isinstance(failure.value.__cause__, FileExistsError)  # the real error of the checkpoint write


@pytest.mark.slow
def test_checkpoint_write_failing_on_rank_0_of_ddp_stops_every_process(tmp_path, tiny_overrides):
    # Only rank 0 writes checkpoints; the others wait for it at a barrier. Its failure must end the whole run with
    # the same message, not leave them waiting: a process left behind would keep the pipes open, and run_script's
    # timeout would fail the test.
    run_dir = tmp_path / "ddp"
    breaks = injector("breaks_checkpoints", CheckpointFolderTurnsIntoAFile, rank=0)
    proc = train(run_dir, tiny_overrides, "trainer=ddp_sim", "trainer.precision=32", "trainer.max_epochs=2", breaks,
                 check=False)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert (f"Error: Cannot write to the output folder {run_dir / 'checkpoints'} (File exists): check free space and "
            f"permissions there, or write elsewhere with hydra.run.dir=FOLDER.") in proc.stderr
    assert "Traceback" not in proc.stderr
