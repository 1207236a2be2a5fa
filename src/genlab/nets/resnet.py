"""SNGAN-style ResNet generator and discriminator (Miyato et al. 2018, Appendix B.4, Table 4).

Built for 32x32 (CIFAR-10): G = linear to 4x4 -> 3 up-blocks -> BN, ReLU, conv3x3, tanh;
D = optimized down-block -> down-block -> 2 plain blocks -> ReLU, global sum pool, linear.
16 and 64 pixels use one block fewer / more. Images are in [-1, 1]; D returns logits (N,).
Options: ``attention_res`` adds a SAGAN self-attention block (genlab.nets.attention) after the
block of that output resolution (SAGAN's ResNet nets); ``spectral_norm`` in G (SAGAN) and D;
``pack`` (D): PacGAN packing (genlab.nets.pack). Off, the nets and state dicts are unchanged.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

from genlab.nets.attention import SelfAttention, check_attention_res
from genlab.nets.pack import PACK_RANGE, pack_input
from genlab.nets.sizes import RESNET_SIZES
from genlab.nets.spectral import add_spectral_norm
from genlab.utils.ranges import check_ranges

SUPPORTED_SIZES = RESNET_SIZES  # (16, 32, 64), genlab.nets.sizes


def _check_size(image_size: int) -> None:
    if image_size not in SUPPORTED_SIZES:
        raise ValueError(
            f"ResNet (SNGAN) nets do not support image_size={image_size}; supported sizes: "
            f"{list(SUPPORTED_SIZES)} (set data.image_size to one of them)."
        )


class GBlock(nn.Module):
    """Pre-activation residual block with x2 nearest upsampling (BN, ReLU, up, conv, BN, ReLU,
    conv) plus a learned 1x1 shortcut."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(c_in), nn.BatchNorm2d(c_out)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.skip = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2)
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return h + self.skip(F.interpolate(x, scale_factor=2))


class DBlock(nn.Module):
    """Discriminator residual block: (ReLU,) conv3x3, ReLU, conv3x3, optional 2x2 avg-pool;
    1x1 shortcut when the width or resolution changes. ``first`` is SNGAN's 'optimized'
    block that skips the leading ReLU and pools before the shortcut conv."""

    def __init__(self, c_in: int, c_out: int, down: bool, first: bool = False) -> None:
        super().__init__()
        self.down, self.first = down, first
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if (down or c_in != c_out) else None

    def forward(self, x: Tensor) -> Tensor:
        h = x if self.first else F.relu(x)
        h = self.conv2(F.relu(self.conv1(h)))
        if self.down:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.skip is not None:
            if self.first:
                s = self.skip(F.avg_pool2d(s, 2))
            else:
                s = self.skip(s)
                s = F.avg_pool2d(s, 2) if self.down else s
        return h + s


def _xavier(net: nn.Module) -> None:
    """SNGAN init: Xavier-uniform weights, zero biases (attention convs have no bias)."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class ResNetGenerator(nn.Module):
    """z (N, latent_dim) -> images (N, channels, image_size, image_size) in [-1, 1].

    Args:
        attention_res: output resolution of the block after which to add self-attention
            (None = off). spectral_norm: spectral norm on every layer (SAGAN).
    """

    supported_image_sizes = SUPPORTED_SIZES  #: read by genlab-train (run/checks.py)

    def __init__(
        self,
        latent_dim: int = 128,
        image_size: int = 32,
        channels: int = 3,
        width: int = 256,
        attention_res: int | None = None,
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        _check_size(image_size)
        self.latent_dim = latent_dim
        self.data_shape = (channels, image_size, image_size)
        self.width = width
        self.linear = nn.Linear(latent_dim, 4 * 4 * width)
        n_up = int(math.log2(image_size // 4))
        out_res = [4 * 2 ** (i + 1) for i in range(n_up)]
        check_attention_res(attention_res, out_res, "ResNetGenerator")
        blocks: list[nn.Module] = []
        for r in out_res:
            blocks.append(GBlock(width, width))
            if r == attention_res:
                blocks.append(SelfAttention(width))
        self.blocks = nn.Sequential(*blocks)
        self.out = nn.Sequential(
            nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, channels, 3, 1, 1), nn.Tanh()
        )
        _xavier(self)
        if spectral_norm:
            add_spectral_norm(self)

    def forward(self, z: Tensor) -> Tensor:
        """Return images (N, C, H, W) in [-1, 1]."""
        h = self.linear(z.flatten(start_dim=1)).view(z.shape[0], self.width, 4, 4)
        return self.out(self.blocks(h))


class ResNetDiscriminator(nn.Module):
    """Images (N, C, H, W) in [-1, 1] -> logits (N,); spectral norm on every layer by default.

    Args:
        attention_res: output resolution of the down block after which to add self-attention
            (None = off). pack: PacGAN packing degree (1 = off; logits (N / pack,)).
    """

    RANGES = {"pack": PACK_RANGE}

    supported_image_sizes = SUPPORTED_SIZES  #: read by genlab-train (run/checks.py)

    def __init__(
        self,
        image_size: int = 32,
        channels: int = 3,
        width: int = 128,
        spectral_norm: bool = True,
        attention_res: int | None = None,
        pack: int = 1,
    ) -> None:
        check_ranges(self, pack=pack)
        super().__init__()
        _check_size(image_size)
        self.data_shape = (channels, image_size, image_size)
        self.pack = pack
        n_down = int(math.log2(image_size // 8))
        down_res = [image_size // 2 ** (i + 1) for i in range(n_down)]
        check_attention_res(attention_res, down_res, "ResNetDiscriminator")
        blocks: list[nn.Module] = []
        for i, r in enumerate(down_res):
            c_in = channels * pack if i == 0 else width
            blocks.append(DBlock(c_in, width, down=True, first=i == 0))
            if r == attention_res:
                blocks.append(SelfAttention(width))
        blocks += [DBlock(width, width, down=False) for _ in range(2)]
        self.blocks = nn.Sequential(*blocks)
        self.linear = nn.Linear(width, 1)
        _xavier(self)
        if spectral_norm:
            add_spectral_norm(self)

    def forward(self, x: Tensor) -> Tensor:
        """Return one logit per example, shape (N,) (per pack: (N / pack,))."""
        h = F.relu(self.blocks(pack_input(x, self.pack))).sum(dim=(2, 3))  # global sum pooling
        return self.linear(h).flatten()
