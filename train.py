"""Train the manga colorizer.

    python train.py                                   # demo: built-in synthetic manga, CPU, about 9 minutes (bf16 CPU)
    python train.py experiment=onepiece trainer.devices=4 trainer=ddp
    python train.py -m model.lambda_cycle=5,10        # sweep
    python train.py ckpt_path=outputs/train/runs/.../checkpoints/last.ckpt   # resume
    python train.py --cfg job --resolve               # print the composed config and exit
"""

import hydra
from omegaconf import DictConfig

import manga_cyclegan.config  # noqa: F401  (registers the config resolvers and schemas)
from manga_cyclegan.config.errors import errors_reported_in_one_line, startup_errors_explained
from manga_cyclegan.train.run import train


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    with errors_reported_in_one_line():
        metrics = train(cfg)
    return metrics.get(cfg.get("optimized_metric"))


if __name__ == "__main__":
    with startup_errors_explained("train.py"):
        main()
