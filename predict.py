"""Colorize manga pages with a trained colorizer (G_AB).

    python predict.py ckpt=outputs/train/runs/.../checkpoints/last.ckpt input=page.png
    python predict.py ckpt=... input=chapters/            # a folder, recursive; .cbz chapters give .cbz
    python predict.py ckpt=latest_net_G_A.pth input='scans/*.jpg' output=colored/ mode=raw
The exit code is 0 when every page was done or skipped, 1 when any failed (the summary lists them).
"""

import sys

import hydra
from omegaconf import DictConfig

import manga_cyclegan.config  # noqa: F401  (registers the config resolvers)
from manga_cyclegan.predict.run import OutputError, predict


@hydra.main(version_base="1.3", config_path="conf", config_name="predict")
def main(cfg: DictConfig) -> None:
    try:
        summary = predict(cfg)
    except (FileNotFoundError, ValueError, OutputError) as e:
        # Problems with the command itself (no such checkpoint or input, wrong format, unwritable output).
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    if summary.counts["failed"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
