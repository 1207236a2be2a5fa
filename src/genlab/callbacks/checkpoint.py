"""ModelCheckpoint whose monitored metric comes from the model, so one config serves all models."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint


class ModelMonitorCheckpoint(ModelCheckpoint):
    """ModelCheckpoint with ``monitor="auto"``: take (metric, mode) from the model.

    A LightningModule declares ``checkpoint_monitor = ("val/elbo", "max")`` (VAE) or
    ``("val/fid", "min")``; ``None`` keeps only the last checkpoint. Lightning's
    ModelCheckpoint needs the metric at construction; Hydra builds callbacks before the
    model is known to them, hence this small subclass.
    """

    def __init__(self, monitor: str | None = "auto", mode: str = "min", **kwargs) -> None:
        self._auto = monitor == "auto"
        super().__init__(monitor=None if self._auto else monitor, mode=mode, **kwargs)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self._auto:
            monitor = getattr(pl_module, "checkpoint_monitor", None)
            if monitor is not None:
                self.monitor, self.mode = monitor
                inf = torch.tensor(torch.inf)
                self.kth_value = inf if self.mode == "min" else -inf
                self.save_top_k = max(self.save_top_k, 1)
        super().setup(trainer, pl_module, stage)
