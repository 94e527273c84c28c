"""Export the colorizer G_AB for sharing or for runtimes without PyTorch.

    python export.py ckpt=outputs/train/runs/.../checkpoints/last.ckpt            # -> last.safetensors
    python export.py ckpt=... format=onnx output=colorizer.onnx                     # needs the `onnx` extra
    python export.py ckpt=latest_net_G_A.pth arch.norm=none                         # a reference generator
"""

import hydra
from omegaconf import DictConfig

import manga_cyclegan.config  # noqa: F401  (registers the config resolvers)
from manga_cyclegan.colorize.export import export


@hydra.main(version_base="1.3", config_path="conf", config_name="export")
def main(cfg: DictConfig) -> None:
    export(cfg)


if __name__ == "__main__":
    main()
