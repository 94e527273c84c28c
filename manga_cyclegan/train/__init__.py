"""The training flow: the CycleGAN LightningModule (losses and phases as the paper states them), its callbacks and train(cfg)."""
