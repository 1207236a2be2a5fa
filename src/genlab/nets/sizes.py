"""Image sizes the fixed-size nets support, in a module that imports nothing (not torch).

Each such net class declares ``supported_image_sizes`` (a class attribute) from the tuples
here; ``SUPPORTED_IMAGE_SIZES`` maps their ``_target_`` paths to the same tuples, so
genlab-train can adapt or refuse ``data.image_size`` (``genlab.run.checks.adapt_image_size``)
in about a second, before torch is imported. A net outside this table is asked for its class
attribute instead (its module is imported then). ``tests/test_ux_units.py`` checks that the
table and the classes agree (None: the class declares no fixed sizes).
"""

from __future__ import annotations

RESNET_SIZES = (16, 32, 64)  # SNGAN ResNets: 4x4 start, x2 stages (Miyato et al. 2018)
DCGAN_SIZES = (16, 28, 32, 64)  # 28 = 7x7 start, the others 4x4
CONV_SIZES = (16, 28, 32, 64)  # conv VAE nets: stride-2 stages down to 4x4 (7x7 for 28)

# None: any size (MLP nets flatten the image); listed so no module is imported to learn that
SUPPORTED_IMAGE_SIZES: dict[str, tuple[int, ...] | None] = {
    "genlab.nets.mlp.MLPEncoder": None,
    "genlab.nets.mlp.MLPDecoder": None,
    "genlab.nets.conditional.ConditionalMLPEncoder": None,
    "genlab.nets.conditional.ConditionalMLPDecoder": None,
    "genlab.nets.resnet.ResNetGenerator": RESNET_SIZES,
    "genlab.nets.resnet.ResNetDiscriminator": RESNET_SIZES,
    "genlab.nets.resnet_cond.CondResNetGenerator": RESNET_SIZES,
    "genlab.nets.resnet_cond.CondResNetDiscriminator": RESNET_SIZES,
    "genlab.nets.dcgan.DCGANGenerator": DCGAN_SIZES,
    "genlab.nets.dcgan.DCGANDiscriminator": DCGAN_SIZES,
    "genlab.nets.dcgan_cond.CondDCGANGenerator": DCGAN_SIZES,
    "genlab.nets.dcgan_cond.CondDCGANDiscriminator": DCGAN_SIZES,
    "genlab.nets.conv.ConvEncoder": CONV_SIZES,
    "genlab.nets.conv.ConvDecoder": CONV_SIZES,
    "genlab.nets.conditional.ConditionalConvEncoder": CONV_SIZES,
    "genlab.nets.conditional.ConditionalConvDecoder": CONV_SIZES,
}
