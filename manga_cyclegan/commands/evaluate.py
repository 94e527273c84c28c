"""`manga-evaluate` (python -m manga_cyclegan.evaluate): score a colorizer on a test set beside the baselines, as
conf/evaluate.yaml says; what it computes: manga_cyclegan.evaluate.command."""

import hydra
from omegaconf import DictConfig

from manga_cyclegan.commands import CONFIGS
from manga_cyclegan.config.commands import COMMANDS
from manga_cyclegan.config.errors import RunError, errors_reported_in_one_line, startup_errors_explained
from manga_cyclegan.evaluate.command import run


@hydra.main(version_base="1.3", config_path=CONFIGS, config_name="evaluate")
def task(cfg: DictConfig) -> None:
    with errors_reported_in_one_line():
        try:
            run(cfg)
        except (FileNotFoundError, ValueError) as e:
            raise RunError(str(e)) from e


def main() -> None:
    with startup_errors_explained(COMMANDS["evaluate"].script):
        task()
