"""Posterior families q(z | x) of the VAE family, as configured parts (``model.posterior``).

A family is an ``nn.Module`` that turns the encoder's output tuple into a per-batch
:class:`Posterior`, the object objectives sample from. Flows (IAF, planar, radial) are families
too: their ``rsample`` returns the transformed sample and its exact log-density, so the ELBO and
the test-time IW-NLL use them without any change elsewhere.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genlab.objectives import bounds


class Posterior:
    """q(z | x) for one batch. Subclasses set ``mean`` (B, D) and implement ``rsample``."""

    mean: Tensor

    def rsample(
        self, num: int | None = None, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """Return reparameterized samples and their log-density: z (B, D) and log q (B,) when
        ``num`` is None, else z (num, B, D) and log q (num, B); nats."""
        raise NotImplementedError

    def analytic_kl(self, prior: nn.Module) -> Tensor | None:
        """Return the closed-form KL(q || prior) per latent dim (B, D), or None when there is
        none (then objectives use the Monte Carlo estimate log q(z) - log p(z))."""
        return None


class GaussianPosterior(Posterior):
    """A diagonal Gaussian N(mu, diag(exp(logvar))), mu and logvar (B, D) in float32."""

    def __init__(self, mu: Tensor, logvar: Tensor) -> None:
        self.mean, self.logvar = mu, logvar

    def rsample(
        self, num: int | None = None, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """z = mu + sigma * eps, eps ~ N(0, I) (global RNG when ``generator`` is None)."""
        mu = self.mean
        shape = mu.shape if num is None else (num, *mu.shape)
        eps = torch.randn(shape, device=mu.device, dtype=mu.dtype, generator=generator)
        z = mu + (0.5 * self.logvar).exp() * eps
        return z, bounds.log_normal_diag(z, mu, self.logvar)

    def log_prob(self, z: Tensor) -> Tensor:
        """Return log q(z | x) summed over the last dim: z (..., B, D) -> (..., B), nats."""
        return bounds.log_normal_diag(z, self.mean, self.logvar)

    def analytic_kl(self, prior: nn.Module) -> Tensor | None:
        """KL(N(mu, sigma^2) || N(0, 1)) per dim (B, D) when the prior is standard normal."""
        if not getattr(prior, "standard_normal", False):
            return None
        return bounds.gaussian_kl_per_dim(self.mean, self.logvar)

    @property
    def std(self) -> Tensor:
        """sigma = exp(logvar / 2), (B, D)."""
        return (0.5 * self.logvar).exp()


class DiagonalGaussian(nn.Module):
    """The usual amortized family: the encoder outputs ``(mu, logvar)`` (B, D) each.

    Outputs are cast to float32 (under autocast too), so every log-density is float32.
    """

    def forward(self, enc_out: tuple[Tensor, ...]) -> GaussianPosterior:
        """Return q(z | x) = N(mu, diag(exp(logvar))) from the encoder's ``(mu, logvar)``."""
        mu, logvar = enc_out[0].float(), enc_out[1].float()
        return GaussianPosterior(mu, logvar)
