"""Exponential moving average of generator weights.

Ideas from StudioGAN (`utils/ema.py`: copy weights until a start step, then average; copy
buffers) and NVlabs/edm (`training_loop.py`: EMA with a ramp-up so early, fast-changing
weights are forgotten quickly). The averaged copy is an ``nn.Module`` owned by the
LightningModule, so it is checkpointed with the model state dict.
"""

from __future__ import annotations

import copy
import dataclasses

import torch
from torch import nn


def ema_beta(step: int, decay: float, start_step: int = 0, rampup: bool = False) -> float:
    """Return the averaging weight beta in [0, 1) for the update after G step ``step`` (0-based).

    Before ``start_step`` beta is 0 (the EMA copies the generator). With ``rampup`` beta is
    min(decay, (1 + t) / (10 + t)) with t = step - start_step, the warm-up of
    ``tf.train.ExponentialMovingAverage(num_updates=...)``, so the EMA does not remember
    the random initialisation.
    """
    if step < start_step:
        return 0.0
    if rampup:
        t = step - start_step
        return min(decay, (1.0 + t) / (10.0 + t))
    return decay


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, beta: float) -> None:
    """In place: ema_param <- beta * ema_param + (1 - beta) * model_param; buffers (e.g. batch
    norm running statistics, spectral-norm vectors) are copied from ``model``."""
    for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
        p_ema.lerp_(p.detach(), 1.0 - beta)
    for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
        b_ema.copy_(b)


@dataclasses.dataclass(frozen=True)
class EMASchedule:
    """When and how strongly to average: ``decay``, ``start_step`` (G steps of plain copying
    first) and ``rampup`` (see :func:`ema_beta`)."""

    decay: float
    start_step: int = 0
    rampup: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.decay < 1.0:
            raise ValueError(f"model.ema_decay={self.decay!r} must be in [0, 1) (or null: no EMA).")

    def averaged_copy(self, net: nn.Module) -> nn.Module:
        """Return a frozen deep copy of ``net`` to hold the average (register it as a submodule
        of the LightningModule so it is checkpointed and moves with ``.to(device)``)."""
        return copy.deepcopy(net).requires_grad_(False)

    def update(self, ema: nn.Module, net: nn.Module, step: int) -> None:
        """Average ``net`` into ``ema`` after update number ``step`` (0-based)."""
        ema_update(ema, net, ema_beta(step, self.decay, self.start_step, self.rampup))
