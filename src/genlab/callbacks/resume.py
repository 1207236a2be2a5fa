"""Resuming with a changed learning rate uses the new one (e.g. after a NaN stop)."""

from __future__ import annotations

import logging
import math

import pytorch_lightning as pl
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

log = logging.getLogger(__name__)


def _configured_lrs(trainer: pl.Trainer) -> list[list[float]]:
    """Per optimizer and param group: the configured LR (``initial_lr`` when a scheduler set it)."""
    return [
        [group.get("initial_lr", group["lr"]) for group in opt.param_groups]
        for opt in trainer.optimizers
    ]


def _set_unscheduled(index: int, opt: Optimizer, configured: list[float]) -> None:
    """Set each param group's ``lr`` to the configured value and drop a checkpointed
    ``initial_lr``: without a scheduler nothing may scale the LR (e.g. after a NaN stop with an
    exploding ExponentialLR, resuming with ``model.scheduler=null`` trains at the new LR)."""
    for j, (group, lr_new) in enumerate(zip(opt.param_groups, configured, strict=False)):
        if group["lr"] != lr_new:
            log.info(
                f"resumed without a scheduler: optimizer {index} group {j} lr "
                f"{group['lr']:g} -> {lr_new:g} (configured)"
            )
        group["lr"] = lr_new
        group.pop("initial_lr", None)


class ConfiguredLearningRate(pl.Callback):
    """After resuming, scale the restored learning rates to the configured ones.

    Lightning restores each optimizer's state, including its ``lr``, from the checkpoint, so
    ``model.optimizer.lr=...`` on a resumed run is otherwise ignored. This callback reads the
    configured LRs from the freshly built optimizers (``on_fit_start``, before the restore) and,
    after the restore (``on_train_start``), multiplies each param group's ``lr`` and
    ``initial_lr`` and each scheduler's ``base_lrs`` by configured / checkpointed, so a
    scheduler continues its schedule from the new base LR. Unchanged LRs are left alone.
    An optimizer without a scheduler in the resumed run trains at exactly its configured LR
    (whatever schedule the checkpoint's run had).
    """

    def __init__(self) -> None:
        self._configured: list[list[float]] = []

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Remember the LRs the optimizers were built with (checkpoint not yet restored)."""
        self._configured = _configured_lrs(trainer)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Apply the configured LRs to the restored optimizers and schedulers."""
        if trainer.ckpt_path is None or not self._configured:
            return
        restored = _configured_lrs(trainer)
        scheduled = {id(c.scheduler.optimizer) for c in trainer.lr_scheduler_configs}
        for i, (opt, new, old) in enumerate(
            zip(trainer.optimizers, self._configured, restored, strict=False)
        ):
            if id(opt) not in scheduled:  # no schedule in this run: train at the configured LR
                _set_unscheduled(i, opt, new)
                continue
            for j, (group, lr_new, lr_old) in enumerate(
                zip(opt.param_groups, new, old, strict=False)
            ):
                if math.isclose(lr_new, lr_old, rel_tol=1e-9):
                    continue
                # the schedule's current factor carries over; from lr 0 it restarts at the new LR
                group["lr"] = group["lr"] * lr_new / lr_old if lr_old else lr_new
                if "initial_lr" in group:
                    group["initial_lr"] = lr_new
                for config in trainer.lr_scheduler_configs:
                    sched = config.scheduler
                    if isinstance(sched, LRScheduler) and sched.optimizer is opt:
                        sched.base_lrs[j] = lr_new
                        sched._last_lr[j] = group["lr"]  # what get_last_lr() reports
                log.info(
                    f"resumed with a new learning rate: optimizer {i} group {j} "
                    f"{lr_old:g} -> {lr_new:g} (now at lr={group['lr']:g})"
                )
