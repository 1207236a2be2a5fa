"""A W&B Table of generated samples per evaluation: one row per image with its class label
(conditional models) and the epoch and step it was drawn at, so a dashboard can filter samples
by class or scroll through training. Active only with a W&B logger and image data."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import WandbLogger

from genlab.callbacks.cadence import EpochCadence
from genlab.contract import require_generative
from genlab.utils.eval_mode import eval_mode
from genlab.utils.images import to_uint8
from genlab.utils.ranges import Num, check_ranges

COLUMNS = ["epoch", "step", "label", "image"]


class WandbSampleTable(pl.Callback):
    """Log ``key`` (default ``val/samples_table``), a ``wandb.Table`` with columns epoch, step,
    label (None when unconditional) and image, every ``every_n_epochs`` validation epochs and
    after the last one; samples come from fixed noise (and labels) drawn with ``seed``."""

    RANGES = {"num_samples": Num(integer=True, low=1)}  # noqa: RUF012 - genlab.utils.ranges

    def __init__(
        self, every_n_epochs: int = 5, num_samples: int = 16, seed: int = 1234,
        key: str = "val/samples_table", min_interval_s: float = 0.0,
    ) -> None:  # fmt: skip
        self.cadence = EpochCadence(every_n_epochs, min_interval_s)  # genlab.callbacks.cadence
        check_ranges(self, num_samples=num_samples)
        self.num_samples, self.seed, self.key = num_samples, seed, key
        self.logged_steps: list[int] = []

    def rows(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> list[list]:
        """Return the table rows: [epoch, step, label or None, wandb.Image (uint8 HWC)]."""
        import wandb

        model = require_generative(pl_module, "WandbSampleTable")
        generator = torch.Generator().manual_seed(self.seed)
        z = model.sample_noise(self.num_samples, generator)
        labels = model.sample_labels(self.num_samples, generator)
        images = to_uint8(model.generate(z, labels).cpu(), model.data_range or (0.0, 1.0))
        images = images.permute(0, 2, 3, 1).numpy()
        names = [None] * len(images) if labels is None else [int(y) for y in labels.cpu()]
        step, epoch = trainer.global_step, trainer.current_epoch
        return [
            [
                epoch,
                step,
                y,
                wandb.Image(img if img.shape[-1] != 1 else img[..., 0], caption=str(y)),
            ]
            for img, y in zip(images, names, strict=True)
        ]

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Log the table on rank 0 when due (skips sanity checks and non-image models)."""
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        loggers = [lg for lg in trainer.loggers if isinstance(lg, WandbLogger)]
        if not loggers or not require_generative(pl_module, "WandbSampleTable").is_image_model:
            return
        if not self.cadence.due(trainer):
            return
        with eval_mode(pl_module):
            rows = self.rows(trainer, pl_module)
        for logger in loggers:
            logger.log_table(key=self.key, columns=COLUMNS, data=rows, step=trainer.global_step)
        self.logged_steps.append(trainer.global_step)
