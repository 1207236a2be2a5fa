"""StyleGAN2 generator = mapping network + skip synthesis network (Karras et al. 2020).

Read against NVlabs/stylegan2-ada-pytorch ``training/networks.py`` (``Generator``) and
``training/loss.py`` (``StyleGAN2Loss.run_G``: style mixing). Style mixing regularization
(Karras et al. 2019, Sec. 3.1): in training mode, with probability ``style_mixing_prob`` the
styles from a random cutoff layer on come from a second latent. Truncation (Sec. 5.1 / the
official ``truncation_psi``): outside training mode w is pulled towards the tracked mean w_avg by
``truncation_psi`` (1 = off), so sampling, metrics and image callbacks see truncated samples.
The random draws (noise inputs, style mixing) use torch's global RNG, which genlab checkpoints.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genlab.nets.stylegan2.mapping import MappingNetwork
from genlab.nets.stylegan2.synthesis import NOISE_MODES, SynthesisNetwork
from genlab.utils.ranges import Num, check_ranges

SUPPORTED_SIZES = (16, 32, 64, 128, 256)


class StyleGAN2Generator(nn.Module):
    """z (N, latent_dim) [, labels (N,)] -> images (N, channels, image_size, image_size).

    Output is linear (no tanh), in about [-1, 1] as in the official code.

    Args:
        latent_dim: z size (official z_dim 512). w_dim: style size (512).
        image_size: 16, 32, 64, 128 or 256. channels: image channels.
        num_classes: 0 = unconditional; > 0 conditions the mapping net on labels.
        channel_base, channel_max: synthesis widths min(channel_base // res, channel_max).
        mapping_layers: depth of the mapping net (8; the CIFAR config uses 2).
        mapping_lr_multiplier: learning-rate multiplier of the mapping net (0.01).
        w_avg_beta: decay of the tracked mean of w (0.995).
        style_mixing_prob: probability of style mixing per training forward (0.9; CIFAR 0).
        truncation_psi: truncation for sampling (1 = off). noise_mode: random | const | none.
    """

    RANGES = {
        "latent_dim": Num(integer=True, low=1),
        "num_classes": Num(integer=True, low=0),
        "style_mixing_prob": Num(low=0, high=1),
        "truncation_psi": Num(),
    }

    def __init__(
        self,
        latent_dim: int = 512,
        image_size: int = 32,
        channels: int = 3,
        num_classes: int = 0,
        w_dim: int = 512,
        channel_base: int = 32768,
        channel_max: int = 512,
        mapping_layers: int = 8,
        mapping_lr_multiplier: float = 0.01,
        w_avg_beta: float = 0.995,
        style_mixing_prob: float = 0.9,
        truncation_psi: float = 1.0,
        noise_mode: str = "random",
    ) -> None:
        check_ranges(
            self, latent_dim=latent_dim, num_classes=num_classes,
            style_mixing_prob=style_mixing_prob, truncation_psi=truncation_psi,
        )  # fmt: skip
        if image_size not in SUPPORTED_SIZES:
            raise ValueError(
                f"StyleGAN2 nets support image_size in {list(SUPPORTED_SIZES)}, got {image_size}"
                " (set data.image_size to one of them)."
            )
        super().__init__()
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.data_shape = (channels, image_size, image_size)
        self.style_mixing_prob, self.truncation_psi = style_mixing_prob, truncation_psi
        self.synthesis = SynthesisNetwork(w_dim, image_size, channels, channel_base, channel_max)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(
            latent_dim, w_dim, num_classes, mapping_layers, mapping_lr_multiplier, w_avg_beta,
            num_ws=self.num_ws,
        )  # fmt: skip
        self.set_noise_mode(noise_mode)

    def set_noise_mode(self, mode: str) -> None:
        """Set every noise input to 'random', 'const' or 'none'."""
        if mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {mode!r}")
        for block in self.synthesis.blocks():
            for layer in (getattr(block, "conv0", None), block.conv1):
                if layer is not None:
                    layer.noise_mode = mode

    def styles(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """ws (N, num_ws, w_dim) for z: style mixing in training mode, truncation otherwise."""
        if not self.training:
            return self.mapping(z, labels, truncation_psi=self.truncation_psi)
        ws = self.mapping(z, labels)
        if self.style_mixing_prob > 0 and torch.rand(()).item() < self.style_mixing_prob:
            cutoff = int(torch.randint(1, self.num_ws, ()).item())
            mixed = self.mapping(torch.randn_like(z), labels, update_w_avg=False)
            ws = torch.cat([ws[:, :cutoff], mixed[:, cutoff:]], dim=1)
        return ws

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Images (N, C, H, W), about [-1, 1]."""
        return self.synthesis(self.styles(z.flatten(start_dim=1), labels))
