"""Mode-collapse metrics on 2D Gaussian mixtures (VEEGAN Sec. 5.1; PacGAN `MetricLogger`).

A sample is *high quality* if it lies within ``threshold`` (3) standard deviations of its
nearest mode centre; a mode is *covered* if it is the nearest centre of at least one
high-quality sample; ``kl_modes`` is KL(p || uniform) in nats, where p is the histogram of
high-quality samples over modes (PacGAN's "reverse KL"). Defaults: 2,500 samples.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import Tensor


@dataclasses.dataclass
class ModeStats:
    """Mode metrics of one sample set: ``modes`` covered (count), ``hq_frac`` in [0, 1],
    ``kl_modes`` in nats (inf if no sample is high quality), per-mode HQ ``counts``."""

    modes: int
    hq_frac: float
    kl_modes: float
    counts: list[int]
    num_samples: int

    def as_log_dict(self, prefix: str = "val") -> dict[str, float]:
        """Scalars keyed ``<prefix>/modes``, ``<prefix>/hq_frac``, ``<prefix>/kl_modes``."""
        return {
            f"{prefix}/modes": float(self.modes),
            f"{prefix}/hq_frac": self.hq_frac,
            f"{prefix}/kl_modes": self.kl_modes,
        }


def mode_metrics(samples: Tensor, centers: Tensor, std: float, threshold: float = 3.0) -> ModeStats:
    """Score ``samples`` (N, 2) against mixture ``centers`` (K, 2) with isotropic ``std``."""
    if samples.dim() != 2 or samples.shape[1] != centers.shape[1]:
        raise ValueError(f"samples must be (N, {centers.shape[1]}), got {tuple(samples.shape)}.")
    x = samples.detach().double().cpu()
    dist = torch.cdist(x, centers.double().cpu()) / std  # (N, K), in units of std
    d_min, nearest = dist.min(dim=1)
    hq = d_min < threshold
    counts = torch.bincount(nearest[hq], minlength=len(centers))
    total = int(counts.sum())
    if total == 0:
        kl = math.inf
    else:
        p = counts[counts > 0].double() / total
        kl = float((p * (p * len(centers)).log()).sum())
    return ModeStats(
        modes=int((counts > 0).sum()),
        hq_frac=total / max(len(x), 1),
        kl_modes=kl,
        counts=counts.tolist(),
        num_samples=len(x),
    )
