"""Convolutional VAE encoder and decoder for 16, 28, 32 and 64 pixel images."""

from __future__ import annotations

import torch
from torch import nn

from genlab.nets.sizes import CONV_SIZES
from genlab.utils.ranges import Num, check_ranges

# image_size -> number of stride-2 stages down to a 4x4 (or 7x7 for 28) feature map
CONV_STAGES = {16: 2, 28: 2, 32: 3, 64: 4}


def conv_stages(image_size: int, net_name: str) -> int:
    """Return the number of stride-2 stages for ``image_size``; raise naming supported sizes."""
    if image_size not in CONV_STAGES:
        raise ValueError(
            f"{net_name} supports image_size in {sorted(CONV_STAGES)}, got {image_size}. "
            f"Set data.image_size to a supported size or use the MLP nets (model/net=mlp)."
        )
    return CONV_STAGES[image_size]


class ConvEncoder(nn.Module):
    """Strided-conv encoder: images (B, C, H, W) -> (mu, logvar), each (B, latent_dim)."""

    RANGES = {  # noqa: RUF012 - declared ranges (genlab.utils.ranges)
        "channels": Num(integer=True, low=1),
        "image_size": Num(integer=True, low=1),
        "latent_dim": Num(integer=True, low=1),
        "base_width": Num(integer=True, low=1),
    }
    supported_image_sizes = CONV_SIZES  #: read by genlab-train (run/checks.py)

    def __init__(self, channels: int, image_size: int, latent_dim: int, base_width: int = 32):
        check_ranges(
            self,
            channels=channels,
            image_size=image_size,
            latent_dim=latent_dim,
            base_width=base_width,
        )
        super().__init__()
        stages = conv_stages(image_size, "ConvEncoder")
        self.data_shape = (channels, image_size, image_size)
        layers: list[nn.Module] = []
        width_in, width = channels, base_width
        for _ in range(stages):
            layers += [nn.Conv2d(width_in, width, 4, stride=2, padding=1), nn.SiLU()]
            width_in, width = width, width * 2
        self.body = nn.Sequential(*layers, nn.Flatten())
        final = image_size // 2**stages
        self.head = nn.Linear(width_in * final * final, 2 * latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (mu, logvar) of q(z | x)."""
        mu, logvar = self.head(self.body(x)).chunk(2, dim=-1)
        return mu, logvar


class ConvDecoder(nn.Module):
    """Transposed-conv decoder: latents (B, D) -> likelihood params (B, C * ppc, H, W)."""

    RANGES = {  # noqa: RUF012 - declared ranges (genlab.utils.ranges)
        "latent_dim": Num(integer=True, low=1),
        "channels": Num(integer=True, low=1),
        "image_size": Num(integer=True, low=1),
        "base_width": Num(integer=True, low=1),
    }
    supported_image_sizes = CONV_SIZES  #: read by genlab-train

    def __init__(
        self,
        latent_dim: int,
        channels: int,
        image_size: int,
        base_width: int = 32,
        params_per_channel: int = 1,
    ) -> None:
        check_ranges(
            self,
            latent_dim=latent_dim,
            channels=channels,
            image_size=image_size,
            base_width=base_width,
        )
        super().__init__()
        stages = conv_stages(image_size, "ConvDecoder")
        self.data_shape = (channels, image_size, image_size)
        self.start = image_size // 2**stages
        self.width = base_width * 2 ** (stages - 1)
        self.fc = nn.Linear(latent_dim, self.width * self.start * self.start)
        layers: list[nn.Module] = []
        width = self.width
        for i in range(stages):
            last = i == stages - 1
            out = channels * params_per_channel if last else width // 2
            layers.append(nn.ConvTranspose2d(width, out, 4, stride=2, padding=1))
            if not last:
                layers.append(nn.SiLU())
            width //= 2
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Return unconstrained likelihood parameters at full resolution."""
        h = torch.relu(self.fc(z)).view(-1, self.width, self.start, self.start)
        return self.body(h)
