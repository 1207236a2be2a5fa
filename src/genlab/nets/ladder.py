"""Networks of the Ladder VAE (Sønderby et al. 2016, Sec. 2.2; official casperkaae/LVAE).

``LadderEncoder``: the deterministic bottom-up pass d_1 = MLP(x), d_i = MLP(d_{i-1}), with a
linear head per layer giving the bottom-up estimate (mu_hat_i, pre-variance_i); the outputs of
all layers are concatenated bottom to top, (B, sum(sizes)) each, which is what
``genlab.objectives.ladder.LadderPosterior`` reads. ``LadderDecoder``: p(x | z_1), an MLP on the
first ``sizes[0]`` entries of the flat latent (the other layers reach x only through z_1).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from genlab.nets.mlp import MLPDecoder, activation_class
from genlab.utils.ranges import Num, check_ranges


def _check_sizes(sizes: Sequence[int], hidden: Sequence[int], key: str) -> list[int]:
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"{key}.sizes={sizes}: need >= 2 layers, each size >= 1")
    if len(hidden) != len(sizes) or min(int(h) for h in hidden) < 1:
        raise ValueError(f"{key}.hidden_dims={list(hidden)}: one width >= 1 per layer {sizes}")
    return sizes


class LadderEncoder(nn.Module):
    """Images (B, C, H, W) in [0, 1] -> (mu_hat, pre_var_hat), each (B, sum(sizes)).

    Args:
        channels, image_size: the images' shape.
        sizes: latent sizes [d_1, ..., d_L], bottom to top.
        hidden_dims: width of each deterministic layer (one per stochastic layer; the paper's
            MNIST model: [512, 256, 128, 64, 32] for sizes [64, 32, 16, 8, 4]).
        activation: ``relu`` | ``tanh`` (leaky ReLU in the paper; relu here as genlab's MLPs).
    """

    RANGES = {  # noqa: RUF012 - declared ranges (genlab.utils.ranges)
        "channels": Num(integer=True, low=1),
        "image_size": Num(integer=True, low=1),
    }

    def __init__(
        self,
        channels: int,
        image_size: int,
        sizes: Sequence[int],
        hidden_dims: Sequence[int],
        activation: str = "relu",
    ) -> None:
        check_ranges(self, channels=channels, image_size=image_size)
        super().__init__()
        self.sizes = _check_sizes(sizes, hidden_dims, "model.encoder")
        self.data_shape = (channels, image_size, image_size)
        self.latent_dim = sum(self.sizes)
        act = activation_class(activation)
        widths = [channels * image_size * image_size, *[int(h) for h in hidden_dims]]
        self.layers = nn.ModuleList(
            nn.Sequential(nn.Linear(widths[i], widths[i + 1]), act())
            for i in range(len(self.sizes))
        )
        self.heads = nn.ModuleList(
            nn.Linear(widths[i + 1], 2 * size) for i, size in enumerate(self.sizes)
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the bottom-up (mu_hat, pre-variance) of every layer, concatenated."""
        d, mus, pres = x.flatten(1), [], []
        for layer, head in zip(self.layers, self.heads, strict=True):
            d = layer(d)
            mu, pre = head(d).chunk(2, dim=-1)
            mus.append(mu)
            pres.append(pre)
        return torch.cat(mus, dim=-1), torch.cat(pres, dim=-1)


class LadderDecoder(MLPDecoder):
    """p(x | z_1): an ``MLPDecoder`` on z[:, :sizes[0]] of the flat ladder latent (N, D)."""

    def __init__(
        self,
        sizes: Sequence[int],
        channels: int,
        image_size: int,
        hidden_dims: Sequence[int] = (512,),
        params_per_channel: int = 1,
        activation: str = "relu",
    ) -> None:
        self.sizes = [int(s) for s in sizes]
        super().__init__(
            self.sizes[0], channels, image_size, hidden_dims, params_per_channel, activation
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Return likelihood parameters from z_1 = z[..., :sizes[0]]."""
        return super().forward(z[..., : self.sizes[0]])
