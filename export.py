"""Export the colorizer G_AB for sharing or for runtimes without PyTorch; installed: `manga-export`.

    python export.py ckpt=outputs/train/runs/.../checkpoints/last.ckpt            # -> last.safetensors
    python export.py ckpt=... format=onnx output=colorizer.onnx                     # needs the `onnx` extra
    python export.py ckpt=latest_net_G_A.pth arch.norm=none                         # a reference generator
A wrong command (a key, a value, a missing checkpoint) exits with code 2 and one line saying what to change.
"""

from manga_cyclegan.commands.export import main

if __name__ == "__main__":
    main()
