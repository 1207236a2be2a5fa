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
