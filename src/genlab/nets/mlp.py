"""Fully connected VAE encoder and decoder (the 784-400-40 style of the VAE papers)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from genlab.utils.ranges import Num, check_ranges


def mlp(sizes: Sequence[int], activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """Return Linear layers of the given sizes with ``activation`` between them (not at the end)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh}


def activation_class(name: str) -> type[nn.Module]:
    """Return the activation class for ``name`` (``relu`` | ``tanh``; Burda et al. use tanh)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation={name!r} is not one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


class MLPEncoder(nn.Module):
    """Map images (B, C, H, W) in [0, 1] to the mean and log-variance of q(z | x), each (B, D)."""

    RANGES = {  # noqa: RUF012 - declared ranges (genlab.utils.ranges)
        "channels": Num(integer=True, low=1),
        "image_size": Num(integer=True, low=1),
        "latent_dim": Num(integer=True, low=1),
    }

    def __init__(
        self,
        channels: int,
        image_size: int,
        latent_dim: int,
        hidden_dims: Sequence[int] = (400,),
        activation: str = "relu",
    ) -> None:
        check_ranges(self, channels=channels, image_size=image_size, latent_dim=latent_dim)
        super().__init__()
        self.data_shape = (channels, image_size, image_size)
        self.latent_dim = latent_dim
        in_dim = channels * image_size * image_size
        act = activation_class(activation)
        self.body = mlp([in_dim, *hidden_dims], act)
        self.body.append(act())
        self.head = nn.Linear(hidden_dims[-1], 2 * latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (mu, logvar) of the diagonal Gaussian posterior, each (B, latent_dim)."""
        mu, logvar = self.head(self.body(x.flatten(1))).chunk(2, dim=-1)
        return mu, logvar


class MLPDecoder(nn.Module):
    """Map latents (B, D) to likelihood parameters (B, C * params_per_channel, H, W)."""

    RANGES = {  # noqa: RUF012 - declared ranges (genlab.utils.ranges)
        "latent_dim": Num(integer=True, low=1),
        "channels": Num(integer=True, low=1),
        "image_size": Num(integer=True, low=1),
    }

    def __init__(
        self,
        latent_dim: int,
        channels: int,
        image_size: int,
        hidden_dims: Sequence[int] = (400,),
        params_per_channel: int = 1,
        activation: str = "relu",
    ) -> None:
        check_ranges(self, latent_dim=latent_dim, channels=channels, image_size=image_size)
        super().__init__()
        self.data_shape = (channels, image_size, image_size)
        self.out_shape = (channels * params_per_channel, image_size, image_size)
        out_dim = self.out_shape[0] * image_size * image_size
        self.net = mlp([latent_dim, *hidden_dims, out_dim], activation_class(activation))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Return unconstrained likelihood parameters (e.g. Bernoulli logits)."""
        return self.net(z).view(-1, *self.out_shape)
