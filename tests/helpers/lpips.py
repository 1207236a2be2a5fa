"""A randomly initialised LPIPS saved to a file: the local-weights path PPL users take, without
any download. For tests only (its distances are not LPIPS's)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from genlab.metrics.lpips import lpips_network


def save_random_lpips_weights(path: str | os.PathLike, net: str = "vgg", seed: int = 0) -> Path:
    """Write a random ``net`` LPIPS state dict (backbone + linear heads) to ``path``; return it.

    The linear heads get |N(0, 1)| weights: trained LPIPS heads are non-negative, so distances
    are >= 0 as in the real network."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = lpips_network(net)
        for lin in module.lins:
            conv = lin.model[-1]
            conv.weight.data = torch.randn(conv.weight.shape).abs()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(module.state_dict(), path)
    return path
