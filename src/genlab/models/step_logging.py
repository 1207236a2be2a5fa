"""Cheap training-step logging: step values only when Lightning writes them, epoch means
accumulated on the device without a host sync.

``self.log(..., on_step=True, on_epoch=True)`` costs about 0.3-1 ms of Python bookkeeping per
call and per step (measured with cProfile in ``benchmarks/overhead.py``), more than the whole
step of a small net. ``should_log_step`` is Lightning's own rule for sending step metrics to the
loggers, so skipping ``self.log`` on the other steps changes nothing the loggers receive.
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


def batch_means(terms: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Return the batch mean of every term: (B,) per-example values or scalars -> 0-dim."""
    return {name: value.mean() if value.dim() else value for name, value in terms.items()}


class TermLogger:
    """Logs an objective's named terms for a LightningModule, whatever the names are.

    Training: ``train/<name>_step`` on the steps Lightning writes (``should_log_step``) and
    ``train/<name>_epoch`` (this rank's batch-size weighted mean) at the epoch end; ``loss`` goes
    to the progress bar. Validation and test: ``<stage>/<name>`` epoch means synced over ranks,
    logged with one ``log_dict`` call per batch.
    """

    def __init__(self, module: pl.LightningModule, prog_bar: str = "elbo") -> None:
        self.module, self.prog_bar = module, prog_bar
        self.train_means = EpochMeans()

    def train_step(self, terms: dict[str, torch.Tensor], batch_size: int) -> None:
        """Accumulate the epoch means; log the step values when Lightning writes them."""
        self.train_means.update(terms, batch_size)
        if should_log_step(self.module.trainer):
            kw = dict(on_step=True, on_epoch=False, batch_size=batch_size)
            self.module.log("train/loss_step", terms["loss"], prog_bar=True, **kw)
            rest = {f"train/{k}_step": v for k, v in terms.items() if k != "loss"}
            self.module.log_dict(rest, **kw)

    def train_epoch_end(self) -> None:
        """Log ``train/<name>_epoch`` and start a new epoch."""
        means = self.train_means.compute()
        self.module.log_dict({f"train/{k}_epoch": v.float() for k, v in means.items()})
        self.train_means.reset()

    def eval_step(self, stage: str, terms: dict[str, torch.Tensor], batch_size: int) -> None:
        """Log ``<stage>/<name>`` epoch means (synced across ranks) for val and test."""
        kw = dict(batch_size=batch_size, sync_dist=True, on_step=False, on_epoch=True)
        bar = f"{stage}/{self.prog_bar}"
        logged = {f"{stage}/{k}": v for k, v in terms.items()}
        if stage == "val" and bar in logged:
            self.module.log(bar, logged.pop(bar), prog_bar=True, **kw)
        self.module.log_dict(logged, **kw)
