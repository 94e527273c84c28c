"""The schemas of the config groups conf/model and conf/data: every argument of the CycleGAN and of the
DataModule, typed, with the allowed values. Registered on `import manga_cyclegan.config`, before Hydra composes,
without importing Lightning."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from manga_cyclegan.config.schema import PageGuards, choice, register, spec_schema
from manga_cyclegan.nets.generator import GeneratorSpec

GAN_MODES = ("lsgan", "vanilla")
NONFINITE_MODES = ("stop", "skip")


GeneratorConfig = spec_schema(
    "GeneratorConfig", GeneratorSpec, leave_out=("in_channels", "out_channels"),
    doc="The generators' architecture (G_AB, the colorizer, and G_BA; their channels are the domains').",
)


@dataclass
class ModelConfig(GeneratorConfig):
    """Every argument of manga_cyclegan.train.module.CycleGAN, with its default: the one home of both (conf/model
    only overrides). The defaults are the paper's CycleGAN (Zhu et al. 2017) as the reference trains it."""

    _target_: str = "manga_cyclegan.train.module.CycleGAN"
    ndf: int = 64
    n_layers_d: int = 3
    spectral_norm_d: bool = False
    gan_mode: str = choice("lsgan", GAN_MODES)
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5
    # G_BA's own identity term ||G_BA(rgb(real_A)) - real_A||; false drops it and its G_BA pass (it teaches the
    # colorizer G_AB nothing directly).
    identity_a: bool = True
    # Gaussian low-pass (std in pixels at the training scale) of every G_AB input, in training and in predict: the
    # screentone becomes its tone, so the identity term colorizes pages that look like the test pages. 0: off.
    descreen_sigma: float = 0.0
    # The first warmup_batches batches train G_AB alone on the identity pseudo-pairs (G_AB(gray(real_B)) -> real_B,
    # supervised; no discriminator, no G_BA): a fraction of a full step each. 0: off (the paper).
    warmup_batches: int = 0
    # The pseudo-pair term also as classification over palette_classes colors (k-means of the training color
    # pages, rebalanced toward rare colors as in Zhang et al. 2016; train/palette_term.py), weighted lambda_palette.
    # 0: off (the paper). palette_temperature: how sharply distance to a palette color decides its class.
    # palette_rebalance: Zhang et al.'s lambda, the uniform share mixed into the class frequencies before they are
    # inverted into weights (0.5 theirs; 1: no rebalancing).
    palette_classes: int = 0
    lambda_palette: float = 1.0
    palette_temperature: float = 0.02
    palette_rebalance: float = 0.5
    # The share of pseudo-pairs whose gray page is first printed with a dot screen of random angle and a pitch
    # (pixels at the training scale) log-uniform in screen_pitch (train/screening.py), so they look like screened
    # pages at every pitch in the range. 0: off (the paper's smooth gray).
    pseudo_pair_screen: float = 0.0
    screen_pitch: List[float] = field(default_factory=lambda: [2.0, 6.0])
    # true: a screened page joins its gray one as a second pseudo-pair (one more G_AB pass) instead of replacing it.
    screen_adds_pair: bool = False
    pool_size: int = 50
    lr: float = 2e-4
    # The discriminators' learning rate is lr * lr_d_ratio.
    lr_d_ratio: float = 1.0
    beta1: float = 0.5
    beta2: float = 0.999
    epochs_constant: int = 100
    epochs_decay: int = 100
    # Speed levers (benchmarks/train_step.py measures them). fused_adam None: torch's default Adam implementation.
    fused_adam: Optional[bool] = None
    # Channels-last activations (None: where measured to pay, CPUs with AMX) and torch.compile of the four
    # networks (the README's Performance section).
    channels_last: Optional[bool] = None
    compile: bool = False
    # A generator's passes that do not wait on each other (G_AB on real_A, fake_A and the pseudo-pair page) as one
    # batched call: the same losses, faster for small models, slower for the paper's (the Performance section).
    batched_passes: bool = False
    image_log_every_n_batches: int = 200
    val_samples: int = 4
    seed: int = 0
    # A NaN/Inf loss: stop (names the loss and the step, keeps the last good checkpoint) or skip the step
    # (counted, logged as train/nonfinite_skips, reported at the end); more than max_nonfinite_skips in a row stops.
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
    """Every argument of manga_cyclegan.data.datamodule.UnpairedDataModule as a config sets it, with its default:
    the one home of both (conf/data only overrides)."""

    _target_: str = "manga_cyclegan.data.datamodule.UnpairedDataModule"
    # Plain lists and dicts, not OmegaConf containers: whatever reaches a checkpoint stays weights_only-loadable.
    _convert_: str = "all"
    root: Optional[str] = None
    crop_size: int = 256
    # Resize pages so their short side is this many pixels before cropping (None: native resolution).
    load_size: Optional[int] = None
    # Random rescale of the page before the crop (area interpolation when shrinking keeps screentone honest).
    scale: List[float] = field(default_factory=lambda: [1.0, 1.0])
    flip: bool = True
    batch_size: int = 1
    num_workers: int = 2
    pin_memory: bool = False
    persistent_workers: bool = True
    # Pairs per epoch; None: max(#A, #B), so neither domain is truncated.
    epoch_size: Optional[int] = None
    seed: int = 0
    val_max_size: Optional[int] = 512
    val_pages: Optional[int] = 16
    # Pages of trainA held out for validation when there is no testA.
    holdout: int = 4
    # One folder of mixed B/W and color scans: sorted into the two domains by chroma, split written for review.
    mixed: Optional[str] = None
    mixed_split_dir: Optional[str] = None
    color_threshold: float = 0.05
    # The built-in synthetic set's generator settings (None: a folder of the user's pages).
    synthetic: Optional[SyntheticConfig] = None


register("model_schema", ModelConfig, group="model")
register("data_schema", DataConfig, group="data")
