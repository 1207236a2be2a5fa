"""torch-fidelity's InceptionV3 on float inputs that are already 299x299 (``metrics.resize=clean``).

``FeatureExtractorInceptionV3.forward`` accepts only uint8 and resizes inside with TF1's
bilinear; clean-fid's ``clean`` mode feeds the un-quantized float output of its PIL bicubic
resize instead. This runs the same layers (torch-fidelity's module attributes, in the order of
its ``forward``) on such floats: normalization ``(x - 128) / 128``, the convolution stem, the
Mixed blocks, average pool -> 2048-d pool3 features, and the fc weights without bias -> the
1008 "unbiased" logits torch-fidelity feeds to IS.
"""

from __future__ import annotations

import torch

_LAYERS = (
    "Conv2d_1a_3x3",
    "Conv2d_2a_3x3",
    "Conv2d_2b_3x3",
    "MaxPool_1",
    "Conv2d_3b_1x1",
    "Conv2d_4a_3x3",
    "MaxPool_2",
    "Mixed_5b",
    "Mixed_5c",
    "Mixed_5d",
    "Mixed_6a",
    "Mixed_6b",
    "Mixed_6c",
    "Mixed_6d",
    "Mixed_6e",
    "Mixed_7a",
    "Mixed_7b",
    "Mixed_7c",
    "AvgPool",
)


def inception_float_forward(
    net: torch.nn.Module, x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (pool3 features (N, 2048), unbiased logits (N, 1008)), float32, for float images
    x (N, 3, 299, 299) with values in [0, 255]."""
    if tuple(x.shape[1:]) != (3, 299, 299):
        raise ValueError(f"expected (N, 3, 299, 299) float images, got {tuple(x.shape)}")
    x = (x.to(net.fc.weight.dtype) - 128) / 128
    for name in _LAYERS:
        x = getattr(net, name)(x)
    features = torch.flatten(x, 1)
    return features.float(), features.mm(net.fc.weight.T).float()
