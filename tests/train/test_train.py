"""The real `train.py` on a tiny synthetic set: artefacts, resume, precision, DDP, sweeps."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from manga_cyclegan.train.module import CycleGAN
from tests.helpers import run_script

pytestmark = pytest.mark.slow  # every test here runs train.py


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def train(tmp_path: Path, name: str, overrides: list[str], *extra: str):
    run_dir = tmp_path / name
    proc = run_script("train.py", [*overrides, f"hydra.run.dir={run_dir}", *extra])
    return run_dir, proc


def test_train_writes_checkpoint_logs_with_images_and_says_where(tmp_path, tiny_overrides):
    run_dir, proc = train(tmp_path, "run", tiny_overrides, "model.epochs_constant=1", "model.epochs_decay=1")

    last = run_dir / "checkpoints" / "last.ckpt"
    assert last.is_file()
    assert f"Checkpoint:     {last}" in proc.stdout
    assert "tensorboard --logdir" in proc.stdout
    assert (run_dir / "config.yaml").is_file()

    ckpt = load(last)
    assert ckpt["epoch"] == 1
    batches = 6  # max(#trainA, #trainB): the larger domain is not truncated
    assert ckpt["global_step"] == 2 * batches * 2  # two optimizer steps per batch, two epochs
    assert len(ckpt["image_pools"]["B"]["images"]) == 3
    assert 0.5 < ckpt["page_scale"]["stroke_width"] < 12  # the training pages' strokes, as the generator saw them

    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"images": 0}).Reload()
    tags = events.Tags()
    assert any(t.startswith("train/samples") for t in tags["images"])
    assert any(t.startswith("val/sample_0") for t in tags["images"])
    assert "val/contact_sheet" in tags["images"]  # B/W | flat output | raw | truth, as evaluate draws it
    for scalar in ("loss/G_AB", "loss/cycle_A", "loss/idt_B", "loss/D_B", "val/cycle_l1", "val/char_color_acc",
                   "val/raw_char_color_acc", "lr"):
        assert scalar in tags["scalars"], scalar
    # The LR decays in the second epoch: constant 1 epoch, then linear decay over 1 (factor 1/2); the demo's 5e-4.
    lrs = [e.value for e in events.Scalars("lr")]
    assert lrs == pytest.approx([5e-4, 2.5e-4])

    model = CycleGAN.load_from_checkpoint(last, map_location="cpu", weights_only=True)
    assert model.hparams.ngf == 8
    out = model(torch.zeros(1, 1, 37, 29))
    assert out.shape == (1, 3, 37, 29)


def test_warm_up_batches_train_g_ab_alone_then_the_full_cyclegan(tmp_path, tiny_overrides):
    run_dir, _ = train(tmp_path, "warmup", tiny_overrides, "model.epochs_constant=1", "model.epochs_decay=1",
                       "model.warmup_batches=4", "trainer.log_every_n_steps=1")
    ckpt = load(run_dir / "checkpoints" / "last.ckpt")
    # 12 batches: 4 warm-up batches step one optimizer, the 8 others both.
    assert ckpt["global_step"] == 4 + 2 * 8
    assert len(ckpt["image_pools"]["B"]["images"]) == 3  # the full CycleGAN ran after the warm-up
    events = EventAccumulator(str(run_dir / "tensorboard")).Reload()
    assert "loss/warmup" in events.Tags()["scalars"] and "loss/G_AB" in events.Tags()["scalars"]


def test_palette_term_learns_the_palette_of_the_training_color_pages_and_keeps_it_in_the_checkpoint(
        tmp_path, tiny_overrides):
    run_dir, _ = train(tmp_path, "palette", tiny_overrides, "model.epochs_constant=1", "model.epochs_decay=0",
                       "model.palette_classes=6", "trainer.log_every_n_steps=1")
    state = load(run_dir / "checkpoints" / "last.ckpt")["state_dict"]
    assert bool(state["palette_term.fitted"])
    centers = state["palette_term.centers"][state["palette_term.weights"] > 0]
    assert len(centers) >= 2 and centers.abs().max() <= 1.0  # colors of the pages, in the generator's range
    events = EventAccumulator(str(run_dir / "tensorboard")).Reload()
    assert "loss/palette" in events.Tags()["scalars"]


def test_resume_continues_exactly_where_the_interrupted_run_stopped(tmp_path, tiny_overrides):
    two_epochs = [*tiny_overrides, "model.epochs_constant=1", "model.epochs_decay=1"]
    straight, _ = train(tmp_path, "straight", two_epochs)
    first, _ = train(tmp_path, "first", two_epochs, "trainer.max_epochs=1")  # same schedule, stopped early
    first_ckpt = load(first / "checkpoints" / "last.ckpt")
    assert first_ckpt["epoch"] == 0

    resumed, proc = train(tmp_path, "resumed", two_epochs, f"ckpt_path={first / 'checkpoints' / 'last.ckpt'}")
    assert "Restoring states from the checkpoint" in proc.stdout + proc.stderr

    a, b = load(straight / "checkpoints" / "last.ckpt"), load(resumed / "checkpoints" / "last.ckpt")
    assert b["global_step"] == a["global_step"]
    assert b["lr_schedulers"][0]["last_epoch"] == a["lr_schedulers"][0]["last_epoch"]
    # Optimizer moments, pool and data order were restored, so the weights follow the same path.
    for key, value in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][key], value, rtol=1e-4, atol=1e-5, msg=key)
    torch.testing.assert_close(b["image_pools"]["A"]["images"], a["image_pools"]["A"]["images"])


def test_bf16_mixed_training_runs_and_learns_finite_weights(tmp_path, tiny_overrides):
    run_dir, proc = train(tmp_path, "bf16", tiny_overrides, "trainer.precision=bf16-mixed", "trainer.max_epochs=1")
    assert "precision bf16-mixed" in proc.stdout + proc.stderr
    state = load(run_dir / "checkpoints" / "last.ckpt")["state_dict"]
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
    assert all(v.dtype != torch.bfloat16 for v in state.values())  # master weights stay fp32


def test_ddp_sim_trains_in_two_processes(tmp_path, tiny_overrides):
    run_dir, proc = train(tmp_path, "ddp", tiny_overrides, "trainer=ddp_sim", "trainer.precision=32", "trainer.max_epochs=1")
    log = proc.stdout + proc.stderr
    assert "distributed_backend=gloo" in log and "All distributed processes registered" in log
    ckpt = load(run_dir / "checkpoints" / "last.ckpt")
    # 6 pairs per epoch split over 2 processes: 3 batches each, two optimizer steps per batch.
    assert ckpt["global_step"] == 6


def test_multirun_sweep_runs_each_job_in_its_own_directory(tmp_path, tiny_overrides):
    sweep_dir = tmp_path / "sweep"
    run_script("train.py", ["-m", *tiny_overrides, "trainer.max_epochs=1", "model.lambda_cycle=5,10", f"hydra.sweep.dir={sweep_dir}"])
    for job, weight in (("0", 5.0), ("1", 10.0)):
        ckpt = load(sweep_dir / job / "checkpoints" / "last.ckpt")
        assert ckpt["hyper_parameters"]["lambda_cycle"] == weight
