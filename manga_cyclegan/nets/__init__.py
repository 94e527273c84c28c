"""Plain nn.Modules: they know nothing of training, losses or data."""

from manga_cyclegan.nets.discriminator import PatchDiscriminator
from manga_cyclegan.nets.generator import ResnetGenerator

__all__ = ["PatchDiscriminator", "ResnetGenerator"]
