"""Learning rates logged under names that say which network they train: ``lr/g``, ``lr/d``.

Lightning's ``LearningRateMonitor`` names optimizers by class (``lr-Adam``, ``lr-Adam-1``),
which does not say that the first trains the generator. A model names its optimizers, in
``configure_optimizers`` order, by the contract attribute ``optimizer_names`` (GANs:
``("g", "d")``); a single unnamed optimizer is logged as ``lr``.
"""

from __future__ import annotations

import pytorch_lightning as pl


def lr_keys(names: tuple[str, ...], num_optimizers: int, groups: list[int]) -> list[list[str]]:
    """Return the logged key of every param group: ``lr/<name>`` (``/pg<j>`` for j >= 1 of
    several groups); unnamed optimizers ``lr`` (one) or ``lr/<i>`` (several)."""
    keys = []
    for i, num_groups in enumerate(groups[:num_optimizers]):
        unnamed = "lr" if num_optimizers == 1 else f"lr/{i}"
        base = f"lr/{names[i]}" if i < len(names) else unnamed
        keys.append([base if j == 0 else f"{base}/pg{j}" for j in range(num_groups)])
    return keys


class LearningRates(pl.Callback):
    """Log every optimizer's learning rate at the start of each training epoch (or step).

    Args:
        logging_interval: ``epoch`` or ``step``.
    """

    def __init__(self, logging_interval: str = "epoch") -> None:
        if logging_interval not in ("epoch", "step"):
            raise ValueError(f"logging_interval={logging_interval!r}; allowed: epoch, step")
        self.logging_interval = logging_interval
        self.last: dict[str, float] = {}

    def _log(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        optimizers = trainer.optimizers
        names = tuple(getattr(pl_module, "optimizer_names", ()) or ())
        groups = [len(opt.param_groups) for opt in optimizers]
        self.last = {
            key: float(group["lr"])
            for opt, keys in zip(optimizers, lr_keys(names, len(optimizers), groups), strict=True)
            for key, group in zip(keys, opt.param_groups, strict=True)
        }
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.log_metrics(self.last, step=trainer.global_step)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Log at epoch start when ``logging_interval == "epoch"``."""
        if self.logging_interval == "epoch":
            self._log(trainer, pl_module)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        """Log at each step when ``logging_interval == "step"``."""
        if self.logging_interval == "step":
            self._log(trainer, pl_module)
