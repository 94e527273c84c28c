"""Colorize manga pages with a trained colorizer (G_AB).

    python predict.py ckpt=outputs/train/runs/.../checkpoints/last.ckpt input=page.png
    python predict.py ckpt=... input=chapters/            # a folder, recursive; .cbz chapters give .cbz
    python predict.py ckpt=latest_net_G_A.pth input='scans/*.jpg' output=colored/ mode=raw
The exit code is 0 when every page was done or skipped, 1 when any failed (the summary lists them), 2 when the
command itself is wrong (a key, a value, a missing checkpoint or input, an unwritable output).
"""

import hydra
from omegaconf import DictConfig

import manga_cyclegan.config  # noqa: F401  (registers the config resolvers and schemas)
from manga_cyclegan.config.errors import (
    RunError,
    errors_reported_in_one_line,
    startup_errors_explained,
)
from manga_cyclegan.predict.run import predict
from manga_cyclegan.predict.sinks import OutputError


@hydra.main(version_base="1.3", config_path="conf", config_name="predict")
def main(cfg: DictConfig) -> None:
    with errors_reported_in_one_line():
        try:
            summary = predict(cfg)
        except (FileNotFoundError, ValueError, OutputError) as e:
            raise RunError(str(e)) from e
    if summary.counts["failed"]:
        raise SystemExit(1)


if __name__ == "__main__":
    with startup_errors_explained("predict.py"):
        main()
