"""Colorize manga pages with a trained colorizer (G_AB); installed: `manga-colorize` (manga_cyclegan/commands/).

    python predict.py ckpt=outputs/train/runs/.../checkpoints/last.ckpt input=page.png
    python predict.py ckpt=... input=chapters/            # a folder, recursive; .cbz chapters give .cbz
    python predict.py ckpt=latest_net_G_A.pth input='scans/*.jpg' output=colored/ mode=raw
The exit code is 0 when every page was done or skipped, 1 when any failed (the summary lists them), 2 when the
command itself is wrong (a key, a value, a missing checkpoint or input, an unwritable output).
"""

from manga_cyclegan.commands.predict import main

if __name__ == "__main__":
    main()
