"""Class-conditional DCGAN nets: conditional batch norm in G, projection and/or auxiliary
classifier head in D (Miyato & Koyama 2018; Odena et al. 2017).

The backbones are :mod:`genlab.nets.dcgan`'s: G's batch norms become
:class:`~genlab.nets.projection.ConditionalBatchNorm2d`; D's last conv (a linear map of the
flattened ``width x init x init`` features) becomes a :class:`~genlab.nets.projection.
ConditionalHead` on those features. Images are in [-1, 1]; labels are int64 (N,).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as sn

from genlab.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from genlab.nets.projection import (
    ConditionalDiscriminatorMixin,
    ConditionalHead,
    check_labels,
    init_head,
    replace_batchnorm,
    run_with_labels,
)
from genlab.nets.spectral import add_spectral_norm


class CondDCGANGenerator(DCGANGenerator):
    """(z (N, latent_dim), y (N,)) -> images (N, C, H, W) in [-1, 1]; per-class BN affine.

    Args:
        num_classes: K. concat_labels: also feed one-hot(y) with z to the first layer (the
            input of Mirza & Osindero 2014 and Odena et al. 2017): a direct path for the label
            that conditional batch norm alone, whose per-class scales and shifts move by about
            the learning rate per Adam step, opens only slowly.
        Other args: as :class:`~genlab.nets.dcgan.DCGANGenerator`.
    """

    def __init__(
        self,
        num_classes: int,
        latent_dim: int = 100,
        image_size: int = 32,
        channels: int = 3,
        base_channels: int = 64,
        concat_labels: bool = False,
    ) -> None:
        extra = int(num_classes) if concat_labels else 0
        super().__init__(latent_dim + extra, image_size, channels, base_channels)
        self.latent_dim = latent_dim  # the noise size; the one-hot labels are appended to it
        self.num_classes, self.concat_labels = int(num_classes), bool(concat_labels)
        replace_batchnorm(self.net, self.num_classes)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """Return images (N, C, H, W) in [-1, 1] of classes ``y``."""
        y = check_labels(y, self.num_classes, type(self).__name__)
        h = z.flatten(1)
        if self.concat_labels:
            h = torch.cat([h, F.one_hot(y, self.num_classes).to(h.dtype)], dim=1)
        return run_with_labels(self.net, h.view(h.shape[0], -1, 1, 1), y)


class CondDCGANDiscriminator(ConditionalDiscriminatorMixin, DCGANDiscriminator):
    """(images in [-1, 1], y) -> logits (N,); ``forward_with_aux`` adds class logits (N, K).

    Args:
        num_classes: K. projection: projection term (cGAN). aux_classifier: ACGAN head.
        Other args: as :class:`~genlab.nets.dcgan.DCGANDiscriminator`.
    """

    def __init__(
        self,
        num_classes: int,
        image_size: int = 32,
        channels: int = 3,
        base_channels: int = 64,
        norm: str = "batch",
        spectral_norm: bool = False,
        projection: bool = True,
        aux_classifier: bool = False,
    ) -> None:
        super().__init__(image_size, channels, base_channels, norm, spectral_norm)
        last = self.net[-1]  # Conv2d(width, 1, init): a linear map of the flattened features
        num_features = last.in_channels * last.kernel_size[0] * last.kernel_size[1]
        self.net = nn.Sequential(*list(self.net)[:-1])
        self.num_classes = int(num_classes)
        self.head = ConditionalHead(num_features, self.num_classes, projection, aux_classifier)
        init_head(self.head, "dcgan")
        if spectral_norm:
            add_spectral_norm(self.head)
            if self.head.embed is not None:
                sn(self.head.embed)

    def features(self, x: Tensor) -> Tensor:
        """Flattened last-conv features (N, width * init * init) of images in [-1, 1]."""
        return self.net(x).flatten(1)
