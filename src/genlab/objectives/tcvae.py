"""beta-TC-VAE: the KL term split into index-code MI, total correlation and dimension-wise KL.

Chen, Li, Grosse & Duvenaud, "Isolating Sources of Disentanglement in VAEs", NeurIPS 2018;
official code rtqichen/beta-tcvae ``vae_quant.py`` (``elbo_decomposition`` and
``_log_importance_weight_matrix``); reference implementation checked in the slow parity tests:
pythae ``pythae/models/beta_tc_vae/beta_tc_vae_model.py`` (``use_mss``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from genlab.utils.ranges import Num, check_ranges

_LOG_2PI = math.log(2 * math.pi)


def log_normal_elementwise(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """Return log N(z; mu, exp(logvar)) per element (broadcast), nats (not summed)."""
    return -0.5 * (_LOG_2PI + logvar + (z - mu) ** 2 * torch.exp(-logvar))


def log_importance_weight_matrix(batch_size: int, dataset_size: int) -> Tensor:
    """Return the (B, B) log-weights of minibatch stratified sampling (Chen et al. 2018, App. C.2).

    Row i weighs q(z_i | x_j): 1/N for j = i (the example z_i was drawn from), (N - M)/(N M)
    for j = i + 1 (mod B) and 1/M for the others, M = B - 1; each row sums to one. Needs B >= 2
    and N >= B - 1 (float64).

    The official ``vae_quant.py`` (and pythae, which copies it) writes the 1/N weights into
    column 0 and the stratum weight into column 1 (strided views of stride B, not B + 1; see
    YannDubs/disentangling-vae issue 58), so row i > 0 gives 1/N to example 0 instead of to
    its own example. genlab follows the paper; the parity test swaps this matrix into pythae.
    """
    if batch_size < 2 or dataset_size < batch_size - 1:
        raise ValueError(
            f"the stratified (mss) estimator needs 2 <= batch size ({batch_size}) <= "
            f"dataset_size + 1 ({dataset_size} + 1)"
        )
    n, m = float(dataset_size), float(batch_size - 1)
    idx = torch.arange(batch_size)
    w = torch.full((batch_size, batch_size), 1.0 / m, dtype=torch.float64)
    w[idx, (idx + 1) % batch_size] = (n - m) / (n * m)
    w[idx, idx] = 1.0 / n
    return w.log()


def tc_decomposition(
    z: Tensor,
    mu: Tensor,
    logvar: Tensor,
    log_pz_per_dim: Tensor,
    dataset_size: int,
    estimator: str = "mss",
) -> dict[str, Tensor]:
    """Return the per-example terms of KL = MI + TC + dimension-wise KL, each (B,), nats.

    Args:
        z: (B, D) one sample z_i ~ q(z | x_i) per example.
        mu, logvar: (B, D) parameters of the diagonal Gaussian q(z | x_j) of the batch.
        log_pz_per_dim: (B, D) log p(z_i,d) under a factorized prior.
        dataset_size: N, the number of training examples (weights of the aggregate posterior).
        estimator: ``mss`` (minibatch stratified sampling) or ``mws`` (minibatch weighted
            sampling: log q(z) ~ logsumexp_j log q(z_i | x_j) - log(B N)).

    ``mi + tc + dim_kl`` equals log q(z_i | x_i) - log p(z_i) for every example by construction.
    """
    b = z.shape[0]
    log_qz_x = log_normal_elementwise(z, mu, logvar).sum(-1)  # (B,)
    mat = log_normal_elementwise(z[:, None, :], mu[None], logvar[None])  # (B_i, B_j, D)
    if estimator == "mss":
        logw = log_importance_weight_matrix(b, dataset_size).to(z)
        log_qz = torch.logsumexp(logw + mat.sum(-1), dim=1)
        log_prod = torch.logsumexp(logw[:, :, None] + mat, dim=1).sum(-1)
    elif estimator == "mws":
        norm = math.log(b * dataset_size)
        log_qz = torch.logsumexp(mat.sum(-1), dim=1) - norm
        log_prod = (torch.logsumexp(mat, dim=1) - norm).sum(-1)
    else:
        raise ValueError(f"estimator={estimator!r} is not one of 'mss', 'mws'")
    return {
        "mi": log_qz_x - log_qz,
        "tc": log_qz - log_prod,
        "dim_kl": log_prod - log_pz_per_dim.sum(-1),
    }


def prior_log_prob_per_dim(prior: object, z: Tensor) -> Tensor:
    """Return log p(z) per latent dim (B, D) for a factorized prior, nats.

    N(0, I) (``prior.standard_normal``) is handled here; any other prior must offer
    ``log_prob_per_dim(z)`` (the dimension-wise KL is undefined for a non-factorized prior).
    """
    if getattr(prior, "standard_normal", False):
        return -0.5 * (_LOG_2PI + z**2)
    if hasattr(prior, "log_prob_per_dim"):
        return prior.log_prob_per_dim(z)
    raise ValueError(
        f"beta-TC-VAE needs a factorized prior (dimension-wise KL); {type(prior).__name__} "
        "is not: use model/prior=standard_normal."
    )


class BetaTCVAE:
    """Objective recon - alpha * MI - beta * TC - gamma * dimension-wise KL (to maximise).

    Chen et al. 2018 eq. 4 (``alpha = gamma = 1``, ``beta = 6`` on dSprites); official
    rtqichen/beta-tcvae ``vae_quant.py``; pythae ``beta_tc_vae_model.py``.

    Args:
        alpha: weight of the index-code mutual information I_q(z; n), >= 0.
        beta: weight of the total correlation KL(q(z) || prod_d q(z_d)), >= 0.
        gamma: weight of the dimension-wise KL sum_d KL(q(z_d) || p(z_d)), >= 0.
        estimator: ``mss`` (minibatch stratified sampling, the paper's choice; pythae
            ``use_mss=True``) or ``mws`` (minibatch weighted sampling).
        dataset_size: N in the estimators (the training-set size); None = the batch size
            (pythae's default when no size is passed).

    Needs a diagonal Gaussian posterior (``q.mean``, ``q.logvar``) and a factorized prior.
    Returns ``loss`` (B,), ``elbo``, ``recon``, ``kl`` (the single-sample MC estimate that the
    three parts add up to), ``mi``, ``tc``, ``dim_kl``; all (B,), nats.
    """

    RANGES = {
        "alpha": Num(low=0),
        "beta": Num(low=0),
        "gamma": Num(low=0),
        "dataset_size": Num(integer=True, low=1, optional=True),
    }

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 6.0,
        gamma: float = 1.0,
        estimator: str = "mss",
        dataset_size: int | None = None,
    ) -> None:
        check_ranges(self, alpha=alpha, beta=beta, gamma=gamma, dataset_size=dataset_size)
        if estimator not in ("mss", "mws"):
            raise ValueError(f"model.objective.estimator={estimator!r}: expected mss or mws")
        self.alpha, self.beta, self.gamma = float(alpha), float(beta), float(gamma)
        self.estimator = estimator
        self.dataset_size = None if dataset_size is None else int(dataset_size)

    def __call__(self, model, x: Tensor, y: Tensor | None, q, generator=None) -> dict[str, Tensor]:
        """Return the beta-TC-VAE terms of a batch (see the class docstring)."""
        if not hasattr(q, "logvar"):
            raise ValueError("beta-TC-VAE needs a diagonal Gaussian posterior (model.posterior)")
        z, log_q = q.rsample(generator=generator)
        recon = model.log_px(x, z, y)
        n = self.dataset_size if self.dataset_size is not None else x.shape[0]
        parts = tc_decomposition(
            z, q.mean, q.logvar, prior_log_prob_per_dim(model.prior, z), n, self.estimator
        )
        kl = log_q - model.prior.log_prob(z)
        reg = self.alpha * parts["mi"] + self.beta * parts["tc"] + self.gamma * parts["dim_kl"]
        return {"loss": reg - recon, "elbo": recon - kl, "recon": recon, "kl": kl, **parts}

    def __repr__(self) -> str:
        return (
            f"BetaTCVAE(alpha={self.alpha}, beta={self.beta}, gamma={self.gamma}, "
            f"estimator={self.estimator!r}, dataset_size={self.dataset_size})"
        )
