"""StyleGAN2 synthesis network with skip (output) connections (Karras et al. 2020, Fig. 7b).

Read against NVlabs/stylegan2-ada-pytorch ``training/networks.py`` (``SynthesisLayer``,
``ToRGBLayer``, ``SynthesisBlock`` with architecture='skip', ``SynthesisNetwork``). A learned 4x4
constant; per resolution two modulated/demodulated 3x3 convolutions (the first upsamples x2),
per-pixel noise inputs scaled by a learned per-layer strength (zero at init), and a ToRGB layer
(modulated 1x1, no demodulation) whose outputs are upsampled and summed (skip generator).
Channels per resolution: min(channel_base // res, channel_max). Names (``b{res}.conv0``,
``.conv1``, ``.torgb``, ``.const``, ``affine``, ``noise_strength``, ``noise_const``) follow the
official file.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from genlab.nets.stylegan2.layers import (
    LRELU_GAIN,
    EqualLinear,
    fir_filter,
    lrelu_act,
    modulated_conv2d,
    upsample2d,
)
from genlab.utils.ranges import Num, check_ranges

NOISE_MODES = ("random", "const", "none")


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv (optionally x2 up first) + noise + bias + lrelu; w (N, w_dim) styles it.

    ``noise_mode``: 'random' (fresh N(0, 1) per call, global RNG), 'const' (the fixed buffer
    ``noise_const``) or 'none'.
    """

    def __init__(self, c_in: int, c_out: int, w_dim: int, resolution: int, up: bool = False):
        super().__init__()
        self.resolution, self.up = resolution, up
        self.noise_mode = "random"
        self.affine = EqualLinear(w_dim, c_in, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(c_out, c_in, 3, 3))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.register_buffer("resample_filter", fir_filter(), persistent=False)

    def forward(self, x: Tensor, w: Tensor, gain: float = 1.0) -> Tensor:
        """x (N, c_in, R or R/2, .) -> (N, c_out, R, R)."""
        if self.up:
            x = upsample2d(x, self.resample_filter)
        x = modulated_conv2d(x, self.weight, self.affine(w), demodulate=True, padding=1)
        if self.noise_mode == "random":
            n = x.shape[0]
            x = x + torch.randn(n, 1, self.resolution, self.resolution, device=x.device,
                                dtype=x.dtype) * self.noise_strength  # fmt: skip
        elif self.noise_mode == "const":
            x = x + self.noise_const * self.noise_strength
        return lrelu_act(x + self.bias.view(1, -1, 1, 1), LRELU_GAIN * gain)


class ToRGBLayer(nn.Module):
    """Modulated 1x1 conv without demodulation (styles scaled by 1/sqrt(c_in)) + bias."""

    def __init__(self, c_in: int, channels: int, w_dim: int) -> None:
        super().__init__()
        self.affine = EqualLinear(w_dim, c_in, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(channels, c_in, 1, 1))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.weight_gain = 1.0 / math.sqrt(c_in)

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        """x (N, c_in, R, R) -> image contribution (N, channels, R, R)."""
        styles = self.affine(w) * self.weight_gain
        return modulated_conv2d(x, self.weight, styles, demodulate=False) + self.bias.view(
            1, -1, 1, 1
        )


class SynthesisBlock(nn.Module):
    """One resolution of the skip generator; uses ``num_conv + 1`` style vectors."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, resolution: int, channels: int):
        super().__init__()
        self.c_in, self.resolution = c_in, resolution
        if c_in == 0:
            self.const = nn.Parameter(torch.randn(c_out, resolution, resolution))
        else:
            self.conv0 = SynthesisLayer(c_in, c_out, w_dim, resolution, up=True)
        self.conv1 = SynthesisLayer(c_out, c_out, w_dim, resolution)
        self.torgb = ToRGBLayer(c_out, channels, w_dim)
        self.num_conv = 1 if c_in == 0 else 2
        self.register_buffer("resample_filter", fir_filter(), persistent=False)

    def forward(self, x: Tensor | None, img: Tensor | None, ws: Tensor) -> tuple[Tensor, Tensor]:
        """ws (N, num_conv + 1, w_dim) -> (features, image so far), both at this resolution."""
        if self.c_in == 0:
            x = self.const[None].repeat(ws.shape[0], 1, 1, 1)
            x = self.conv1(x, ws[:, 0])
        else:
            x = self.conv1(self.conv0(x, ws[:, 0]), ws[:, 1])
        y = self.torgb(x, ws[:, self.num_conv])
        img = y if img is None else upsample2d(img, self.resample_filter) + y
        return x, img


class SynthesisNetwork(nn.Module):
    """ws (N, num_ws, w_dim) -> images (N, channels, image_size, image_size), about [-1, 1].

    Args:
        w_dim: style size. image_size: power of two >= 4. channels: image channels.
        channel_base, channel_max: width min(channel_base // res, channel_max) at resolution res
            (official defaults 32768 and 512; CIFAR config the same).
    """

    RANGES = {
        "w_dim": Num(integer=True, low=1),
        "image_size": Num(integer=True, low=4),
        "channels": Num(integer=True, low=1),
        "channel_base": Num(integer=True, low=1),
        "channel_max": Num(integer=True, low=1),
    }

    def __init__(
        self, w_dim: int, image_size: int, channels: int, channel_base: int, channel_max: int
    ) -> None:
        check_ranges(
            self, w_dim=w_dim, image_size=image_size, channels=channels,
            channel_base=channel_base, channel_max=channel_max,
        )  # fmt: skip
        if image_size & (image_size - 1):
            raise ValueError(f"StyleGAN2 image_size must be a power of two, got {image_size}")
        super().__init__()
        self.w_dim = w_dim
        self.resolutions = [2**i for i in range(2, int(math.log2(image_size)) + 1)]
        width = {r: max(1, min(channel_base // r, channel_max)) for r in self.resolutions}
        self.num_ws = 0
        for r in self.resolutions:
            block = SynthesisBlock(width[r // 2] if r > 4 else 0, width[r], w_dim, r, channels)
            setattr(self, f"b{r}", block)
            self.num_ws += block.num_conv
        self.num_ws += 1  # the last block's ToRGB

    def blocks(self) -> list[SynthesisBlock]:
        """The blocks from 4x4 up to the output resolution."""
        return [getattr(self, f"b{r}") for r in self.resolutions]

    def forward(self, ws: Tensor) -> Tensor:
        """Images (N, C, H, W) from styles (N, num_ws, w_dim); block i reads its convs' styles
        and the next style for its ToRGB (as the official ``split_ws``)."""
        x = img = None
        idx = 0
        for block in self.blocks():
            x, img = block(x, img, ws[:, idx : idx + block.num_conv + 1])
            idx += block.num_conv
        return img
