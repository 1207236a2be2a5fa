"""A prior defined outside ``src/``: p(z) = N(0, scale^2 I) (tests that test/nll_iw and every
objective use the configured prior, not a hard-wired N(0, I))."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from genlab.objectives.priors import Prior


class ScaledNormal(Prior):
    """p(z) = N(0, scale^2 I); not ``standard_normal``, so KLs are Monte Carlo estimates."""

    def __init__(self, latent_dim: int, scale: float = 2.0) -> None:
        super().__init__(latent_dim)
        self.register_buffer("scale", torch.tensor(float(scale)))

    def log_prob(self, z: Tensor) -> Tensor:
        var = self.scale**2
        return -0.5 * (math.log(2 * math.pi) + var.log() + z**2 / var).sum(-1)

    def sample(self, num: int, generator: torch.Generator | None = None) -> Tensor:
        z = torch.randn(num, self.latent_dim, generator=generator)
        return z.to(self.scale.device) * self.scale
