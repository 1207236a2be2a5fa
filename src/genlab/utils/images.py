"""Image conversions shared by callbacks and metrics: the one place floats become uint8."""

from __future__ import annotations

import torch


def to_uint8(images: torch.Tensor, value_range: tuple[float, float] = (0.0, 1.0)) -> torch.Tensor:
    """Convert float images to uint8 with rounding (not truncation).

    Args:
        images: float tensor (N, C, H, W) with values in ``value_range``.
        value_range: (low, high) of the float images, e.g. (0, 1) or (-1, 1).

    Returns:
        uint8 tensor (N, C, H, W) in [0, 255]; values outside the range are clamped.
    """
    low, high = value_range
    unit = (images.detach().float() - low) / (high - low)
    return (unit * 255.0).round().clamp(0, 255).to(torch.uint8)


def to_unit_range(images: torch.Tensor, value_range: tuple[float, float]) -> torch.Tensor:
    """Map float images from ``value_range`` to [0, 1] (clamped); returns a float tensor."""
    low, high = value_range
    return ((images - low) / (high - low)).clamp(0.0, 1.0)
