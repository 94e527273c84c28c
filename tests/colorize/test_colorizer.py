"""Colorizing pages: sizes, the lines mode's exact lightness, and safe checkpoint loading."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

from manga_cyclegan.color import transfer_chroma
import manga_cyclegan.colorize.colorizer as colorizer_module
from manga_cyclegan.colorize.colorizer import (
    Colorizer,
    colorize_pages,
    to_working_size,
    working_shape,
)
from manga_cyclegan.colorize.weights import load_colorizer
from manga_cyclegan.nets import ResnetGenerator
from manga_cyclegan.train.module import CycleGAN


def luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def test_lines_mode_keeps_the_page_luma_and_takes_the_model_chroma():
    rng = np.random.default_rng(0)
    page = rng.integers(0, 256, (45, 31), dtype=np.uint8)
    color = np.zeros((12, 8, 3), np.uint8)
    color[..., 0] = 200  # a reddish model output at a quarter of the size
    color[..., 1:] = 60
    out = transfer_chroma(page, color)
    assert out.shape == (45, 31, 3)
    in_gamut = (out > 0).all(-1) & (out < 255).all(-1)
    assert in_gamut.mean() > 0.3
    assert np.abs(luma(out) - page)[in_gamut].max() <= 2.0  # the page's lightness, up to rounding
    assert (out[..., 0].astype(int) - out[..., 2])[in_gamut].mean() > 40  # the red chroma arrived


def test_a_binary_screentone_page_still_gets_its_color():
    page = np.where(np.indices((40, 40)).sum(0) % 4 == 0, 0, 255).astype(np.uint8)  # only black and white
    blue = np.zeros((10, 10, 3), np.uint8)
    blue[..., 2] = 220
    blue[..., :2] = 90
    out = transfer_chroma(page, blue).astype(int)
    paper = page == 255
    assert (out[..., 2] - out[..., 0])[paper].min() >= 10  # white paper takes a tint of the model's blue
    assert luma(out.astype(np.uint8))[~paper].max() < 60  # the dots stay dark


@pytest.mark.parametrize("short_side", [None, 16])
def test_pages_of_odd_sizes_come_back_at_their_size(short_side):
    colorizer = Colorizer(ResnetGenerator(1, 3, ngf=4, n_blocks=1), short_side)
    pages = [np.full((37, 50), 128, np.uint8), np.zeros((21, 19), np.uint8)]
    lines = list(colorize_pages(colorizer, pages, "lines"))
    assert [p.shape for p in lines] == [(37, 50, 3), (21, 19, 3)]
    raw = list(colorize_pages(colorizer, pages, "raw"))
    # Short side 16, the other side rounded to a multiple of 4.
    expected = [(37, 50, 3), (21, 19, 3)] if short_side is None else [(16, 20, 3), (16, 16, 3)]
    assert [p.shape for p in raw] == expected


def test_working_size_shrinks_only_and_keeps_the_aspect():
    assert to_working_size(np.zeros((300, 200), np.uint8), 100).shape == (152, 100)
    assert to_working_size(np.zeros((30, 20), np.uint8), 100).shape == (30, 20)
    assert working_shape(1456, 1024, None, "auto") == (1024, 720)  # no training scale: long side 1024
    assert working_shape(1456, 1024, 512, "auto") == (728, 512)
    assert working_shape(1456, 1024, 512, 600) == (600, 420)
    assert working_shape(1456, 1024, 512, "native") == (1456, 1024)
    with pytest.raises(ValueError, match="working_size"):
        working_shape(10, 10, None, "big")


def test_colorizer_loads_from_a_training_checkpoint(tmp_path):
    model = CycleGAN(ngf=4, ndf=4, n_blocks=1)
    path = tmp_path / "model.ckpt"
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams),
                "datamodule_hyper_parameters": {"load_size": 64}}, path)
    colorizer = load_colorizer(path)
    assert colorizer.short_side == 64
    x = torch.rand(1, 1, 20, 20)
    torch.testing.assert_close(colorizer.generator(x), model.G_AB.eval()(x))


class Smuggler:
    """Unpickling this runs os.system: a stand-in for a hostile checkpoint."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_checkpoint_carrying_pickled_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {}, "payload": Smuggler(marker)}, path)
    with pytest.raises(pickle.UnpicklingError):
        load_colorizer(path)
    assert not marker.exists()


def test_missing_and_foreign_checkpoints_get_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_colorizer(tmp_path / "nope.ckpt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a manga-cyclegan training checkpoint"):
        load_colorizer(tmp_path / "other.pt")


