"""Learn to colorize black-and-white manga from unpaired scans with a CycleGAN."""

__version__ = "0.1.0"
