"""Worked example of docs/extending.md: an objective that needs z, outside ``src/``.

InfoVAE with the MMD divergence (Zhao et al. 2017, "InfoVAE", eq. 6 with the MMD choice):
maximise E_q[log p(x|z)] - (1 - alpha) KL(q(z|x) || p(z)) - (alpha + lambda - 1) MMD(q(z), p(z)).
The MMD between the batch's posterior samples and prior samples uses an RBF kernel with
bandwidth 2 * latent_dim (the kernel scale pythae and the InfoVAE code use). It reaches z,
the prior and the likelihood through the model, and returns named terms; genlab logs
``train/mmd`` etc. with no other change.
"""

from __future__ import annotations

import torch
from torch import Tensor

from genlab.objectives.vae_objectives import elbo_terms
from genlab.utils.ranges import Num, check_ranges


def rbf_mmd(a: Tensor, b: Tensor, bandwidth: float) -> Tensor:
    """Biased (V-statistic) MMD^2 between samples a (N, D) and b (M, D), RBF kernel
    exp(-||u - v||^2 / bandwidth); a scalar >= 0 (0 for identical sets)."""

    def k(u: Tensor, v: Tensor) -> Tensor:
        return torch.exp(-torch.cdist(u, v).pow(2) / bandwidth).mean()

    return k(a, a) + k(b, b) - 2 * k(a, b)


class InfoVAEMMD:
    """Terms: loss, elbo, recon, kl, mmd. ``alpha``, ``lam``: the paper's alpha and lambda."""

    RANGES = {"alpha": Num(high=1), "lam": Num(low=0)}

    def __init__(self, alpha: float = 0.0, lam: float = 10.0) -> None:
        check_ranges(self, alpha=alpha, lam=lam)
        self.alpha, self.lam = float(alpha), float(lam)

    def __call__(self, model, x: Tensor, y: Tensor | None, q, generator=None) -> dict:
        terms = elbo_terms(model, x, y, q, generator)
        z, _ = q.rsample(generator=generator)
        z_prior = model.prior.sample(z.shape[0], generator=None).to(z)
        mmd = rbf_mmd(z, z_prior, bandwidth=2.0 * z.shape[1])
        objective = (
            terms["recon"] - (1 - self.alpha) * terms["kl"] - (self.alpha + self.lam - 1) * mmd
        )
        return {"loss": -objective, **terms, "mmd": mmd}