def test_bf16_on_a_cpu_without_bf16_units_is_warned_about(monkeypatch):
    import manga_cyclegan.config.precision as config

    monkeypatch.setattr(config, "cpu_has_bf16_units", lambda: False)
    assert "emulated" in config.emulated_bf16_warning("bf16-mixed", "cpu")
    assert "emulated" in config.emulated_bf16_warning("bf16", "cpu")
    assert config.emulated_bf16_warning("32", "cpu") is None
    assert config.emulated_bf16_warning("bf16-mixed", "cuda") is None
    monkeypatch.setattr(config, "cpu_has_bf16_units", lambda: True)
    assert config.emulated_bf16_warning("bf16-mixed", "cpu") is None


def test_descreen_turns_a_screen_into_its_tone_and_keeps_a_flat_page():
    from manga_cyclegan.color import descreen

    screen = torch.where(torch.arange(32).view(1, 1, 1, 32).expand(1, 1, 32, 32) % 2 == 0, 1.0, -1.0)
    flat = descreen(screen, 1.5)
    assert flat.shape == screen.shape and flat.abs().max() < 0.05  # a 50 % screen becomes mid gray
    page = torch.full((1, 1, 8, 8), 0.3)
    torch.testing.assert_close(descreen(page, 2.0), page)  # even where the page is smaller than the kernel
    assert descreen(screen, 0.0) is screen


def test_a_descreening_colorizer_is_loaded_with_its_sigma_and_descreens_in_predict(tmp_path):
    from manga_cyclegan.color import descreen

    model = CycleGAN(ngf=4, ndf=4, n_blocks=1, descreen_sigma=1.5)
    path = tmp_path / "m.ckpt"
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}, path)
    colorizer = load_colorizer(path)
    assert colorizer.descreen_sigma == 1.5
    page = np.where(np.indices((24, 24)).sum(0) % 2 == 0, 0, 255).astype(np.uint8)
    out = next(colorize_pages(colorizer, [page], "raw"))
    with torch.no_grad():
        expected = model.G_AB(descreen(torch.from_numpy(page).float().div(127.5).sub(1)[None, None], 1.5))
    assert np.abs(out.astype(int) - ((expected[0].permute(1, 2, 0).clamp(-1, 1) + 1) * 127.5).round().numpy()).max() <= 1


def test_a_compiled_generator_colors_pages_as_the_eager_one_does():
    torch.manual_seed(0)
    colorizer = Colorizer(ResnetGenerator(1, 3, ngf=4, n_blocks=1).eval(), None)
    pages = [np.random.default_rng(0).integers(0, 256, (37, 50), dtype=np.uint8)]
    eager = list(colorize_pages(colorizer, pages, "raw"))
    compiled = list(colorize_pages(colorizer, pages, "raw", compile=True))
    assert colorizer.generator in colorizer_module._COMPILED  # the compiled graph ran, not the eager path
    assert compiled[0].shape == eager[0].shape == (37, 50, 3)
    assert np.abs(compiled[0].astype(int) - eager[0]).max() <= 1  # float rounding, in uint8 steps


def test_channels_last_is_chosen_where_it_was_measured_to_pay_and_as_told_elsewhere(monkeypatch):
    import manga_cyclegan.config.precision as config

    monkeypatch.setattr(config, "cpu_has_amx", lambda: True)
    assert config.resolve_channels_last(None, "cpu") and not config.resolve_channels_last(None, "cuda")
    assert not config.resolve_channels_last(False, "cpu") and config.resolve_channels_last(True, "cuda")
    monkeypatch.setattr(config, "cpu_has_amx", lambda: False)
    assert not config.resolve_channels_last(None, "cpu")


def test_channels_last_predict_gives_the_contiguous_pages():
    from manga_cyclegan.colorize.colorizer import InferenceSettings, generator_colors

    torch.manual_seed(0)
    colorizer = Colorizer(ResnetGenerator(1, 3, ngf=8, n_blocks=2).eval(), None)
    pages = [np.random.default_rng(0).integers(0, 256, (70, 90), dtype=np.uint8)]
    plain = generator_colors(colorizer, pages, InferenceSettings(mode="raw", channels_last=False))
    assert not any(p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
                   for p in colorizer.generator.parameters())
    fast = generator_colors(colorizer, pages, InferenceSettings(mode="raw", channels_last=True))
    assert any(p.dim() == 4 and not p.is_contiguous() for p in colorizer.generator.parameters())
    assert np.abs(plain[0].astype(int) - fast[0].astype(int)).max() <= 1
