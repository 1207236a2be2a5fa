"""Convolutional encoder and decoder of VQ-VAE (van den Oord et al. 2017, Sec. 4.1).

Encoder: two stride-2 4x4 convolutions, a 3x3 convolution, residual blocks
(ReLU, 3x3 conv, ReLU, 1x1 conv) and a 1x1 projection to the code size, so an image
(C, H, W) becomes a grid of encodings (code_dim, H / 4, W / 4). The decoder mirrors it with
two stride-2 transposed convolutions and outputs likelihood parameters at full resolution.
"""

from __future__ import annotations

import torch
from torch import nn


def latent_size(image_size: int, downsample: int, net_name: str) -> int:
    """Return the side of the latent grid, image_size / 2**downsample; raise if not whole."""
    factor = 2**downsample
    if downsample < 1 or image_size % factor:
        raise ValueError(
            f"{net_name}: data.image_size={image_size} must be divisible by 2**downsample="
            f"{factor} (model.downsample={downsample}); pick a size such as 16, 28, 32 or 64."
        )
    return image_size // factor


class ResidualStack(nn.Module):
    """``num_blocks`` residual blocks x + conv1x1(relu(conv3x3(relu(x)))), then a ReLU."""

    def __init__(self, width: int, hidden: int, num_blocks: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.ReLU(),
                nn.Conv2d(width, hidden, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(hidden, width, 1),
            )
            for _ in range(num_blocks)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return features of the same shape as ``x``."""
        for block in self.blocks:
            x = x + block(x)
        return torch.relu(x)


class VQEncoder(nn.Module):
    """Images (B, C, H, W) in [0, 1] -> encodings (B, code_dim, H / 2**d, W / 2**d)."""

    def __init__(
        self,
        channels: int,
        image_size: int,
        code_dim: int = 16,
        hidden: int = 64,
        res_hidden: int = 32,
        num_res_blocks: int = 2,
        downsample: int = 2,
    ) -> None:
        super().__init__()
        self.data_shape = (channels, image_size, image_size)
        side = latent_size(image_size, downsample, "VQEncoder")
        self.latent_shape = (code_dim, side, side)
        layers: list[nn.Module] = []
        width_in = channels
        for i in range(downsample):
            width = hidden // 2 if i < downsample - 1 else hidden
            layers += [nn.Conv2d(width_in, width, 4, stride=2, padding=1), nn.ReLU()]
            width_in = width
        layers += [nn.Conv2d(hidden, hidden, 3, padding=1)]
        layers += [
            ResidualStack(hidden, res_hidden, num_res_blocks),
            nn.Conv2d(hidden, code_dim, 1),
        ]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the continuous encodings z_e(x) (before quantization)."""
        return self.net(x * 2.0 - 1.0)


class VQDecoder(nn.Module):
    """Codes (B, code_dim, h, w) -> likelihood parameters (B, C * params_per_channel, H, W)."""

    def __init__(
        self,
        channels: int,
        image_size: int,
        code_dim: int = 16,
        hidden: int = 64,
        res_hidden: int = 32,
        num_res_blocks: int = 2,
        downsample: int = 2,
        params_per_channel: int = 1,
    ) -> None:
        super().__init__()
        self.data_shape = (channels, image_size, image_size)
        side = latent_size(image_size, downsample, "VQDecoder")
        self.latent_shape = (code_dim, side, side)
        layers: list[nn.Module] = [nn.Conv2d(code_dim, hidden, 3, padding=1)]
        layers.append(ResidualStack(hidden, res_hidden, num_res_blocks))
        width_in = hidden
        for i in range(downsample):
            last = i == downsample - 1
            width = channels * params_per_channel if last else hidden // 2
            layers.append(nn.ConvTranspose2d(width_in, width, 4, stride=2, padding=1))
            if not last:
                layers.append(nn.ReLU())
            width_in = width
        self.net = nn.Sequential(*layers)

    def forward(self, z_q: torch.Tensor) -> torch.Tensor:
        """Return unconstrained likelihood parameters (e.g. Bernoulli logits)."""
        return self.net(z_q)
