"""A randomly initialised LPIPS saved to a file: the local-weights path PPL users take, without
any download. For tests only (its distances are not LPIPS's)."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from genlab.metrics.lpips import lpips_network


def save_random_lpips_weights(path: str | os.PathLike, net: str = "vgg", seed: int = 0) -> Path:
    """Write a random ``net`` LPIPS state dict (backbone + linear heads) to ``path``; return it.

    Built on the meta device and filled here (no 124M-parameter VGG classifier is initialised):
    backbone convolutions Kaiming-normal with zero biases, linear heads |N(0, 1)| (trained LPIPS
    heads are non-negative, so distances are >= 0 as in the real network)."""
    module = lpips_network(net, meta=True).to_empty(device="cpu")
    generator = torch.Generator().manual_seed(seed)
    for conv in module.net.modules():
        if isinstance(conv, nn.Conv2d):
            std = (2.0 / conv.weight[0].numel()) ** 0.5
            conv.weight.data = torch.randn(conv.weight.shape, generator=generator) * std
            conv.bias.data.zero_()
    for lin in module.lins:
        conv = lin.model[-1]
        conv.weight.data = torch.randn(conv.weight.shape, generator=generator).abs()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(module.state_dict(), path)
    return path
