"""`manga-train` (python train.py): train the colorizer, a CycleGAN, as conf/train.yaml composes it."""

import hydra
from omegaconf import DictConfig

from manga_cyclegan.commands import CONFIGS
from manga_cyclegan.config.commands import COMMANDS
from manga_cyclegan.config.errors import errors_reported_in_one_line, startup_errors_explained
from manga_cyclegan.train.run import train


@hydra.main(version_base="1.3", config_path=CONFIGS, config_name="train")
def task(cfg: DictConfig) -> float | None:
    """Train; returns the metric a sweep optimizes (`optimized_metric`)."""
    with errors_reported_in_one_line():
        metrics = train(cfg)
    return metrics.get(cfg.get("optimized_metric"))


def main() -> None:
    with startup_errors_explained(COMMANDS["train"].script):
        task()
