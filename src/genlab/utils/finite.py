"""Stop before a non-finite loss reaches the weights (a leaf: imports torch only)."""

from __future__ import annotations

import torch


def raise_if_not_finite(loss: torch.Tensor, what: str, step: int) -> None:
    """Raise FloatingPointError naming the loss, the step and the usual fixes if it is NaN/inf.

    Called before ``backward`` so that non-finite values never reach the weights; the last
    checkpoint written before the failure stays valid to resume from.
    """
    if not torch.isfinite(loss).all():
        raise FloatingPointError(
            f"non-finite {what} ({loss.detach().float().mean().item()}) at global step {step}. "
            "Lower the learning rate (model.optimizer*.lr), enable gradient clipping "
            "(trainer.gradient_clip_val for VAEs, model.grad_clip_g/grad_clip_d for GANs), or "
            "check the data range; resume from <run>/checkpoints/last.ckpt with ckpt_path=..."
        )
