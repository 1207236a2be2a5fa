"""Typed step outputs, so loggers and callbacks never reach into model internals."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class VAEOutput:
    """One VAE step on a batch. All terms are per example (B,) in nats unless noted.

    Attributes:
        loss: scalar training loss (negative objective, mean over the batch).
        elbo: ELBO with beta = 1, log p(x|z) - KL (comparable across beta).
        recon: single-sample reconstruction term E_q[log p(x|z)].
        kl: analytic KL(q(z|x) || p(z)).
        kl_per_dim: (B, latent_dim) analytic KL per latent dimension.
        mu: (B, latent_dim) posterior means (for active units).
        iw_bound: (B,) importance-weighted bound when K > 1, else None.
    """

    loss: torch.Tensor
    elbo: torch.Tensor
    recon: torch.Tensor
    kl: torch.Tensor
    kl_per_dim: torch.Tensor
    mu: torch.Tensor
    iw_bound: torch.Tensor | None = None
