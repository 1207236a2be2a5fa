"""Label-conditioned VAE nets for the conditional VAE (Sohn et al. 2015): q(z | x, y), p(x | z, y).

The label enters as a one-hot vector concatenated to the input of the MLPs (encoder: to the
flattened image; decoder: to z) and, in the conv nets, to the encoder's flattened features and
to the decoder's z. They reuse the unconditional nets of ``mlp.py`` and ``conv.py`` with the
input size grown by ``num_classes``, so the architectures stay identical otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from genlab.nets.conv import ConvDecoder, ConvEncoder
from genlab.nets.mlp import mlp
from genlab.nets.sizes import CONV_SIZES


def one_hot(
    y: torch.Tensor | None, num_classes: int, like: torch.Tensor, net_name: str
) -> torch.Tensor:
    """Return float one-hot labels (B, num_classes) with the dtype and device of ``like``."""
    if y is None:
        raise ValueError(
            f"{net_name} is conditional and needs labels y; pass them (a conditional model gets "
            f"them from the batch) or use an unconditional net (model=vae)."
        )
    if y.dtype not in (torch.int64, torch.int32) or y.dim() != 1:
        raise ValueError(
            f"{net_name}: labels must be int64 of shape (B,), got {y.dtype} {tuple(y.shape)}"
        )
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(
            f"{net_name}: labels must be in [0, {num_classes}), got {y.min()}..{y.max()}"
        )
    return F.one_hot(y.long(), num_classes).to(like)


def _check_classes(num_classes: int, net_name: str) -> None:
    if num_classes < 1:
        raise ValueError(
            f"{net_name} needs num_classes >= 1 (data.num_classes), got {num_classes}; "
            f"this dataset has no class labels: use model=vae."
        )


class ConditionalMLPEncoder(nn.Module):
    """(x (B, C, H, W), y (B,)) -> (mu, logvar) of q(z | x, y), each (B, latent_dim)."""

    def __init__(
        self,
        channels: int,
        image_size: int,
        latent_dim: int,
        num_classes: int,
        hidden_dims: Sequence[int] = (400,),
    ) -> None:
        super().__init__()
        _check_classes(num_classes, "ConditionalMLPEncoder")
        self.data_shape = (channels, image_size, image_size)
        self.latent_dim, self.num_classes = latent_dim, num_classes
        in_dim = channels * image_size * image_size + num_classes
        self.net = mlp([in_dim, *hidden_dims, 2 * latent_dim], nn.ReLU)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None):
        """Return (mu, logvar), each (B, latent_dim)."""
        h = torch.cat([x.flatten(1), one_hot(y, self.num_classes, x, type(self).__name__)], 1)
        mu, logvar = self.net(h).chunk(2, dim=-1)
        return mu, logvar


class ConditionalMLPDecoder(nn.Module):
    """(z (B, D), y (B,)) -> likelihood parameters (B, C * params_per_channel, H, W)."""

    def __init__(
        self,
        latent_dim: int,
        channels: int,
        image_size: int,
        num_classes: int,
        hidden_dims: Sequence[int] = (400,),
        params_per_channel: int = 1,
    ) -> None:
        super().__init__()
        _check_classes(num_classes, "ConditionalMLPDecoder")
        self.data_shape = (channels, image_size, image_size)
        self.num_classes = num_classes
        self.out_shape = (channels * params_per_channel, image_size, image_size)
        out_dim = self.out_shape[0] * image_size * image_size
        self.net = mlp([latent_dim + num_classes, *hidden_dims, out_dim], nn.ReLU)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Return unconstrained likelihood parameters (e.g. Bernoulli logits)."""
        h = torch.cat([z, one_hot(y, self.num_classes, z, type(self).__name__)], 1)
        return self.net(h).view(-1, *self.out_shape)


class ConditionalConvEncoder(nn.Module):
    """ConvEncoder whose linear head also sees the one-hot label: q(z | x, y)."""

    supported_image_sizes = CONV_SIZES  #: read by genlab-train (run/checks.py)

    def __init__(
        self,
        channels: int,
        image_size: int,
        latent_dim: int,
        num_classes: int,
        base_width: int = 32,
    ) -> None:
        super().__init__()
        _check_classes(num_classes, "ConditionalConvEncoder")
        base = ConvEncoder(channels, image_size, latent_dim, base_width)
        self.data_shape, self.num_classes = base.data_shape, num_classes
        self.body = base.body
        self.head = nn.Linear(base.head.in_features + num_classes, 2 * latent_dim)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None):
        """Return (mu, logvar), each (B, latent_dim)."""
        h = self.body(x)
        h = torch.cat([h, one_hot(y, self.num_classes, h, type(self).__name__)], 1)
        mu, logvar = self.head(h).chunk(2, dim=-1)
        return mu, logvar


class ConditionalConvDecoder(nn.Module):
    """ConvDecoder fed with [z, one_hot(y)]: p(x | z, y)."""

    supported_image_sizes = CONV_SIZES  #: read by genlab-train (run/checks.py)

    def __init__(
        self,
        latent_dim: int,
        channels: int,
        image_size: int,
        num_classes: int,
        base_width: int = 32,
        params_per_channel: int = 1,
    ) -> None:
        super().__init__()
        _check_classes(num_classes, "ConditionalConvDecoder")
        self.num_classes = num_classes
        self.net = ConvDecoder(
            latent_dim + num_classes, channels, image_size, base_width, params_per_channel
        )
        self.data_shape = self.net.data_shape

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Return unconstrained likelihood parameters at full resolution."""
        return self.net(torch.cat([z, one_hot(y, self.num_classes, z, type(self).__name__)], 1))
