"""Cheap term logging under one name per quantity: ``train/<name>`` step values only when
Lightning writes them; ``val/<name>``, ``test/<name>`` epoch means accumulated on the device
without a host sync, logged once per epoch.

``self.log(..., on_step=True, on_epoch=True)`` costs about 0.3-1 ms of Python bookkeeping per
call and per step (measured with cProfile in ``benchmarks/overhead.py``), more than the whole
step of a small net, and gives every quantity two names (``_step``, ``_epoch``).
``should_log_step`` is Lightning's own rule for sending step metrics to the loggers, so skipping
``self.log`` on the other steps changes nothing the loggers receive.
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch


def should_log_step(trainer: pl.Trainer) -> bool:
    """True on the batches whose step metrics Lightning sends to the loggers
    (``(batches_that_stepped + 1) % log_every_n_steps == 0``, or the last step)."""
    batches = trainer.fit_loop.epoch_loop._batches_that_stepped
    return (batches + 1) % trainer.log_every_n_steps == 0 or trainer.should_stop


class EpochMeans:
    """Batch-size weighted means of named scalar tensors over an epoch.

    Sums are kept as one float64 tensor on the values' device (``update`` does not synchronise
    with the host); ``compute`` returns name -> mean (0-dim tensors, float64).
    """

    def __init__(self) -> None:
        self.names: list[str] = []
        self.sums: torch.Tensor | None = None
        self.count = 0

    def reset(self) -> None:
        """Forget all values."""
        self.names, self.sums, self.count = [], None, 0

    def update(self, values: dict[str, torch.Tensor], weight: int) -> None:
        """Add ``weight`` times each value (0-dim tensors; the same names at every call)."""
        stacked = torch.stack([v.detach().to(torch.float64) for v in values.values()]) * weight
        if self.sums is None:
            self.names, self.sums = list(values), stacked
        else:
            if list(values) != self.names:
                raise ValueError(f"EpochMeans: names {list(values)} != {self.names}")
            self.sums += stacked
        self.count += weight

    def compute(self) -> dict[str, torch.Tensor]:
        """Return name -> weighted mean (empty before the first ``update``)."""
        if self.sums is None or self.count == 0:
            return {}
        means = self.sums / self.count
        return dict(zip(self.names, means.unbind(), strict=True))


def log_many(
    module: pl.LightningModule, metrics: dict[str, torch.Tensor], step: int | None = None
) -> None:
    """Send many scalars (already reduced over ranks, e.g. ``val/kl_dim/NN``, or one training
    step's terms) in one ``log_metrics`` call per logger, with ``epoch`` as Lightning adds it,
    and put them in ``trainer.callback_metrics`` as a ``self.log`` would, instead of one
    ``self.log`` per key (~0.4-5 ms of Lightning bookkeeping each: 16 of them were ~7 % of a
    default epoch of the small VAE). Nothing is sent during the sanity check (as Lightning
    does); the loggers write on rank 0 only. ``step`` defaults to the one Lightning gives
    epoch-end metrics (batches that stepped; ``global_step`` for one optimizer)."""
    trainer = module.trainer
    values = {k: v.detach().float() for k, v in metrics.items()}
    trainer.callback_metrics.update(values)
    if trainer.sanity_checking or not trainer.is_global_zero or not trainer.loggers:
        return
    if step is None:
        step = trainer.fit_loop.epoch_loop._batches_that_stepped
    plain = dict(zip(values, torch.stack(list(values.values())).tolist(), strict=True))  # 1 sync
    plain.setdefault("epoch", trainer.current_epoch)
    for logger in trainer.loggers:
        logger.log_metrics(plain, step=step)


def batch_means(terms: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Return the batch mean of every term: (B,) per-example values or scalars -> 0-dim."""
    return {name: value.mean() if value.dim() else value for name, value in terms.items()}


class TermLogger:
    """Logs an objective's named terms for a LightningModule, whatever the names are, under one
    name per quantity (no ``_step``/``_epoch`` twins).

    Training: ``train/<name>``, the batch mean of the step, on the steps Lightning writes
    (``should_log_step``; every ``trainer.log_every_n_steps``), as a GAN logs ``train/d_loss``;
    ``train/loss`` is shown on the progress bar. Validation and test: terms accumulate on the
    device per batch and ``<stage>/<name>`` (the means over the epoch and all ranks) are logged
    once, at epoch end.
    """

    def __init__(self, module: pl.LightningModule, prog_bar: str = "elbo") -> None:
        self.module, self.prog_bar = module, prog_bar
        self.eval_means: dict[str, EpochMeans] = {}

    def train_step(self, terms: dict[str, torch.Tensor], batch_size: int) -> None:
        """Log ``train/<name>`` when Lightning writes this step, in one ``log_many`` call at the
        step Lightning gives step metrics (batches that stepped before this one); no
        ``self.log``: the progress bar reads ``train/loss`` from ``callback_metrics``."""
        if should_log_step(self.module.trainer):
            log_many(self.module, {f"train/{k}": v for k, v in terms.items()})

    def train_epoch_end(self) -> None:
        """Nothing to log: the step values are the training curve (kept for the models' hooks)."""

    def eval_step(self, stage: str, terms: dict[str, torch.Tensor], batch_size: int) -> None:
        """Accumulate ``<stage>`` terms on the device (no ``self.log`` per batch: each costs
        ~0.7 ms of Lightning bookkeeping per key, more than a small model's whole step)."""
        self.eval_means.setdefault(stage, EpochMeans()).update(terms, batch_size)

    def eval_epoch_end(self, stage: str) -> None:
        """Log ``<stage>/<name>``: batch-size weighted means over the epoch and over all DDP
        ranks (sums and counts gathered, so every rank logs the same global value)."""
        acc = self.eval_means.pop(stage, None)
        if acc is None or acc.sums is None:
            return
        module = self.module
        sums = acc.sums
        count = torch.tensor(float(acc.count), dtype=torch.float64, device=sums.device)
        if module.trainer.world_size > 1:
            sums, count = module.all_gather(sums).sum(0), module.all_gather(count).sum()
        means = (sums / count).float()
        logged = {f"{stage}/{k}": v for k, v in zip(acc.names, means.unbind(), strict=True)}
        bar = f"{stage}/{self.prog_bar}"
        if stage == "val" and bar in logged:
            module.log(bar, logged.pop(bar), prog_bar=True, sync_dist=False)
        module.log_dict(logged, sync_dist=False)
