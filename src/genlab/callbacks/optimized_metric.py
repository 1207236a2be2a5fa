"""Stop a run early when ``optimized_metric`` names a metric the run never logs."""

from __future__ import annotations

import difflib

import pytorch_lightning as pl


def declared_metric_keys(trainer: pl.Trainer) -> set[str]:
    """``<stage>/<key>`` of the sample-quality metrics that callbacks will log later (they are
    computed every N epochs, so they may be absent after the first validation): each callback's
    ``declared_keys()``, which reads the keys every registered metric declares."""
    keys: set[str] = set()
    for callback in trainer.callbacks:
        declared = getattr(callback, "declared_keys", None)
        if callable(declared):
            keys.update(declared())
    return keys


class OptimizedMetricCheck(pl.Callback):
    """After the first validation of ``fit``, raise when ``name`` can never be logged.

    A metric counts as logged when it, or the same metric of another stage (``val/elbo`` for
    ``test/elbo``), is in the trainer's metrics, or a metrics callback declares it. This turns
    a sweep trial that would fail at its very end into one that fails after one epoch.
    """

    def __init__(self, name: str) -> None:
        self.name, self._checked = name, False

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Check once, at the end of the first validation that is not the sanity check."""
        if self._checked or trainer.sanity_checking:
            return
        self._checked = True
        logged = set(trainer.callback_metrics) | declared_metric_keys(trainer)
        suffixes = {key.partition("/")[2] for key in logged}
        if self.name in logged or self.name.partition("/")[2] in suffixes:
            return
        near = difflib.get_close_matches(self.name, sorted(logged), n=1)
        hint = f" Did you mean optimized_metric={near[0]}?" if near else ""
        raise ValueError(
            f"optimized_metric={self.name} is never logged by this run (logged after the first "
            f"validation: {', '.join(sorted(logged))}).{hint} Set optimized_metric to one of them."
        )
