"""BigGAN nets (Brock et al. 2019), 32 px CIFAR variant: see nets.py."""

from genlab.nets.biggan.nets import BigGANDiscriminator, BigGANGenerator, standing_statistics

__all__ = ["BigGANDiscriminator", "BigGANGenerator", "standing_statistics"]
