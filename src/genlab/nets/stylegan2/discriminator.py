"""StyleGAN2 residual discriminator with a minibatch standard-deviation layer.

Karras et al. 2020 (Fig. 7c, residual D; Appendix B) and Karras et al. 2018 ("Progressive
Growing of GANs", Sec. 3: minibatch stddev). Read against NVlabs/stylegan2-ada-pytorch
``training/networks.py`` (``DiscriminatorBlock`` architecture 'resnet' | 'orig',
``MinibatchStdLayer``, ``DiscriminatorEpilogue``, ``Discriminator``). Blocks ``b{res}`` from the
input resolution down to 8 (fromrgb only in the first block; conv0; conv1 with x2 down; for
'resnet' a 1x1 down skip, both branches times sqrt(0.5)); epilogue ``b4``: minibatch std, 3x3
conv, fully connected, output. Conditional D: projection of the output onto a mapped label
embedding (the official cmap). ``pack`` > 1: PacGAN packing (genlab.nets.pack).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from genlab.nets.pack import PACK_RANGE, pack_input
from genlab.nets.stylegan2.generator import SUPPORTED_SIZES
from genlab.nets.stylegan2.layers import EqualConv2d, EqualLinear
from genlab.nets.stylegan2.mapping import MappingNetwork
from genlab.utils.ranges import Num, check_ranges


class MinibatchStdLayer(nn.Module):
    """Append ``num_channels`` feature maps holding the mean (over features and pixels) of the
    standard deviation over groups of ``group_size`` examples. When the batch size is not a
    multiple of ``group_size``, the largest divisor of N below it is used (the official code
    asserts divisibility instead)."""

    def __init__(self, group_size: int = 4, num_channels: int = 1) -> None:
        super().__init__()
        self.group_size, self.num_channels = group_size, num_channels

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, C + num_channels, H, W)."""
        n, c, h, w = x.shape
        g = min(self.group_size, n)
        while n % g:
            g -= 1
        f = self.num_channels
        y = x.reshape(g, -1, f, c // f, h, w)
        y = (y - y.mean(dim=0)).square().mean(dim=0).add(1e-8).sqrt()  # (n/g, F, c/F, H, W)
        y = y.mean(dim=(2, 3, 4)).reshape(-1, f, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y], dim=1)


class DiscriminatorBlock(nn.Module):
    """One resolution: (fromrgb,) conv0, conv1 (x2 down) [+ 1x1 down skip for 'resnet']."""

    def __init__(self, c_in: int, c_tmp: int, c_out: int, img_channels: int, architecture: str):
        super().__init__()
        self.c_in, self.architecture = c_in, architecture
        if c_in == 0:
            self.fromrgb = EqualConv2d(img_channels, c_tmp, 1, activation="lrelu")
        self.conv0 = EqualConv2d(c_tmp, c_tmp, 3, activation="lrelu")
        self.conv1 = EqualConv2d(c_tmp, c_out, 3, activation="lrelu", down=True)
        if architecture == "resnet":
            self.skip = EqualConv2d(c_tmp, c_out, 1, bias=False, down=True)

    def forward(self, x: Tensor | None, img: Tensor) -> Tensor:
        """Features (N, c_out, R/2, R/2)."""
        if self.c_in == 0:
            x = self.fromrgb(img)
        if self.architecture == "resnet":
            g = math.sqrt(0.5)
            return self.skip(x, gain=g) + self.conv1(self.conv0(x), gain=g)
        return self.conv1(self.conv0(x))


