"""`python -m manga_cyclegan.evaluate ckpt=PATH [data=...] [json=scores.json]`: see `manga_cyclegan.evaluate.command`."""

import hydra
from omegaconf import DictConfig

import manga_cyclegan.config  # noqa: F401  (registers the config resolvers)
from manga_cyclegan.evaluate.command import run


@hydra.main(version_base="1.3", config_path="../../conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    run(cfg)


if __name__ == "__main__":
    main()
