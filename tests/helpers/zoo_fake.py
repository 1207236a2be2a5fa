"""A tiny stand-in for the VAE of the SPEC's objective API (``model.prior``, ``model.posterior``,
``model.likelihood``, ``decode``, ``log_px``, ``log_weights``, ``posterior_of``), so the zoo's
objectives, priors and flows are unit-tested on small tensors without a LightningModule.

The Gaussian posterior here mirrors ``genlab.objectives.posteriors.GaussianPosterior``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_LOG_2PI = math.log(2 * math.pi)


class StdNormal(nn.Module):
    """N(0, I) with the Prior interface."""

    standard_normal = True

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim

    def log_prob(self, z: Tensor) -> Tensor:
        return -0.5 * (_LOG_2PI + z**2).sum(-1)

    def sample(self, num: int, generator: torch.Generator | None = None) -> Tensor:
        return torch.randn(num, self.latent_dim, generator=generator)


class Gauss:
    """Diagonal Gaussian posterior (mean, logvar) with ``rsample``/``log_prob``/``analytic_kl``."""

    def __init__(self, mu: Tensor, logvar: Tensor) -> None:
        self.mean, self.logvar = mu, logvar

    def rsample(self, num=None, generator=None):
        shape = self.mean.shape if num is None else (num, *self.mean.shape)
        eps = torch.randn(shape, generator=generator, dtype=self.mean.dtype)
        z = self.mean + (0.5 * self.logvar).exp() * eps
        return z, self.log_prob(z)

    def log_prob(self, z: Tensor) -> Tensor:
        return -0.5 * (_LOG_2PI + self.logvar + (z - self.mean) ** 2 / self.logvar.exp()).sum(-1)

    def analytic_kl(self, prior):
        if not getattr(prior, "standard_normal", False):
            return None
        return 0.5 * (self.mean**2 + self.logvar.exp() - 1 - self.logvar)


class GaussFamily(nn.Module):
    def forward(self, enc_out):
        up = [t.to(torch.promote_types(t.dtype, torch.float32)) for t in enc_out]
        return Gauss(up[0], up[1])


class LinearEncoder(nn.Module):
    def __init__(self, data_shape, latent_dim: int) -> None:
        super().__init__()
        self.data_shape = tuple(data_shape)
        self.net = nn.Linear(math.prod(data_shape), 2 * latent_dim)

    def forward(self, x: Tensor):
        return tuple(self.net(x.flatten(1)).chunk(2, -1))


class LinearDecoder(nn.Module):
    def __init__(self, data_shape, latent_dim: int) -> None:
        super().__init__()
        self.data_shape = tuple(data_shape)
        self.net = nn.Linear(latent_dim, math.prod(data_shape))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(-1, *self.data_shape)


class BernoulliLik(nn.Module):
    def log_prob(self, params: Tensor, x: Tensor) -> Tensor:
        return -F.binary_cross_entropy_with_logits(params, x, reduction="none").flatten(1).sum(1)

    def mean(self, params: Tensor) -> Tensor:
        return torch.sigmoid(params)


class FakeVAE(nn.Module):
    """encoder/decoder/likelihood/prior/posterior with the SPEC helper methods."""

    def __init__(self, data_shape=(1, 4, 4), latent_dim=3, prior=None, posterior=None, enc=None):
        super().__init__()
        self.encoder = enc if enc is not None else LinearEncoder(data_shape, latent_dim)
        self.decoder = LinearDecoder(data_shape, latent_dim)
        self.likelihood = BernoulliLik()
        self.prior = prior if prior is not None else StdNormal(latent_dim)
        self.posterior = posterior if posterior is not None else GaussFamily()
        if hasattr(self.prior, "bind"):
            self.prior.bind(self)

    def posterior_of(self, x: Tensor, y=None):
        return self.posterior(self.encoder(x))

    def decode(self, z: Tensor, y=None) -> Tensor:
        return self.decoder(z)

    def log_px(self, x: Tensor, z: Tensor, y=None) -> Tensor:
        lead = z.shape[:-1]
        xr = x.expand(*lead[:-1], *x.shape) if z.dim() == 3 else x
        params = self.decoder(z.reshape(-1, z.shape[-1]))
        return self.likelihood.log_prob(params, xr.reshape(-1, *x.shape[1:])).view(lead)

    def log_weights(self, x: Tensor, y, q, k: int, generator=None) -> Tensor:
        z, log_q = q.rsample(k, generator=generator)
        return self.log_px(x, z, y) + self.prior.log_prob(z) - log_q
