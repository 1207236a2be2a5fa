"""Checkpoints that are always the real last state: a ModelCheckpoint whose ``last.ckpt`` follows
every epoch (written to disk at most every ``write_every_s`` seconds, kept in memory in between),
the monitored metric taken from the model at instantiation, and a CheckpointIO that writes
atomically and loads with ``weights_only=True``. See docs/reliability.md."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from weakref import proxy

import pytorch_lightning as pl
import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning_utilities.core.apply_func import apply_to_collection
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.utilities import rank_zero_warn

from genlab.callbacks.optimized_metric import declared_metric_keys
from genlab.contract import GenerativeModel
from genlab.utils.checkpoint_io import atomic_torch_save, load_checkpoint_file
from genlab.utils.ranges import Num, check_ranges

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
    """ModelCheckpoint whose ``last.ckpt`` follows every epoch, written at a time cadence.

    Lightning 2.6 rewrites ``last.ckpt`` only when a top-k checkpoint is saved in that epoch,
    so with a monitored metric that stops improving, ``last.ckpt`` falls behind the training
    state. Here it is saved after every validation (and every training epoch) in which it
    was not already saved, so resuming from it loses at most the epoch in progress.

    Cadence (``write_every_s``, seconds): 0 writes every save at once (Lightning's behaviour).
    Above 0, a save (``last.ckpt`` each epoch, a top-k file when the monitored metric
    improves) takes an in-memory CPU copy of the checkpoint instead, and the pending copies
    (at most one per file name) go to disk together at the first epoch end at least
    ``write_every_s`` after the previous write, at the end of fit, and on any exception:
    SIGTERM (Lightning stops after the batch in progress with ``SIGTERMException``), SIGINT
    (``KeyboardInterrupt``) and errors such as the non-finite-loss one. Files that a newer
    top-k copy replaces are removed only after that copy is written, so a best file is always
    on disk once one was written. A SIGKILL (or power loss) thus
    loses at most ``write_every_s`` seconds plus the epoch in progress; the files themselves
    stay atomic (``AtomicCheckpointIO``). ``monitor="auto"`` is resolved with
    :func:`resolve_monitor` before construction (genlab-train does so from the model's
    ``checkpoint_monitor``); left unresolved it ranks nothing (like ``monitor=None``) and says
    so at setup.
    """

    RANGES = {"write_every_s": Num(low=0)}

    def __init__(
        self, monitor: str | None = None, write_every_s: float = 0.0, **kwargs: Any
    ) -> None:
        check_ranges(self, write_every_s=write_every_s)
        self._unresolved_auto = monitor == AUTO
        super().__init__(monitor=None if self._unresolved_auto else monitor, **kwargs)
        self._last_written_step = -1
        self.write_every_s = float(write_every_s)
        self._pending: dict[str, dict[str, Any]] = {}  # file -> CPU copy of the checkpoint
        self._pending_removals: list[str] = []
        self._last_write_time: float | None = None

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

    # ----- deferred writes: every file Lightning's logic saves or removes passes here -----
    def _save_checkpoint(self, trainer: pl.Trainer, filepath: str) -> None:
        """Write ``filepath`` now (``write_every_s=0``) or keep a CPU copy until the next write."""
        if self.write_every_s == 0:
            super()._save_checkpoint(trainer, filepath)
            return
        state = trainer._checkpoint_connector.dump_checkpoint(self.save_weights_only)
        self._pending[filepath] = apply_to_collection(state, torch.Tensor, _cpu_copy)
        if filepath in self._pending_removals:
            self._pending_removals.remove(filepath)
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = filepath

    def _remove_checkpoint(self, trainer: pl.Trainer, filepath: str) -> None:
        """Drop a pending copy; remove a written file only once the pending copies are written."""
        self._pending.pop(filepath, None)
        if self._pending:
            self._pending_removals.append(filepath)
        else:
            super()._remove_checkpoint(trainer, filepath)

    def write_pending(self, trainer: pl.Trainer, barrier: bool = True) -> None:
        """Write every pending copy (atomically, rank 0), then the removals they allow."""
        pending, removals = self._pending, self._pending_removals
        self._pending, self._pending_removals = {}, []
        for filepath, state in pending.items():
            trainer.strategy.save_checkpoint(state, filepath)
        for filepath in removals:
            trainer.strategy.remove_checkpoint(filepath)
        self._last_write_time = time.monotonic()
        if pending and trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.after_save_checkpoint(proxy(self))
        if barrier:
            trainer.strategy.barrier("ModelMonitorCheckpoint.write_pending")

    def _write_if_due(self, trainer: pl.Trainer) -> None:
        """Write the pending copies when ``write_every_s`` has passed or SIGTERM was received
        (the decision is rank 0's, so every rank meets the same barrier)."""
        if not self._pending:
            return
        since = time.monotonic() - (self._last_write_time or 0.0)
        due = since >= self.write_every_s or bool(getattr(trainer, "received_sigterm", False))
        if trainer.strategy.broadcast(due):
            self.write_pending(trainer)

    # ----- last.ckpt after every epoch -----
    def _save_last_checkpoint(self, trainer: pl.Trainer, monitor_candidates: dict) -> None:
        super()._save_last_checkpoint(trainer, monitor_candidates)
        if self.save_last:
            self._last_written_step = trainer.global_step

    def _ensure_last(self, trainer: pl.Trainer) -> None:
        """Save ``last.ckpt`` unless it already holds this global step."""
        if not self.save_last or self._should_skip_saving_checkpoint(trainer):
            return
        if self._last_written_step != trainer.global_step:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    # ----- hooks -----
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Start the write clock: the first write comes ``write_every_s`` after this."""
        super().on_train_start(trainer, pl_module)
        self._last_write_time = time.monotonic()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args):
        """Lightning's step/time-triggered saves, written when due."""
        super().on_train_batch_end(trainer, pl_module, *args)
        if self._pending and self._last_global_step_saved == trainer.global_step:
            self._write_if_due(trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Lightning's top-k/last logic, then ``last.ckpt`` if it was skipped."""
        super().on_validation_end(trainer, pl_module)
        if not self._should_save_on_train_epoch_end(trainer):
            self._ensure_last(trainer)
        self._write_if_due(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Lightning's top-k/last logic, then ``last.ckpt`` if this epoch did not save it."""
        super().on_train_epoch_end(trainer, pl_module)
        self._ensure_last(trainer)
        self._write_if_due(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Write everything pending: the files hold the final state when ``fit`` returns."""
        super().on_train_end(trainer, pl_module)
        self.write_pending(trainer)

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        """Write the pending copies (the end of the last finished epoch), then Lightning's
        ``save_on_exception``; no barrier (other ranks may be gone)."""
        self.write_pending(trainer, barrier=False)
        super().on_exception(trainer, pl_module, exception)


def _cpu_copy(tensor: torch.Tensor) -> torch.Tensor:
    """A detached CPU copy that later training steps cannot change."""
    return tensor.detach().to("cpu", copy=True)


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
