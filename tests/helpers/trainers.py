"""Bare Lightning trainers for module-level tests (CPU, no logger, checkpoints or validation)."""

from __future__ import annotations

import pytorch_lightning as pl


def bare_trainer(**kwargs) -> pl.Trainer:
    """Return a CPU Trainer without logger, checkpointing, progress bar or validation;
    ``max_epochs`` defaults to 100 (tests stop by ``max_steps`` or ``max_g_steps``)."""
    kwargs.setdefault("max_epochs", 100)
    return pl.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        **kwargs,
    )
