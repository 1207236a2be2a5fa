"""CMMD (Jayasumana et al. 2024, "Rethinking FID: Towards a Better Evaluation Metric for Image
Generation", CVPR; official code google-research/google-research ``cmmd/distance.py``).

MMD² with the Gaussian RBF kernel k(x, y) = exp(-||x - y||² / (2 σ²)), σ = 10, scaled by 1000,
on CLIP ViT-L/14 (336 px) image embeddings of unit norm (``metrics.extractors=[clip_vitl14]``;
any extractor's features work). Two estimators (``metrics.options.cmmd_estimator``):

* ``biased`` (default): the official code's — the means of the full kernel matrices, diagonals
  included (the "minimum-variance/biased" estimator, Gretton et al. 2012 Eq. 5, as its
  docstring says; the paper's text calls it unbiased). Default so numbers match published CMMD.
* ``unbiased``: Gretton et al. 2012 Eq. 3, the within-set means over i != j.

Computed in float64 row blocks of ``batch_size`` on the features' device (memory
``batch_size x N x 8`` bytes; the official code holds N x N matrices). Key: ``cmmd``.
"""

from __future__ import annotations

import torch

from genlab.metrics.registry import register_metric

SIGMA, SCALE = 10.0, 1000.0
ESTIMATORS = ("biased", "unbiased")


def _kernel_sum(x: torch.Tensor, y: torch.Tensor, gamma: float, batch_size: int) -> torch.Tensor:
    """Sum over all pairs of exp(-gamma ||x_i - y_j||²), float64 scalar."""
    total = x.new_zeros((), dtype=torch.float64)
    y_sq = (y * y).sum(1)
    for block in x.split(batch_size):
        d2 = (block * block).sum(1)[:, None] + y_sq[None] - 2 * block @ y.T
        total = total + torch.exp(-gamma * d2).sum()
    return total


def cmmd(
    real: torch.Tensor,
    fake: torch.Tensor,
    sigma: float = SIGMA,
    scale: float = SCALE,
    estimator: str = "biased",
    batch_size: int = 1000,
) -> float:
    """Return ``scale`` x MMD² between real (N, D) and fake (M, D) features with the RBF kernel
    of bandwidth ``sigma`` (feature units); ``estimator``: ``biased`` (official) or ``unbiased``."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"cmmd_estimator={estimator!r}; allowed: {', '.join(ESTIMATORS)}")
    x, y = real.detach().double(), fake.detach().double().to(real.device)
    n, m = len(x), len(y)
    if min(n, m) < 2:
        raise ValueError(f"CMMD needs at least 2 samples per set, got {n} and {m}")
    gamma = 1.0 / (2.0 * sigma**2)
    k_xx, k_yy = _kernel_sum(x, x, gamma, batch_size), _kernel_sum(y, y, gamma, batch_size)
    k_xy = _kernel_sum(x, y, gamma, batch_size) / (n * m)
    if estimator == "biased":
        value = k_xx / n**2 + k_yy / m**2 - 2 * k_xy
    else:  # drop the diagonal: exp(0) = 1 each (the block formula rounds ||x_i - x_i||² to ~1e-16)
        value = (k_xx - n) / (n * (n - 1)) + (k_yy - m) / (m * (m - 1)) - 2 * k_xy
    return float(scale * value)


@register_metric("cmmd", keys=("cmmd",), needs=("real_features", "fake_features"))
def _cmmd(suite, state: dict) -> dict:
    estimator = str(suite.options.get("cmmd_estimator", "biased"))
    value = cmmd(
        state["real_features"],
        state["fake_features"],
        estimator=estimator,
        batch_size=suite.pr_batch_size,
    )
    return {"cmmd": value, "cmmd_estimator": estimator, "cmmd_sigma": SIGMA, "cmmd_scale": SCALE}
