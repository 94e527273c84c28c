"""The schemas of the commands' own configs: conf/predict.yaml, conf/export.yaml, conf/evaluate.yaml, typed, with
the allowed values. Registered on `import manga_cyclegan.config`, before Hydra composes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Union

from manga_cyclegan.config.schema import (
    GeneratorArch,
    PageGuards,
    PathsConfig,
    choice,
    register,
)
from manga_cyclegan.io.outputs import FORMATS as PAGE_FORMATS

# Output modes of the colorizer and the precisions it runs in (manga_cyclegan.colorize.colorizer).
MODES = ("flat", "lines", "raw")
PRECISIONS = ("fp32", "bf16", "fp16")
EXPORT_FORMATS = ("safetensors", "onnx")
CONSISTENCY = ("none", "palette")


@dataclass
class PredictConfig(PageGuards):
    task_name: str = "predict"
    ckpt: str = "???"
    input: str = "???"
    output: Optional[str] = None
    mode: str = choice("flat", MODES)
    flat_regions: bool = True
    working_size: Union[int, str] = choice("auto", ("auto", "native"), otherwise="a long side in pixels")
    tile_pixels: Optional[Union[int, str]] = choice("auto", ("auto",), otherwise="a number of pixels, or null")
    device: str = "auto"
    precision: str = choice("auto", ("auto", *PRECISIONS))
    batch_size: int = 1
    format: str = choice("same", ("same", *PAGE_FORMATS))
    quality: int = 95
    overwrite: bool = False
    force: bool = False
    color_threshold: float = 0.05
    progress: bool = True
    consistency: str = choice("none", CONSISTENCY)
    palette_pages: int = 16
    arch: GeneratorArch = field(default_factory=GeneratorArch)
    paths: PathsConfig = field(default_factory=PathsConfig)




@dataclass
class ExportConfig:
    """conf/export.yaml's schema."""

    ckpt: str = "???"
    format: str = choice("safetensors", EXPORT_FORMATS)
    output: Optional[str] = None
    arch: GeneratorArch = field(default_factory=GeneratorArch)


@dataclass
class EvaluateConfig:
    task_name: str = "evaluate"
    ckpt: str = "???"
    json: Optional[str] = None
    sheet: Optional[str] = None
    sheet_pages: int = 8
    device: str = "auto"
    precision: str = choice("fp32", PRECISIONS)
    baseline_fit_pages: int = 64
    seed: int = 0
    data: Any = None
    arch: GeneratorArch = field(default_factory=GeneratorArch)
    paths: PathsConfig = field(default_factory=PathsConfig)


register("predict_schema", PredictConfig)
register("export_schema", ExportConfig)
register("evaluate_schema", EvaluateConfig)
