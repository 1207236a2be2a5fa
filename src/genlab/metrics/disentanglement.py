"""Mutual information gap (MIG; Chen et al., "Isolating Sources of Disentanglement in VAEs",
NeurIPS 2018, Sec. 4), with the discretized estimator of Locatello et al. 2019
(google-research/disentanglement_lib ``evaluation/metrics/mig.py``): each latent dimension's
codes are binned into ``num_bins`` equal-width bins, I(z_j; v_k) is the plug-in mutual
information of the (bin, factor value) histogram, and

    MIG = mean_k (I(z_(1); v_k) - I(z_(2); v_k)) / H(v_k)

with z_(1), z_(2) the two latent dims most informative about factor k. 1 for a code in which
each factor is a function of one dimension that carries nothing about the others; about 0 for
codes independent of the factors. Registered as the context metric ``mig`` (``val/mig``) in
``genlab.metrics.disentanglement_metrics``.
"""

from __future__ import annotations

import torch
from torch import Tensor


def discrete_entropy(v: Tensor) -> Tensor:
    """Plug-in entropy (nats) of integer values v (N,)."""
    p = torch.bincount(v - v.min()).double() / v.numel()
    return -torch.special.xlogy(p, p).sum()


def discrete_mutual_info(a: Tensor, b: Tensor) -> Tensor:
    """Plug-in mutual information (nats) of integer arrays a, b (N,)."""
    a, b = a - a.min(), b - b.min()
    joint = torch.bincount(
        a * (int(b.max()) + 1) + b, minlength=(int(a.max()) + 1) * (int(b.max()) + 1)
    )
    joint = joint.view(int(a.max()) + 1, int(b.max()) + 1).double() / a.numel()
    pa, pb = joint.sum(1, keepdim=True), joint.sum(0, keepdim=True)
    ratio = torch.where(joint > 0, joint / (pa * pb), torch.ones_like(joint))
    return (joint * ratio.log()).sum()


def bin_codes(codes: Tensor, num_bins: int = 20) -> Tensor:
    """Equal-width bins of each latent dim: codes (N, D) float -> (N, D) int64 in [0, num_bins)."""
    lo, hi = codes.min(0).values, codes.max(0).values
    scaled = (codes - lo) / (hi - lo).clamp(min=1e-12)
    return (scaled * num_bins).long().clamp(max=num_bins - 1)


def mutual_info_gap(codes: Tensor, factors: Tensor, num_bins: int = 20) -> float:
    """MIG of codes (N, D) (D >= 2) for integer factors (N, K); factors with one value are
    skipped (H = 0)."""
    binned = bin_codes(codes.double(), num_bins)
    gaps = []
    for k in range(factors.shape[1]):
        v = factors[:, k].long()
        h = discrete_entropy(v)
        if h <= 0:
            continue
        mi = torch.stack([discrete_mutual_info(binned[:, j], v) for j in range(codes.shape[1])])
        top = mi.topk(2).values
        gaps.append((top[0] - top[1]) / h)
    return float(torch.stack(gaps).mean())
