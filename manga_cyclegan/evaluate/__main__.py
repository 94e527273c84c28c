"""`python -m manga_cyclegan.evaluate ckpt=PATH [data=...] [json=scores.json]`, installed as `manga-evaluate`: the
command in manga_cyclegan/commands/evaluate.py; what it does: manga_cyclegan.evaluate.command."""

from manga_cyclegan.commands.evaluate import main

if __name__ == "__main__":
    main()
