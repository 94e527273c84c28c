"""`manga-export` (python export.py): write the colorizer G_AB alone, as safetensors or ONNX, as conf/export.yaml
says. The formats themselves: manga_cyclegan.colorize.export and manga_cyclegan.colorize.weights."""

from pathlib import Path

import hydra
from omegaconf import DictConfig

from manga_cyclegan.colorize.export import ONNX_TOLERANCE, export_onnx, onnx_max_abs_diff
from manga_cyclegan.colorize.weights import load_colorizer, save_colorizer
from manga_cyclegan.commands import CONFIGS
from manga_cyclegan.config.commands import COMMANDS, ExportConfig
from manga_cyclegan.config.errors import (
    RunError,
    config_hint,
    errors_reported_in_one_line,
    startup_errors_explained,
)
from manga_cyclegan.config.schema import arch_overrides, check_config


def export(cfg: DictConfig) -> Path:
    """Export `cfg.ckpt` in `cfg.format` to `cfg.output` (default: next to the checkpoint); print what was written.
    An ONNX file that onnxruntime runs differently from PyTorch (beyond ONNX_TOLERANCE) raises RuntimeError."""
    check_config(cfg, ExportConfig, hint=f"\n{config_hint(COMMANDS['export'].script)}")
    colorizer = load_colorizer(cfg.ckpt, arch=arch_overrides(cfg.get("arch")))
    output = Path(cfg.output) if cfg.output else Path(cfg.ckpt).with_suffix(f".{cfg.format}")
    if cfg.format == "safetensors":
        save_colorizer(colorizer, output)
    else:
        export_onnx(colorizer, output)
        diff = onnx_max_abs_diff(colorizer, output)
        if diff is None:
            print("onnxruntime is not installed: the ONNX file was not checked against PyTorch")
        elif diff > ONNX_TOLERANCE:
            raise RuntimeError(f"{output}: onnxruntime and PyTorch differ by {diff:.2e} > {ONNX_TOLERANCE:g}")
        else:
            print(f"onnxruntime vs PyTorch: max abs difference {diff:.2e} (tolerance {ONNX_TOLERANCE:g})")
    print(f"Wrote {output} ({output.stat().st_size / 1e6:.2f} MB)")
    return output


@hydra.main(version_base="1.3", config_path=CONFIGS, config_name="export")
def task(cfg: DictConfig) -> None:
    with errors_reported_in_one_line():
        try:
            export(cfg)
        except (FileNotFoundError, ValueError) as e:
            raise RunError(str(e)) from e


def main() -> None:
    with startup_errors_explained(COMMANDS["export"].script):
        task()
