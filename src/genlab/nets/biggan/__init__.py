"""BigGAN nets (Brock et al. 2019): the 32 px CIFAR variant (nets.py) and the 128 px BigGAN-deep
generator (deep.py; public weights mapped by pretrained.py)."""

from genlab.nets.biggan.deep import BigGANDeepGenerator
from genlab.nets.biggan.nets import BigGANDiscriminator, BigGANGenerator, standing_statistics

__all__ = ["BigGANDeepGenerator", "BigGANDiscriminator", "BigGANGenerator", "standing_statistics"]
