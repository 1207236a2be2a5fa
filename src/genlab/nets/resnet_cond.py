"""Class-conditional SNGAN ResNet nets (Miyato & Koyama 2018): conditional batch norm in G's
residual blocks, projection (and/or ACGAN auxiliary classifier) head on D's pooled features.

The backbones are :mod:`genlab.nets.resnet`'s (16/32/64 px); G's final batch norm stays
unconditional, as in the projection paper's ResNet. Images in [-1, 1]; labels int64 (N,).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor
from torch.nn.utils.parametrizations import spectral_norm as sn

from genlab.nets.projection import (
    ConditionalBatchNorm2d,
    ConditionalDiscriminatorMixin,
    ConditionalHead,
    check_labels,
    init_head,
)
from genlab.nets.resnet import GBlock, ResNetDiscriminator, ResNetGenerator
from genlab.nets.spectral import add_spectral_norm


class CondGBlock(GBlock):
    """:class:`~genlab.nets.resnet.GBlock` with per-class batch-norm scale and shift."""

    def __init__(self, c_in: int, c_out: int, num_classes: int) -> None:
        super().__init__(c_in, c_out)
        self.bn1 = ConditionalBatchNorm2d(c_in, num_classes)
        self.bn2 = ConditionalBatchNorm2d(c_out, num_classes)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:  # type: ignore[override]
        """Residual x2-upsampling block conditioned on labels y (N,)."""
        h = F.interpolate(F.relu(self.bn1(x, y)), scale_factor=2)
        h = self.conv2(F.relu(self.bn2(self.conv1(h), y)))
        return h + self.skip(F.interpolate(x, scale_factor=2))


class CondResNetGenerator(ResNetGenerator):
    """(z (N, latent_dim), y (N,)) -> images (N, C, H, W) in [-1, 1]."""

    def __init__(
        self,
        num_classes: int,
        latent_dim: int = 128,
        image_size: int = 32,
        channels: int = 3,
        width: int = 256,
    ) -> None:
        super().__init__(latent_dim, image_size, channels, width)
        self.num_classes = int(num_classes)
        for i, block in enumerate(self.blocks):
            cond = CondGBlock(width, width, self.num_classes)
            # keep the backbone's (Xavier-initialised) convolutions
            cond.load_state_dict(block.state_dict(), strict=False)
            self.blocks[i] = cond

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """Return images (N, C, H, W) in [-1, 1] of classes ``y``."""
        y = check_labels(y, self.num_classes, type(self).__name__)
        h = self.linear(z.flatten(start_dim=1)).view(z.shape[0], self.width, 4, 4)
        for block in self.blocks:
            h = block(h, y)
        return self.out(h)


class CondResNetDiscriminator(ConditionalDiscriminatorMixin, ResNetDiscriminator):
    """(images in [-1, 1], y) -> logits (N,); projection head on globally sum-pooled features.

    Args:
        num_classes: K. projection: projection term. aux_classifier: ACGAN head.
        Other args: as :class:`~genlab.nets.resnet.ResNetDiscriminator`.
    """

    def __init__(
        self,
        num_classes: int,
        image_size: int = 32,
        channels: int = 3,
        width: int = 128,
        spectral_norm: bool = True,
        projection: bool = True,
        aux_classifier: bool = False,
    ) -> None:
        super().__init__(image_size, channels, width, spectral_norm)
        del self.linear  # replaced by the conditional head
        self.num_classes = int(num_classes)
        self.head = ConditionalHead(width, self.num_classes, projection, aux_classifier)
        init_head(self.head, "xavier")
        if spectral_norm:
            add_spectral_norm(self.head)
            if self.head.embed is not None:
                sn(self.head.embed)

    def features(self, x: Tensor) -> Tensor:
        """ReLU then global sum pooling of the last block: (N, width)."""
        return F.relu(self.blocks(x)).sum(dim=(2, 3))
