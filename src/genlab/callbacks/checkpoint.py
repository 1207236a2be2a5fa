"""Checkpoints that are always the real last state: a ModelCheckpoint whose ``last.ckpt`` follows
every epoch, the monitored metric taken from the model at instantiation, and a CheckpointIO
that writes atomically and loads with ``weights_only=True``. See docs/reliability.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.utilities import rank_zero_warn

from genlab.callbacks.optimized_metric import declared_metric_keys
from genlab.contract import GenerativeModel
from genlab.utils.checkpoint_io import atomic_torch_save, load_checkpoint_file

AUTO = "auto"


def resolve_monitor(node: DictConfig, monitor: tuple[str, str] | None) -> DictConfig:
    """Return a callback config with ``monitor: auto`` replaced by the model's (metric, mode).

    ``monitor`` is the model's ``checkpoint_monitor`` class attribute (e.g. ``("val/elbo",
    "max")``); ``None`` means the model has no metric to rank checkpoints by, so every epoch's
    checkpoint is kept as ``last.ckpt`` and the top-k file. Nodes without ``monitor: auto`` are
    returned unchanged.
    """
    if node.get("monitor") != AUTO:
        return node
    metric, mode = monitor if monitor is not None else (None, node.get("mode", "min"))
    return OmegaConf.merge(node, {"monitor": metric, "mode": mode})


class ModelMonitorCheckpoint(ModelCheckpoint):
    """ModelCheckpoint whose ``last.ckpt`` is rewritten at the end of every epoch.

    Lightning 2.6 rewrites ``last.ckpt`` only when a top-k checkpoint is saved in that epoch,
    so with a monitored metric that stops improving, ``last.ckpt`` falls behind the training
    state. Here it is written after every validation (and every training epoch) in which it
    was not already written, so resuming from it loses at most the epoch in progress.
    ``monitor="auto"`` is resolved with :func:`resolve_monitor` before construction
    (genlab-train does so from the model's ``checkpoint_monitor``); left unresolved it ranks
    nothing (like ``monitor=None``) and says so at setup.
    """

    def __init__(self, monitor: str | None = None, **kwargs: Any) -> None:
        self._unresolved_auto = monitor == AUTO
        super().__init__(monitor=None if self._unresolved_auto else monitor, **kwargs)
        self._last_written_step = -1

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Warn when ``monitor: auto`` reached the callback unresolved (it then ranks nothing)."""
        declared = pl_module.checkpoint_monitor if isinstance(pl_module, GenerativeModel) else None
        if self._unresolved_auto and declared is not None:
            rank_zero_warn(
                f"ModelMonitorCheckpoint got monitor='auto' unresolved, so it keeps the latest "
                f"epoch only instead of the best by {declared}. genlab-train resolves it with "
                "genlab.callbacks.checkpoint.resolve_monitor; elsewhere pass monitor=<metric>."
            )
        super().setup(trainer, pl_module, stage)

    def _save_topk_checkpoint(self, trainer: pl.Trainer, monitor_candidates: dict) -> None:
        """Lightning's top-k, except on epochs where the monitored key is a sample metric that
        a metrics callback declares (``declared_keys``) but did not compute this epoch
        (``metrics.every_n_epochs`` > 1): those epochs rank nothing (``last.ckpt`` still
        follows) instead of failing; an undeclared missing key still fails as in Lightning."""
        missing = self.monitor is not None and self.monitor not in monitor_candidates
        if missing and self.monitor in declared_metric_keys(trainer):
            return
        super()._save_topk_checkpoint(trainer, monitor_candidates)

    def _save_last_checkpoint(self, trainer: pl.Trainer, monitor_candidates: dict) -> None:
        super()._save_last_checkpoint(trainer, monitor_candidates)
        if self.save_last:
            self._last_written_step = trainer.global_step

    def _ensure_last(self, trainer: pl.Trainer) -> None:
        """Write ``last.ckpt`` unless it already holds this global step."""
        if not self.save_last or self._should_skip_saving_checkpoint(trainer):
            return
        if self._last_written_step != trainer.global_step:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Lightning's top-k/last logic, then ``last.ckpt`` if it was skipped."""
        super().on_validation_end(trainer, pl_module)
        if not self._should_save_on_train_epoch_end(trainer):
            self._ensure_last(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Lightning's top-k/last logic, then ``last.ckpt`` if this epoch did not write it."""
        super().on_train_epoch_end(trainer, pl_module)
        self._ensure_last(trainer)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoint files that are either the old or the new complete file, never a truncated one.

    ``save_checkpoint`` serialises into a temporary file in the destination folder (same
    filesystem, unlike ``$TMPDIR``), flushes and fsyncs it, then ``os.replace``s it over the
    target and fsyncs the folder; on any error (full disk, kill) the temporary file is removed
    and the previous checkpoint is untouched. ``load_checkpoint`` uses ``weights_only=True``
    unless the caller explicitly passes False, so a checkpoint cannot run code when resumed.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None
    ) -> None:
        """Write ``checkpoint`` to ``path`` atomically (local paths only)."""
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        atomic_torch_save(checkpoint, Path(path))

    def load_checkpoint(
        self, path: str | Path, map_location: Any = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        """Load a checkpoint with ``weights_only=True`` (unless False is passed explicitly)."""
        return load_checkpoint_file(Path(path), map_location, weights_only is not False)
