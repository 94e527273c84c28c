"""`python -m manga_cyclegan.evaluate ckpt=PATH [data=...] [json=scores.json]`: see `manga_cyclegan.evaluate.command`.
A wrong command (a key, a value, a missing checkpoint) exits with code 2 and one line saying what to change."""

import hydra
from omegaconf import DictConfig

import manga_cyclegan.config  # noqa: F401  (registers the config resolvers and schemas)
from manga_cyclegan.config.errors import (
    RunError,
    errors_reported_in_one_line,
    startup_errors_explained,
)
from manga_cyclegan.evaluate.command import run


@hydra.main(version_base="1.3", config_path="../../conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    with errors_reported_in_one_line():
        try:
            run(cfg)
        except (FileNotFoundError, ValueError) as e:
            raise RunError(str(e)) from e


if __name__ == "__main__":
    with startup_errors_explained("-m manga_cyclegan.evaluate"):
        main()
