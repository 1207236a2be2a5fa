"""BigGAN layers: class-conditional batch norm fed by [shared embedding, z chunk], residual
up/down blocks (Brock et al. 2019, "Large Scale GAN Training for High Fidelity Natural Image
Synthesis", Sec. 3 and Appendix B, Fig. 15 (a, b)).

Read against ajbrock/BigGAN-PyTorch ``layers.py`` (``ccbn``, ``GBlock``, ``DBlock``): the
conditional BN gain is 1 + linear(y) and its bias linear(y), with y the concatenation of the
shared class embedding and this block's chunk of z (hierarchical latent); batch-norm eps 1e-4 as
there. Spectral norm wraps every conv and linear layer (added by the nets).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class ConditionalBatchNorm(nn.Module):
    """BN without affine, then gain (1 + W_g y) and bias W_b y per example; y (N, cond_dim)."""

    def __init__(self, channels: int, cond_dim: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False, eps=1e-4)
        self.gain = nn.Linear(cond_dim, channels, bias=False)
        self.bias = nn.Linear(cond_dim, channels, bias=False)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """x (N, C, H, W) normalised and conditioned on y (N, cond_dim)."""
        gain = 1.0 + self.gain(y)[:, :, None, None]
        return self.bn(x) * gain + self.bias(y)[:, :, None, None]


class GBlock(nn.Module):
    """BigGAN up block: cBN, ReLU, x2 nearest up, conv3x3, cBN, ReLU, conv3x3; shortcut
    up then 1x1 conv."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int) -> None:
        super().__init__()
        self.bn1 = ConditionalBatchNorm(c_in, cond_dim)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.bn2 = ConditionalBatchNorm(c_out, cond_dim)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.conv_sc = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """(N, c_in, R, R) -> (N, c_out, 2R, 2R)."""
        h = F.interpolate(F.relu(self.bn1(x, y)), scale_factor=2)
        h = self.conv2(F.relu(self.bn2(self.conv1(h), y)))
        return h + self.conv_sc(F.interpolate(x, scale_factor=2))


class DBlock(nn.Module):
    """BigGAN down block ('wide': hidden width = c_out): (ReLU,) conv3x3, ReLU, conv3x3,
    (avg-pool 2); shortcut 1x1 conv (and pool) when shapes change. The first block has no
    pre-activation and pools before its shortcut conv."""

    def __init__(self, c_in: int, c_out: int, down: bool, preactivation: bool) -> None:
        super().__init__()
        self.down, self.preactivation = down, preactivation
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.conv_sc = nn.Conv2d(c_in, c_out, 1) if (c_in != c_out or down) else None

    def forward(self, x: Tensor) -> Tensor:
        """(N, c_in, R, R) -> (N, c_out, R/2 or R, .)."""
        h = F.relu(x) if self.preactivation else x
        h = self.conv2(F.relu(self.conv1(h)))
        if self.down:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.conv_sc is not None:
            if self.preactivation:
                s = self.conv_sc(s)
                s = F.avg_pool2d(s, 2) if self.down else s
            else:
                s = F.avg_pool2d(s, 2) if self.down else s
                s = self.conv_sc(s)
        return h + s
