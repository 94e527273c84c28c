"""Train the manga colorizer; installed: `manga-train` (manga_cyclegan/commands/).

    python train.py                                   # demo: built-in synthetic manga, CPU, about 9 minutes (bf16 CPU)
    python train.py experiment=onepiece trainer.devices=4 trainer=ddp
    python train.py -m model.lambda_cycle=5,10        # sweep
    python train.py ckpt_path=outputs/train/runs/.../checkpoints/last.ckpt   # resume
    python train.py --cfg job --resolve               # print the composed config and exit
"""

from manga_cyclegan.commands.train import main

if __name__ == "__main__":
    main()
