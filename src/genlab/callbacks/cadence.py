"""When an image callback runs: every N validation epochs, but not more often than every
``min_interval_s`` seconds of wall time, and always after the last epoch.

An epoch count alone suits long runs (5 epochs of a GPU run are minutes apart) but not the small
jobs researchers sweep by the hundred: the default 30-epoch digits VAE finishes in ~6 s, and
six sets of grids, traversals and W&B tables cost ~11 % of its fit (cProfile, 2026-12-02). The
time floor thins only runs whose N epochs take less than ``min_interval_s``; the last epoch
always gets its images, so every run ends with a complete set. Which epochs get images then
depends on speed: set ``min_interval_s: 0`` for a count-only cadence (the tests that name epochs
do).
"""

from __future__ import annotations

import time

import pytorch_lightning as pl

from genlab.utils.ranges import Num, check_ranges


def is_last_epoch(trainer: pl.Trainer) -> bool:
    """True when training ends after this epoch: the final one of ``max_epochs``, ``max_steps``
    reached, or a stop requested (``trainer.should_stop``: a GAN's ``max_g_steps``, early
    stopping)."""
    if trainer.max_epochs is not None and trainer.current_epoch + 1 >= trainer.max_epochs:
        return True
    max_steps = getattr(trainer, "max_steps", -1)
    if max_steps is not None and max_steps > 0 and trainer.global_step >= max_steps:
        return True
    return bool(getattr(trainer, "should_stop", False))


class EpochCadence:
    """``due(trainer)``: True after every ``every_n_epochs``-th epoch that is at least
    ``min_interval_s`` seconds (wall clock) after the previous image epoch, or after the first
    validation epoch of this process; always True on the last epoch."""

    RANGES = {  # noqa: RUF012 - declared ranges (genlab.utils.ranges)
        "every_n_epochs": Num(integer=True, low=1),
        "min_interval_s": Num(low=0),
    }

    def __init__(self, every_n_epochs: int = 1, min_interval_s: float = 0.0) -> None:
        check_ranges(self, every_n_epochs=every_n_epochs, min_interval_s=min_interval_s)
        self.every_n_epochs, self.min_interval_s = int(every_n_epochs), float(min_interval_s)
        self._last: float | None = None

    def due(self, trainer: pl.Trainer) -> bool:
        """Call once per validation end (not in the sanity check); True when images are due."""
        now = time.monotonic()
        if self._last is None:
            self._last = now  # the time floor counts from the first epoch's end
        if is_last_epoch(trainer):
            self._last = now
            return True
        if (trainer.current_epoch + 1) % self.every_n_epochs:
            return False
        if now - self._last < self.min_interval_s:
            return False
        self._last = now
        return True
