"""Augmentations of every discriminator input (``model.augment``).

An augmentation is an ``nn.Module`` subclass of :class:`Augmentation`. The GAN module calls
``augment(x, generator)`` on every D input, real and fake, in the D step and in the G step
(so it must be differentiable w.r.t. x: G's gradient flows through it), with the step's
augmentation noise stream (the real batch is augmented first, then the fakes, from one
generator). ``observe(real_logits)`` is called once per D step with D's logits on the augmented
real batch; it may update the augmentation's state (a buffer, so it is checkpointed: ADA's p)
and returns values to log as ``train/<key>``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from genlab.objectives.diffaugment import diff_augment, parse_policy


class Augmentation(nn.Module):
    """Base of D-input augmentations: identity ``forward``, ``observe`` logs nothing."""

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Return augmented x (same shape; images (N, C, H, W) in [-1, 1] or points (N, 2))."""
        return x

    def observe(self, real_logits: Tensor) -> dict[str, Tensor]:
        """See D's logits (N,) on the augmented real batch; return scalars to log."""
        return {}


class DiffAugment(Augmentation):
    """DiffAugment (Zhao et al. 2020; mit-han-lab/data-efficient-gans ``DiffAugment_pytorch.py``):
    the transforms of ``policy`` in order, per example, differentiable.

    Args:
        policy: 'color,translation,cutout' or a list of those names (see
            ``genlab.objectives.diffaugment.TRANSFORMS``); images only (points pass unchanged).
    """

    def __init__(self, policy: str | Sequence[str] = "color,translation,cutout") -> None:
        super().__init__()
        self.policy = parse_policy(policy)
        if not self.policy:
            raise ValueError(
                "model.augment.policy is empty; name transforms (e.g. [color,translation,cutout]) "
                "or set model.augment=null for no augmentation."
            )

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """DiffAugment x (N, C, H, W) in [-1, 1]; other shapes are returned unchanged."""
        return diff_augment(x, self.policy, generator) if x.dim() == 4 else x
