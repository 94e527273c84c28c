"""Plain nn.Modules: they know nothing of training, losses or data."""

from manga_cyclegan.nets.discriminator import MultiScaleDiscriminator, PatchDiscriminator
from manga_cyclegan.nets.generator import ResnetGenerator

__all__ = ["MultiScaleDiscriminator", "PatchDiscriminator", "ResnetGenerator"]
