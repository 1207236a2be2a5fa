"""Precision, recall, density and coverage (Naeem et al. 2020, "Reliable Fidelity and Diversity
Metrics for Generative Models", ICML) as the registered metric ``prdc``.

The estimator of the official code (clovaai/generative-evaluation-prdc, ``prdc/prdc.py``): radii
are the distance of each sample to its k-th nearest neighbour in its own set (the sample itself
is the 0th), comparisons are strict (``<``):

* precision: fraction of fakes inside some real ball; recall: fraction of reals inside some
  fake ball (Kynkäänniemi et al. 2019 with strict balls);
* density: (1/k) * mean over fakes of the number of real balls that contain it (can exceed 1);
* coverage: fraction of reals whose ball contains at least one fake.

Distances are float64 Euclidean, computed in row blocks of ``batch_size`` on the features'
device, so memory is ``batch_size x N x 8`` bytes, not N^2 (the official code holds three
N x N matrices). Keys: ``prdc_precision``, ``prdc_recall``, ``density``, ``coverage`` (fractions;
density is a ratio >= 0); ``metrics.options.prdc_k`` sets k (default 5, the paper's).
"""

from __future__ import annotations

import torch

from genlab.metrics.registry import register_metric

DEFAULT_K = 5


def _kth_radii(features: torch.Tensor, k: int, batch_size: int) -> torch.Tensor:
    """Distance of each row (N, D) to its k-th nearest other row, (N,) float64."""
    return torch.cat(
        [torch.cdist(b, features).kthvalue(k + 1, dim=1).values for b in features.split(batch_size)]
    )


def prdc(
    real: torch.Tensor, fake: torch.Tensor, k: int = DEFAULT_K, batch_size: int = 1000
) -> dict[str, float]:
    """Return ``{"precision", "recall", "density", "coverage"}`` of fake (M, D) against real
    (N, D) features with k-NN radii (the estimator of ``prdc.compute_prdc``)."""
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"PRDC with k={k} needs more than {k} samples per set")
    real, fake = real.detach().double(), fake.detach().double().to(real.device)
    real_r, fake_r = _kth_radii(real, k, batch_size), _kth_radii(fake, k, batch_size)
    inside_counts, covered, recalled = [], [], []
    for block in fake.split(batch_size):  # (B, N): which real balls hold each fake
        inside_counts.append((torch.cdist(block, real) < real_r[None]).sum(1))
    for start in range(0, len(real), batch_size):  # (B, M): fakes near each real
        dist = torch.cdist(real[start : start + batch_size], fake)
        covered.append(dist.min(1).values < real_r[start : start + batch_size])
        recalled.append((dist < fake_r[None]).any(1))
    counts = torch.cat(inside_counts)
    return {
        "precision": float((counts > 0).double().mean()),
        "recall": float(torch.cat(recalled).double().mean()),
        "density": float(counts.double().mean() / k),
        "coverage": float(torch.cat(covered).double().mean()),
    }


@register_metric(
    "prdc",
    keys=("prdc_precision", "prdc_recall", "density", "coverage"),
    needs=("real_features", "fake_features"),
)
def _prdc(suite, state: dict[str, torch.Tensor]) -> dict[str, float]:
    k = int(suite.options.get("prdc_k", DEFAULT_K))
    out = prdc(state["real_features"], state["fake_features"], k, suite.pr_batch_size)
    return {
        "prdc_precision": out["precision"],
        "prdc_recall": out["recall"],
        "density": out["density"],
        "coverage": out["coverage"],
        "prdc_k": k,
    }
