"""MLP generator and discriminator for 2D toy data (PacGAN's synthetic-data architecture).

PacGAN (Lin et al. 2018, code `synthetic_data_experiments/*/pacgan_task.py`): G has 4 hidden
layers of 400 units with batch norm and ReLU on z in R^2; D has 3 maxout layers of 200 units
(5 pieces) and a linear output. Points are returned unbounded (no tanh).
"""

from __future__ import annotations

from torch import Tensor, nn

from genlab.nets.spectral import add_spectral_norm


class Maxout(nn.Module):
    """Linear maxout layer: max over ``pieces`` linear maps, (N, c_in) -> (N, c_out)."""

    def __init__(self, c_in: int, c_out: int, pieces: int) -> None:
        super().__init__()
        self.c_out, self.pieces = c_out, pieces
        self.linear = nn.Linear(c_in, c_out * pieces)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x).view(x.shape[0], self.c_out, self.pieces).amax(dim=2)


class MLPGenerator2D(nn.Module):
    """z (N, latent_dim) -> points (N, out_dim), unbounded."""

    def __init__(
        self,
        latent_dim: int = 2,
        hidden: int = 400,
        n_layers: int = 4,
        out_dim: int = 2,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.data_shape = (out_dim,)
        layers: list[nn.Module] = []
        width = latent_dim
        for _ in range(n_layers):
            layers += [nn.Linear(width, hidden, bias=not batch_norm)]
            layers += [nn.BatchNorm1d(hidden)] if batch_norm else []
            layers += [nn.ReLU(True)]
            width = hidden
        layers.append(nn.Linear(width, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        """Return points (N, out_dim)."""
        return self.net(z)


class MLPDiscriminator2D(nn.Module):
    """Points (N, in_dim) -> logits (N,). ``maxout_pieces=1`` uses LeakyReLU(0.2) instead."""

    def __init__(
        self,
        in_dim: int = 2,
        hidden: int = 200,
        n_layers: int = 3,
        maxout_pieces: int = 5,
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        self.data_shape = (in_dim,)
        layers: list[nn.Module] = []
        width = in_dim
        for _ in range(n_layers):
            if maxout_pieces > 1:
                layers.append(Maxout(width, hidden, maxout_pieces))
            else:
                layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2, True)]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)
        if spectral_norm:
            add_spectral_norm(self)

    def forward(self, x: Tensor) -> Tensor:
        """Return one logit per example, shape (N,)."""
        return self.net(x).flatten()
