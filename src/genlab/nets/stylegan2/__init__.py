"""StyleGAN2 nets (Karras et al. 2020) as plain nn.Modules: see generator.py, discriminator.py."""

from genlab.nets.stylegan2.discriminator import StyleGAN2Discriminator
from genlab.nets.stylegan2.generator import StyleGAN2Generator

__all__ = ["StyleGAN2Discriminator", "StyleGAN2Generator"]
