"""Self-attention block of SAGAN (Zhang et al. 2019, "Self-Attention Generative Adversarial
Networks", Sec. 4, eqs. 1-3), the version of the official code brain-research/self-attention-gan
``non_local.py`` (``sn_non_local_block_sim``) that BigGAN (ajbrock/BigGAN-PyTorch ``layers.py``,
``Attention``) also uses: 1x1 convolutions f = theta (C/8), g = phi (C/8, 2x2 max-pooled),
h = g (C/2, max-pooled), attention softmax(theta^T phi) over the pooled positions, output 1x1
conv (C/2 -> C), and y = x + gamma * o with the learned scalar gamma = 0 at init, so a net with
attention starts as the net without it.

An option of the DCGAN and ResNet nets (``attention_res``): :func:`insert_attention` puts one
block after the layer whose output has that resolution. Spectral norm, when the net uses it,
wraps these convolutions too.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.utils.ranges import Num, check_ranges


class SelfAttention(nn.Module):
    """x (N, C, H, W) -> x + gamma * attention(x), same shape; C >= 8, H and W even."""

    RANGES = {"channels": Num(integer=True, low=8)}

    def __init__(self, channels: int) -> None:
        check_ranges(self, channels=channels)
        super().__init__()
        self.theta = nn.Conv2d(channels, channels // 8, 1, bias=False)
        self.phi = nn.Conv2d(channels, channels // 8, 1, bias=False)
        self.g = nn.Conv2d(channels, channels // 2, 1, bias=False)
        self.o = nn.Conv2d(channels // 2, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        """Same shape as x."""
        n, c, h, w = x.shape
        theta = self.theta(x).flatten(2)  # (N, C/8, HW)
        phi = F.max_pool2d(self.phi(x), 2).flatten(2)  # (N, C/8, HW/4)
        g = F.max_pool2d(self.g(x), 2).flatten(2)  # (N, C/2, HW/4)
        beta = torch.softmax(theta.transpose(1, 2) @ phi, dim=-1)  # (N, HW, HW/4)
        o = (g @ beta.transpose(1, 2)).view(n, c // 2, h, w)
        return x + self.gamma * self.o(o)


def check_attention_res(attention_res: int | None, allowed: list[int], net: str) -> None:
    """ValueError naming the allowed resolutions when ``attention_res`` is not one of them."""
    if attention_res is not None and attention_res not in allowed:
        raise ValueError(
            f"{net}: attention_res={attention_res} is not a feature resolution of this net; "
            f"allowed: {allowed} (or null: no attention)."
        )
