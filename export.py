"""Export the colorizer G_AB for sharing or for runtimes without PyTorch.

    python export.py ckpt=outputs/train/runs/.../checkpoints/last.ckpt            # -> last.safetensors
    python export.py ckpt=... format=onnx output=colorizer.onnx                     # needs the `onnx` extra
    python export.py ckpt=latest_net_G_A.pth arch.norm=none                         # a reference generator
A wrong command (a key, a value, a missing checkpoint) exits with code 2 and one line saying what to change.
"""

import hydra
from omegaconf import DictConfig

import manga_cyclegan.config  # noqa: F401  (registers the config resolvers and schemas)
from manga_cyclegan.colorize.export import export
from manga_cyclegan.config.errors import (
    RunError,
    errors_reported_in_one_line,
    startup_errors_explained,
)


@hydra.main(version_base="1.3", config_path="conf", config_name="export")
def main(cfg: DictConfig) -> None:
    with errors_reported_in_one_line():
        try:
            export(cfg)
        except (FileNotFoundError, ValueError) as e:
            raise RunError(str(e)) from e


if __name__ == "__main__":
    with startup_errors_explained("export.py"):
        main()
