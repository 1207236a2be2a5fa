"""Checks that fail before training starts, naming the config keys to change."""

from __future__ import annotations

import pytorch_lightning as pl
import torch


def check_model_data(model: pl.LightningModule, datamodule: pl.LightningDataModule) -> None:
    """Raise ValueError when the model's networks were built for another input shape.

    Both sides declare their shape: ``model.expected_input_shape`` (from the nets) and
    ``datamodule.image_shape`` ((C, H, W) for images, (2,) for 2D toy data).
    """
    expected = getattr(model, "expected_input_shape", None)
    given = getattr(datamodule, "image_shape", None)
    if expected is None or given is None:
        return
    if tuple(expected) != tuple(given):
        name = getattr(datamodule, "name", type(datamodule).__name__)
        raise ValueError(
            f"Shape mismatch: the model's networks expect inputs of shape {_fmt(expected)} "
            f"but data={name} gives {_fmt(given)}. Make them agree: set data.image_size / "
            f"data.channels, or the network's image_size/channels (model.encoder.*, "
            f"model.decoder.*, model.generator.*, model.discriminator.*), which default to "
            f"${{data.image_size}} and ${{data.channels}}."
        )


def _fmt(shape: tuple[int, ...]) -> str:
    if len(shape) == 3:
        c, h, w = shape
        return f"{c}x{h}x{w} (channels x {h}x{w} pixels)"
    return "x".join(str(s) for s in shape)


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