class Epilogue(nn.Module):
    """4x4 head: minibatch std, 3x3 conv, fc, output (1 logit or cmap_dim projections)."""

    def __init__(self, c: int, cmap_dim: int, mbstd_group_size: int, mbstd_num_channels: int):
        super().__init__()
        self.cmap_dim = cmap_dim
        self.mbstd = (
            MinibatchStdLayer(mbstd_group_size, mbstd_num_channels) if mbstd_num_channels else None
        )
        self.conv = EqualConv2d(c + mbstd_num_channels, c, 3, activation="lrelu")
        self.fc = EqualLinear(c * 16, c, activation="lrelu")
        self.out = EqualLinear(c, 1 if cmap_dim == 0 else cmap_dim)

    def forward(self, x: Tensor, cmap: Tensor | None) -> Tensor:
        """(N, c, 4, 4) -> logits (N,)."""
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.out(self.fc(self.conv(x).flatten(start_dim=1)))
        if cmap is not None:
            x = (x * cmap).sum(dim=1, keepdim=True) / math.sqrt(self.cmap_dim)
        return x.flatten()


class StyleGAN2Discriminator(nn.Module):
    """Images (N, C, H, W) in [-1, 1] [, labels (N,)] -> logits (N,) (or (N / pack,)).

    Args:
        image_size: 16..256 (power of two). channels: image channels. num_classes: 0 = off.
        architecture: 'resnet' (StyleGAN2) or 'orig' (no skips; the CIFAR config).
        channel_base, channel_max: widths min(channel_base // res, channel_max).
        mbstd_group_size: examples per minibatch-std group (4; CIFAR 32).
        mbstd_num_channels: feature maps it appends (1; 0 = off).
        pack: PacGAN packing degree (1 = off).
    """

    RANGES = {
        "channels": Num(integer=True, low=1),
        "num_classes": Num(integer=True, low=0),
        "channel_base": Num(integer=True, low=1),
        "channel_max": Num(integer=True, low=1),
        "mbstd_group_size": Num(integer=True, low=1),
        "mbstd_num_channels": Num(integer=True, low=0),
        "pack": PACK_RANGE,
    }

    def __init__(
        self,
        image_size: int = 32,
        channels: int = 3,
        num_classes: int = 0,
        architecture: str = "resnet",
        channel_base: int = 32768,
        channel_max: int = 512,
        mbstd_group_size: int = 4,
        mbstd_num_channels: int = 1,
        pack: int = 1,
    ) -> None:
        check_ranges(
            self, channels=channels, num_classes=num_classes, channel_base=channel_base,
            channel_max=channel_max, mbstd_group_size=mbstd_group_size,
            mbstd_num_channels=mbstd_num_channels, pack=pack,
        )  # fmt: skip
        if image_size not in SUPPORTED_SIZES:
            raise ValueError(f"StyleGAN2 nets support image_size in {list(SUPPORTED_SIZES)}")
        if architecture not in ("resnet", "orig"):
            raise ValueError(f"architecture must be 'resnet' or 'orig', got {architecture!r}")
        super().__init__()
        self.data_shape = (channels, image_size, image_size)
        self.num_classes, self.pack = num_classes, pack
        self.resolutions = [2**i for i in range(int(math.log2(image_size)), 2, -1)]
        width = {r: max(1, min(channel_base // r, channel_max)) for r in [*self.resolutions, 4]}
        for r in self.resolutions:
            c_in = 0 if r == image_size else width[r]
            block = DiscriminatorBlock(c_in, width[r], width[r // 2], channels * pack, architecture)
            setattr(self, f"b{r}", block)
        cmap_dim = width[4] if num_classes > 0 else 0
        if num_classes > 0:
            self.mapping = MappingNetwork(0, cmap_dim, num_classes, w_avg_beta=None)
        self.b4 = Epilogue(width[4], cmap_dim, mbstd_group_size, mbstd_num_channels)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """One logit per example (per pack when ``pack`` > 1)."""
        img = pack_input(x, self.pack)
        h = None
        for r in self.resolutions:
            h = getattr(self, f"b{r}")(h, img)
        cmap = None
        if self.num_classes > 0:
            if labels is None:
                raise ValueError("this discriminator is conditional and needs labels")
            cmap = self.mapping(None, labels[:: self.pack])
        return self.b4(h, cmap)
