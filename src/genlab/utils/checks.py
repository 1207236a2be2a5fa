"""Checks that fail before training starts, naming the config keys to change."""

from __future__ import annotations

import pytorch_lightning as pl


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
