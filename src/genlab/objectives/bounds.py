"""ELBO and importance-weighted bounds as pure functions of log-densities (all in nats)."""

from __future__ import annotations

import math

import torch


def log_normal_diag(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Return log N(z; mu, diag(exp(logvar))) summed over the last dim, in nats."""
    return -0.5 * (math.log(2 * math.pi) + logvar + (z - mu) ** 2 / logvar.exp()).sum(-1)


def log_standard_normal(z: torch.Tensor) -> torch.Tensor:
    """Return log N(z; 0, I) summed over the last dim, in nats."""
    return -0.5 * (math.log(2 * math.pi) + z**2).sum(-1)


def gaussian_kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Return the analytic KL(N(mu, exp(logvar)) || N(0, 1)) per latent dim, (B, D), nats."""
    return 0.5 * (mu**2 + logvar.exp() - 1.0 - logvar)


def elbo(log_px_z: torch.Tensor, kl: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """Return the (beta-weighted) ELBO E[log p(x|z)] - beta * KL per example, (B,), nats."""
    return log_px_z - beta * kl


def iw_bound(log_weights: torch.Tensor) -> torch.Tensor:
    """Return the importance-weighted bound logsumexp_k(log w_k) - log K, (B,), nats.

    Args:
        log_weights: (K, B) log p(x, z_k) - log q(z_k | x) for K samples z_k ~ q(z | x).
    """
    num_samples = log_weights.shape[0]
    # at least float32 (bf16/fp16 log-weights from autocast are upcast; float64 stays float64)
    log_weights = log_weights.to(torch.promote_types(log_weights.dtype, torch.float32))
    return torch.logsumexp(log_weights, dim=0) - math.log(num_samples)


def bits_per_dim(nll_nats: torch.Tensor, num_dims: int, discrete: bool = True) -> torch.Tensor:
    """Convert a negative log-likelihood per example (nats) into bits per dimension.

    For a discrete model (mass over 256 or 2 levels) this is nll / (D ln 2). For a continuous
    density on data scaled to [0, 1] from 8 bits, the mass of a bin of width 1/256 is about
    density / 256, so D * log(256) nats are added first (the usual dequantization convention).
    """
    if not discrete:
        nll_nats = nll_nats + num_dims * math.log(256.0)
    return nll_nats / (num_dims * math.log(2.0))
