"""Priors p(z) of the VAE family, as configured parts (``model.prior``).

A prior is an ``nn.Module`` (so learned priors, e.g. VampPrior's pseudo-inputs, are parameters
of the model: optimized, checkpointed and moved with it) with two methods: ``log_prob`` (nats)
and ``sample``. Objectives and the test-time IW-NLL reach it as ``model.prior``, so a new prior
is evaluated exactly by every objective and by ``test/nll_iw``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from genlab.utils.ranges import Num, check_ranges


class Prior(nn.Module):
    """Base class of priors over flat latents z of size ``latent_dim``.

    ``standard_normal`` is True only for N(0, I): objectives may then use the closed-form KL
    against a diagonal Gaussian posterior (``Posterior.analytic_kl``); every other prior gets the
    single-sample Monte Carlo KL log q(z|x) - log p(z).
    """

    standard_normal: bool = False
    RANGES = {"latent_dim": Num(integer=True, low=1)}

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        check_ranges(self, latent_dim=latent_dim)
        self.latent_dim = int(latent_dim)

    def log_prob(self, z: Tensor) -> Tensor:
        """Return log p(z) summed over the last dim: z (..., D) -> (...), nats."""
        raise NotImplementedError

    def sample(self, num: int, generator: torch.Generator | None = None) -> Tensor:
        """Return ``num`` draws z ~ p(z), (num, D), on the prior's device."""
        raise NotImplementedError


class StandardNormal(Prior):
    """p(z) = N(0, I) (Kingma & Welling 2014)."""

    standard_normal = True

    def __init__(self, latent_dim: int) -> None:
        super().__init__(latent_dim)
        # a 0-element buffer: tells the device of a prior without parameters
        self.register_buffer("_anchor", torch.zeros(0), persistent=False)

    def log_prob(self, z: Tensor) -> Tensor:
        """Return log N(z; 0, I) summed over the last dim, nats."""
        return -0.5 * (math.log(2 * math.pi) + z**2).sum(-1)

    def sample(self, num: int, generator: torch.Generator | None = None) -> Tensor:
        """Return z ~ N(0, I), (num, D); drawn on the CPU generator when one is given."""
        z = torch.randn(num, self.latent_dim, generator=generator)
        return z.to(self._anchor.device)

    def extra_repr(self) -> str:
        return f"latent_dim={self.latent_dim}"
