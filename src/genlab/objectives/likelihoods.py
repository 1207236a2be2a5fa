"""Observation models p(x | z) for VAEs: Bernoulli, Gaussian and discretized logistic.

Each likelihood turns the decoder's output tensor (B, C * params_per_channel, H, W) into a
log-probability in nats per example, a mean image in [0, 1] and samples. They are modules so
that a learned scale is a parameter that is optimized and checkpointed with the model.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class Likelihood(nn.Module):
    """Base class: subclasses set ``params_per_channel`` and ``discrete``."""

    params_per_channel: int = 1
    # True when log_prob is a log probability mass over 8-bit or binary values, so that
    # bits/dim is nll / (D ln 2); False for continuous densities (see bits_per_dim).
    discrete: bool = True

    def log_prob(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Return log p(x | params) summed over pixels, shape (B,), in nats."""
        raise NotImplementedError

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        """Return the mean image (B, C, H, W) in [0, 1]."""
        raise NotImplementedError

    def sample(self, params: torch.Tensor) -> torch.Tensor:
        """Return a sample image (B, C, H, W) in [0, 1]."""
        raise NotImplementedError


class Bernoulli(Likelihood):
    """Bernoulli pixels; decoder outputs logits. Data must be binary ({0, 1}) for a proper NLL."""

    params_per_channel = 1
    discrete = True

    def log_prob(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Return sum over pixels of log Bernoulli(x; sigmoid(logits)), shape (B,), nats."""
        nll = F.binary_cross_entropy_with_logits(params, x, reduction="none")
        return -nll.flatten(1).sum(1)

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        """Return sigmoid(logits): pixel probabilities in [0, 1]."""
        return torch.sigmoid(params)

    def sample(self, params: torch.Tensor) -> torch.Tensor:
        """Return binary samples in {0, 1}."""
        return torch.bernoulli(torch.sigmoid(params))


class Gaussian(Likelihood):
    """Diagonal Gaussian with mean sigmoid(output) and one global scale, fixed or learned.

    A continuous density: bits/dim adds log(256) per dimension (bits_per_dim handles it).
    """

    params_per_channel = 1
    discrete = False

    def __init__(self, log_scale: float = -2.0, learn_scale: bool = True) -> None:
        super().__init__()
        self.log_scale = nn.Parameter(torch.tensor(float(log_scale)), requires_grad=learn_scale)

    def log_prob(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Return sum over pixels of log N(x; sigmoid(out), exp(log_scale)^2), (B,), nats."""
        mean = torch.sigmoid(params)
        log_scale = self.log_scale.clamp(min=-7.0)
        lp = -0.5 * ((x - mean) / log_scale.exp()) ** 2 - log_scale - 0.5 * math.log(2 * math.pi)
        return lp.flatten(1).sum(1)

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        """Return the mean image in [0, 1]."""
        return torch.sigmoid(params)

    def sample(self, params: torch.Tensor) -> torch.Tensor:
        """Return mean + scale * noise, clamped to [0, 1]."""
        noise = torch.randn_like(params) * self.log_scale.exp()
        return (torch.sigmoid(params) + noise).clamp(0, 1)


class DiscretizedLogistic(Likelihood):
    """Discretized logistic over 256 levels (PixelCNN++ without the mixture), for 8-bit colour.

    The decoder outputs 2 channels per image channel: the mean (through tanh, in [-1, 1]) and
    the log scale. Written by hand because torch.distributions has no discretized logistic.
    """

    params_per_channel = 2
    discrete = True

    def __init__(self, num_bins: int = 256, min_log_scale: float = -7.0) -> None:
        super().__init__()
        self.num_bins = num_bins
        self.min_log_scale = min_log_scale

    def _split(self, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_scale = params.chunk(2, dim=1)
        return torch.tanh(mean), log_scale.clamp(min=self.min_log_scale)

    def log_prob(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Return log P(x) over 256 bins summed over pixels, (B,), nats; x in [0, 1]."""
        mean, log_scale = self._split(params)
        x = x * 2.0 - 1.0  # bins of width 2 / (num_bins - 1) centred on the data values
        half_bin = 1.0 / (self.num_bins - 1)
        inv_scale = torch.exp(-log_scale)
        cdf_plus = torch.sigmoid(inv_scale * (x - mean + half_bin))
        cdf_minus = torch.sigmoid(inv_scale * (x - mean - half_bin))
        log_cdf_plus = F.logsigmoid(inv_scale * (x - mean + half_bin))  # lowest bin: P(X <= x)
        log_one_minus_cdf_minus = -F.softplus(inv_scale * (x - mean - half_bin))  # highest bin
        log_mass = torch.log((cdf_plus - cdf_minus).clamp(min=1e-12))
        lp = torch.where(
            x < -0.999, log_cdf_plus, torch.where(x > 0.999, log_one_minus_cdf_minus, log_mass)
        )
        return lp.flatten(1).sum(1)

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        """Return the location as an image in [0, 1]."""
        mean, _ = self._split(params)
        return (mean + 1.0) / 2.0

    def sample(self, params: torch.Tensor) -> torch.Tensor:
        """Return logistic samples quantized to the 256 levels, in [0, 1]."""
        mean, log_scale = self._split(params)
        u = torch.rand_like(mean).clamp(1e-5, 1 - 1e-5)
        x = mean + log_scale.exp() * (torch.log(u) - torch.log1p(-u))
        x = ((x.clamp(-1, 1) + 1) / 2 * (self.num_bins - 1)).round() / (self.num_bins - 1)
        return x
