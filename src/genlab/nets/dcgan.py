"""DCGAN generator and discriminator (Radford et al. 2016) for 16, 28, 32 and 64 pixels.

The generator maps z (N, latent_dim) to images (N, C, H, W) in [-1, 1] (tanh); the
discriminator maps images in [-1, 1] to one logit per example, shape (N,). Each stride-2
(transposed) convolution doubles (halves) the resolution, starting from 4x4 (7x7 for 28 px).
Options: ``attention_res`` puts a SAGAN self-attention block (genlab.nets.attention) after the
layer of that resolution; ``spectral_norm`` (both nets); ``pack`` (D): PacGAN packing
(genlab.nets.pack). With the options off the nets and their state dicts are unchanged.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from genlab.nets.attention import SelfAttention, check_attention_res
from genlab.nets.pack import PACK_RANGE, pack_input
from genlab.nets.sizes import DCGAN_SIZES
from genlab.nets.spectral import add_spectral_norm, norm_layer
from genlab.utils.ranges import Num, check_ranges

SUPPORTED_SIZES = DCGAN_SIZES  # (16, 28, 32, 64), genlab.nets.sizes


def _plan(image_size: int) -> tuple[int, int]:
    """Return (initial resolution, number of x2 stages) for ``image_size``; ValueError if
    the size is unsupported."""
    if image_size not in SUPPORTED_SIZES:
        raise ValueError(
            f"DCGAN nets do not support image_size={image_size}; supported sizes: "
            f"{list(SUPPORTED_SIZES)} (set data.image_size to one of them)."
        )
    init = 7 if image_size == 28 else 4
    return init, int(math.log2(image_size // init))


def dcgan_init(module: nn.Module) -> None:
    """DCGAN weight init: conv weights N(0, 0.02), norm scales N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.GroupNorm):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGenerator(nn.Module):
    """z (N, latent_dim) -> images (N, channels, image_size, image_size) in [-1, 1].

    Args:
        attention_res: resolution after which to add self-attention (None = off).
        spectral_norm: spectral norm on every layer (SAGAN uses it in G too).
    """

    RANGES = {  # noqa: RUF012 - declared ranges (genlab.utils.ranges)
        "latent_dim": Num(integer=True, low=1),
        "image_size": Num(integer=True, low=1),
        "channels": Num(integer=True, low=1),
        "base_channels": Num(integer=True, low=1),
    }

    supported_image_sizes = SUPPORTED_SIZES  #: read by genlab-train (run/checks.py)

    def __init__(
        self,
        latent_dim: int = 100,
        image_size: int = 32,
        channels: int = 3,
        base_channels: int = 64,
        attention_res: int | None = None,
        spectral_norm: bool = False,
    ) -> None:
        check_ranges(
            self,
            latent_dim=latent_dim,
            image_size=image_size,
            channels=channels,
            base_channels=base_channels,
        )
        super().__init__()
        init, n_up = _plan(image_size)
        check_attention_res(attention_res, [init * 2**i for i in range(n_up)], "DCGANGenerator")
        self.latent_dim = latent_dim
        self.data_shape = (channels, image_size, image_size)
        width = base_channels * 2 ** (n_up - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, width, init, 1, 0, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(True),
        ]
        res = init
        for _ in range(n_up - 1):
            if res == attention_res:
                layers.append(SelfAttention(width))
            layers += [
                nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width // 2),
                nn.ReLU(True),
            ]
            width //= 2
            res *= 2
        if res == attention_res:
            layers.append(SelfAttention(width))
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)
        if spectral_norm:
            add_spectral_norm(self)

    def forward(self, z: Tensor) -> Tensor:
        """Return images (N, C, H, W) in [-1, 1]."""
        return self.net(z.view(z.shape[0], -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    """Images (N, C, H, W) in [-1, 1] -> logits (N,).

    Args:
        norm: 'batch' (DCGAN), 'layer' or 'none' (use these with a gradient penalty).
        spectral_norm: wrap every convolution in spectral normalization (SNGAN's "standard CNN"
            uses spectral_norm=True with norm='none').
        attention_res: resolution after which to add self-attention (None = off).
        pack: PacGAN packing degree (1 = off): the first conv takes pack * channels and D
            returns one logit per pack of ``pack`` consecutive examples.
    """

    RANGES = {  # noqa: RUF012 - declared ranges (genlab.utils.ranges)
        "image_size": Num(integer=True, low=1),
        "channels": Num(integer=True, low=1),
        "base_channels": Num(integer=True, low=1),
        "pack": PACK_RANGE,
    }
    supported_image_sizes = SUPPORTED_SIZES  #: read by genlab-train (run/checks.py)

    def __init__(
        self,
        image_size: int = 32,
        channels: int = 3,
        base_channels: int = 64,
        norm: str = "batch",
        spectral_norm: bool = False,
        attention_res: int | None = None,
        pack: int = 1,
    ) -> None:
        check_ranges(
            self, image_size=image_size, channels=channels, base_channels=base_channels, pack=pack
        )
        super().__init__()
        init, n_down = _plan(image_size)
        norm_layer(norm, 1)  # validate the name before building anything
        check_attention_res(
            attention_res, [image_size // 2**i for i in range(1, n_down)], "DCGANDiscriminator"
        )
        self.data_shape = (channels, image_size, image_size)
        self.pack = pack
        width = base_channels
        layers: list[nn.Module] = [
            nn.Conv2d(channels * pack, width, 4, 2, 1),
            nn.LeakyReLU(0.2, True),
        ]
        res = image_size // 2
        for _ in range(n_down - 1):
            if res == attention_res:
                layers.append(SelfAttention(width))
            layers += [
                nn.Conv2d(width, width * 2, 4, 2, 1, bias=norm == "none"),
                norm_layer(norm, width * 2),
                nn.LeakyReLU(0.2, True),
            ]
            width *= 2
            res //= 2
        layers.append(nn.Conv2d(width, 1, init, 1, 0))
        self.net = nn.Sequential(*layers)
        dcgan_init(self)
        if spectral_norm:
            add_spectral_norm(self)

    def forward(self, x: Tensor) -> Tensor:
        """Return one logit per example, shape (N,) (per pack: (N / pack,))."""
        return self.net(pack_input(x, self.pack)).flatten()
