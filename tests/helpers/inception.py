"""A randomly initialised InceptionV3 saved to a file: the real local-weights loading path,
without any download. For tests and benchmarks only (the scores it gives are meaningless)."""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import torch
from torch import nn
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3


def save_random_inception_weights(path: str | os.PathLike, seed: int = 0) -> Path:
    """Write a randomly initialised torch-fidelity InceptionV3 state dict to ``path``; return it.

    Convolutions get Kaiming-normal weights and the classifier N(0, 0.5^2), so features and
    logits keep a useful scale. torch-fidelity's own loading is patched out while building the
    network (it would download the real weights).
    """
    no_load = mock.patch.object(
        FeatureExtractorInceptionV3, "load_state_dict", lambda *a, **k: None
    )
    no_url = mock.patch(
        "torch_fidelity.feature_extractor_inceptionv3.load_state_dict_from_url", return_value={}
    )
    generator = torch.Generator().manual_seed(seed)
    with no_load, no_url:
        net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            fan_in = module.weight[0].numel()
            std = (2.0 / fan_in) ** 0.5
            module.weight.data = torch.randn(module.weight.shape, generator=generator) * std
    net.fc.weight.data = torch.randn(net.fc.weight.shape, generator=generator) * 0.5
    net.fc.bias.data = torch.randn(net.fc.bias.shape, generator=generator) * 0.1
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)
    return path
