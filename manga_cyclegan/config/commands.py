"""The schemas of the commands' own configs: conf/train.yaml's top level, conf/predict.yaml, conf/export.yaml and
conf/evaluate.yaml (the conf/ folder of this package), typed, with the allowed values and one line on each key,
which the command's --help shows. Registered on `import manga_cyclegan.config`, before Hydra composes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Union

from omegaconf import MISSING

from manga_cyclegan.config.schema import (
    GeneratorArch,
    PageGuards,
    PathsConfig,
    choice,
    option,
    register,
)
from manga_cyclegan.io.outputs import FORMATS as PAGE_FORMATS

# Output modes of the colorizer and the precisions it runs in (manga_cyclegan.colorize.colorizer).
MODES = ("flat", "lines", "raw")
PRECISIONS = ("fp32", "bf16", "fp16")
EXPORT_FORMATS = ("safetensors", "onnx")
CONSISTENCY = ("none", "palette")

# Keys several commands share, with their one line.
CKPT_HELP = "the weights: a training checkpoint (.ckpt), an exported .safetensors, or the reference's *_net_G_A.pth"
DEVICE_HELP = "auto (a GPU where there is one, else the CPU), cpu, cuda or cuda:N"
LOG_FOLDER_HELP = "names the log's folder: outputs/<task_name>/runs/<date>/"


@dataclass
class TrainConfig:
    """Train the colorizer: a CycleGAN on unpaired B/W and color pages (no argument: the demo on a synthetic set).

    The top level of conf/train.yaml, whose values it states; the groups' keys are checked by their own schemas
    (ModelConfig, DataConfig) while Hydra composes."""

    task_name: str = option(MISSING, "names the run folders: outputs/<task_name>/runs/<date>/")
    seed: int = option(MISSING, "seeds the weights' initialization and the data's sampling (model.seed, data.seed)")
    ckpt_path: Optional[str] = option(MISSING, "a checkpoint (last.ckpt) to resume from: optimizers, schedules, "
                                               "pools and step included")
    optimized_metric: Optional[str] = option(MISSING, "the logged metric a sweep (-m, hparams_search) optimizes")
    data: Any = None
    model: Any = None
    trainer: Any = None
    callbacks: Any = None
    logger: Any = None
    paths: Any = None  # untyped, as before: `--cfg job --resolve` shows paths.output_dir (null then) without an error


@dataclass
class FlatRegions:
    """How the flat output finds the regions it fills with one color (manga_cyclegan.colorize.flat)."""

    flat_regions: bool = option(True, "flat mode: one color per region the ink lines enclose (false: pixel by "
                                      "pixel)")
    close_gaps: int = option(0, "flat regions: outline gaps up to about twice this many pixels still part two "
                                "regions (trapped-ball radius, e.g. 2; 0: off)")
    split_tones: bool = option(False, "flat regions: white paper and screened areas never share a region")
    split_colors: bool = option(False, "flat regions: a region the generator paints in two clearly different "
                                       "colors is split between them")


@dataclass
class PredictConfig(FlatRegions, PageGuards):
    """Colorize manga pages with a trained colorizer (G_AB): a page, a folder, a glob or .cbz/.zip chapters."""

    task_name: str = option("predict", LOG_FOLDER_HELP)
    ckpt: str = option("???", CKPT_HELP)
    input: str = option("???", "a page, a folder (recursive), a glob ('scans/*.jpg'), or .cbz/.zip chapters")
    output: Optional[str] = option(None, "where the pages go, mirroring the input's paths (null: "
                                         "outputs/colorized/<the input's name>)")
    mode: str = choice("flat", MODES, help="flat: flat colors under the page's own ink lines; lines: the model's "
                                           "colors on the page's own tones; raw: the generator's RGB")
    working_size: Union[int, str] = choice("auto", ("auto", "native"), otherwise="a long side in pixels",
                                           help="the size the generator runs at (auto: the scale it was trained at; "
                                                "native: the page's own)")
    tile_pixels: Optional[Union[int, str]] = choice("auto", ("auto",), otherwise="a number of pixels, or null",
                                                    help="above this many working pixels, run in tiles: bounded "
                                                         "memory, slower (auto: where strips would not fit; null: "
                                                         "never)")
    device: str = option("auto", DEVICE_HELP)
    precision: str = choice("auto", ("auto", *PRECISIONS), help="auto: bf16 where the hardware computes in bf16, "
                                                                "else fp32")
    batch_size: int = option(1, "pages of the same size colorized together (helps on GPUs)")
    format: str = choice("same", ("same", *PAGE_FORMATS), help="the output pages' format (same: the input's "
                                                               "where it is png/jpg/webp, else png)")
    quality: int = option(95, "JPEG and WebP quality of the output pages")
    overwrite: bool = option(False, "redo pages whose output exists (false: skip them, so a rerun resumes)")
    force: bool = option(False, "colorize pages already in color too (false: copy them through)")
    color_threshold: float = option(0.05, "share of colored pixels above which a page counts as in color")
    progress: bool = option(True, "show a progress bar")
    overlap: bool = option(True, "read the next pages and write finished ones in background threads while the "
                                 "generator runs")
    compile: bool = option(False, "torch.compile the generator: each working size compiles once (seconds; needs a "
                                  "C++ compiler), the pages after it run faster (pays on chapters)")
    channels_last: Optional[bool] = option(None, "channels-last activations and weights (null: where measured "
                                                 "faster, CPUs with AMX)")
    consistency: str = choice("none", CONSISTENCY, help="palette: pull every page's colors halfway toward one "
                                                        "palette fit on the run's pages")
    palette_pages: int = option(16, "how many pages the palette is fit on (consistency=palette)")
    hints: Optional[str] = option(None, "a hints file (JSON): clicks that set a region's color, and the same part's "
                                        "on every page (README: Fixing colors)")
    hints_out: Optional[str] = option(None, "write the run's hints and where each color went to this JSON file, to "
                                            "edit and pass back as hints=")
    reference: Optional[str] = option(None, "colored pages or crops (a page, a folder, a glob): regions the model sees "
                                            "as theirs take their colors")
    arch: GeneratorArch = field(default_factory=GeneratorArch)
    paths: PathsConfig = field(default_factory=PathsConfig)


@dataclass
class ExportConfig:
    """Export the colorizer G_AB alone: for sharing (safetensors) or for runtimes without PyTorch (onnx)."""

    ckpt: str = option("???", CKPT_HELP)
    format: str = choice("safetensors", EXPORT_FORMATS, help="safetensors: the tensors with their architecture; "
                                                             "onnx: needs the `onnx` extra")
    output: Optional[str] = option(None, "the file to write (null: next to the checkpoint, with the format's "
                                         "suffix)")
    arch: GeneratorArch = field(default_factory=GeneratorArch)


@dataclass
class EvaluateConfig(FlatRegions):
    """Score a trained colorizer on a test set, with the baselines (gray copy, tone lookup) beside it."""

    task_name: str = option("evaluate", LOG_FOLDER_HELP)
    ckpt: str = option("???", CKPT_HELP)
    json: Optional[str] = option(None, "also write the table as JSON here")
    sheet: Optional[str] = option(None, "a contact sheet PNG, a row per page (null: beside the JSON, if any)")
    sheet_pages: int = option(8, "how many pages (rows) the contact sheet shows")
    device: str = option("auto", DEVICE_HELP)
    precision: str = choice("fp32", PRECISIONS, help="the precision the generator runs in")
    working_size: Union[int, str] = choice("auto", ("auto", "native"), otherwise="a long side in pixels",
                                           help="the size the generator runs at, as predict's working_size")
    baseline_fit_pages: int = option(64, "color training pages the tone-lookup baseline learns from")
    hints: Optional[int] = option(None, "also score a simulated reader's hints: up to N clicks, one per wrongly "
                                        "colored character part, the split taken as one chapter (a paired set)")
    reference: Optional[str] = option(None, "also score with these colored pages as predict's reference= (a test "
                                            "page whose truth is a reference is left out of both rows it adds)")
    seed: int = option(0, "seeds the data's sampling (data.seed)")
    data: Any = None
    arch: GeneratorArch = field(default_factory=GeneratorArch)
    paths: PathsConfig = field(default_factory=PathsConfig)


@dataclass
class AppConfig(FlatRegions, PageGuards):
    """Colorize and correct pages in the browser: a local web page (drop pages or a .cbz, compare, click to fix)."""

    task_name: str = option("app", LOG_FOLDER_HELP)
    ckpt: str = option("???", CKPT_HELP)
    host: str = option("127.0.0.1", "the address to listen on (another than loopback needs a token)")
    port: int = option(7860, "the port to listen on")
    token: Optional[str] = option(None, "every API call must carry it (null: none on loopback; another host gets "
                                        "a generated one, printed)")
    max_upload_mb: int = option(64, "the largest page or chapter one upload may be, in MiB")
    working_size: Union[int, str] = choice("auto", ("auto", "native"), otherwise="a long side in pixels",
                                           help="the size the generator runs at, as predict's working_size")
    device: str = option("auto", DEVICE_HELP)
    precision: str = choice("auto", ("auto", *PRECISIONS), help="auto: bf16 where the hardware computes in bf16, "
                                                                "else fp32")
    arch: GeneratorArch = field(default_factory=GeneratorArch)
    paths: PathsConfig = field(default_factory=PathsConfig)


register("train_schema", TrainConfig)
register("app_schema", AppConfig)
register("predict_schema", PredictConfig)
register("export_schema", ExportConfig)
register("evaluate_schema", EvaluateConfig)


@dataclass(frozen=True)
class Command:
    """One command: the schema of its config (conf/<name>.yaml), the console script pyproject.toml installs for
    it, and how it runs from a checkout (`python <script>`)."""

    schema: type
    console: str
    script: str


COMMANDS = {  # by config name
    "train": Command(TrainConfig, "manga-train", "train.py"),
    "predict": Command(PredictConfig, "manga-colorize", "predict.py"),
    "evaluate": Command(EvaluateConfig, "manga-evaluate", "-m manga_cyclegan.evaluate"),
    "export": Command(ExportConfig, "manga-export", "export.py"),
    "app": Command(AppConfig, "manga-app", "app.py"),
}
