"""Colorize and correct pages in the browser, on this machine; installed: `manga-app` (manga_cyclegan/commands/).

    python app.py ckpt=outputs/train/runs/.../checkpoints/last.ckpt    # then open http://127.0.0.1:7860/
    python app.py ckpt=... port=8000
    python app.py ckpt=... host=0.0.0.0 token=SECRET                 # reachable by others, with the token
"""

from manga_cyclegan.commands.app import main

if __name__ == "__main__":
    main()
