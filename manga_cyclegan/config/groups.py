"""The schemas of the config groups conf/model and conf/data: every argument of the CycleGAN and of the
DataModule, typed, with the allowed values. Registered on `import manga_cyclegan.config`, before Hydra composes,
without importing Lightning."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from manga_cyclegan.config.schema import PageGuards, choice, register
from manga_cyclegan.nets.generator import UPSAMPLES
from manga_cyclegan.nets.layers import NORMS

GAN_MODES = ("lsgan", "vanilla")
NONFINITE_MODES = ("stop", "skip")


@dataclass
class GeneratorConfig:
    """The generators' architecture (G_AB, the colorizer, and G_BA)."""

    ngf: int = 64
    n_blocks: int = 9
    norm: str = choice("instance", NORMS)
    upsample: str = choice("transpose", UPSAMPLES)
    dropout: bool = False


@dataclass
class ModelConfig(GeneratorConfig):
    """Every argument of manga_cyclegan.train.module.CycleGAN; conf/model/cyclegan_paper.yaml explains each."""

    _target_: str = "manga_cyclegan.train.module.CycleGAN"
    ndf: int = 64
    n_layers_d: int = 3
    spectral_norm_d: bool = False
    gan_mode: str = choice("lsgan", GAN_MODES)
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5
    descreen_sigma: float = 0.0
    pool_size: int = 50
    lr: float = 2e-4
    lr_d_ratio: float = 1.0
    beta1: float = 0.5
    beta2: float = 0.999
    epochs_constant: int = 100
    epochs_decay: int = 100
    fused_adam: Optional[bool] = None
    channels_last: bool = False
    compile: bool = False
    image_log_every_n_batches: int = 200
    val_samples: int = 4
    seed: int = 0
    nonfinite: str = choice("stop", NONFINITE_MODES)
    max_nonfinite_skips: int = 10




@dataclass
class SyntheticConfig:
    """The built-in synthetic manga set (manga_cyclegan.data.synthetic), generated once into the data cache."""

    seed: int = 0
    page_height: int = 320
    page_width: int = 256
    n_train_a: int = 300
    n_train_b: int = 300
    n_test: int = 24


@dataclass
class DataConfig(PageGuards):
    """Every argument of manga_cyclegan.data.datamodule.UnpairedDataModule; conf/data/folder.yaml explains each."""

    _target_: str = "manga_cyclegan.data.datamodule.UnpairedDataModule"
    _convert_: str = "all"
    root: Optional[str] = None
    crop_size: int = 256
    load_size: Optional[int] = None
    scale: List[float] = field(default_factory=lambda: [1.0, 1.0])
    flip: bool = True
    batch_size: int = 1
    num_workers: int = 2
    pin_memory: bool = False
    persistent_workers: bool = True
    epoch_size: Optional[int] = None
    seed: int = 0
    val_max_size: Optional[int] = 512
    val_pages: Optional[int] = 16
    holdout: int = 4
    mixed: Optional[str] = None
    mixed_split_dir: Optional[str] = None
    color_threshold: float = 0.05
    synthetic: Optional[SyntheticConfig] = None




register("model_schema", ModelConfig, group="model")
register("data_schema", DataConfig, group="data")
