"""Progress bar and model summary that show what a user can act on.

``QuietProgressBar``: no ``v_num`` (the logger's version string, e.g. ``16q_``), and the D and
G losses of a GAN (``d_loss``, ``g_loss``, from ``train/d_loss`` and ``train/g_loss``).
``QuietModelSummary``: the layer table and parameter counts without the FLOPs column and the
``Total FLOPs: 0`` line (Lightning counts FLOPs only with an example input, which genlab
models do not declare, so the count is always 0).
"""

from __future__ import annotations

import time
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import RichModelSummary, RichProgressBar
from pytorch_lightning.utilities.model_summary import get_human_readable_count

# progress-bar label -> logged key (the first one logged is shown)
BAR_KEYS = {"loss": ("train/loss",), "d_loss": ("train/d_loss",), "g_loss": ("train/g_loss",)}


class QuietProgressBar(RichProgressBar):
    """Lightning's rich progress bar without ``v_num``, with the training loss (a VAE's
    ``train/loss``, a GAN's D and G losses: ``BAR_KEYS``).

    Redrawn ``refresh_rate`` times per second (Lightning's default is 100; 10 is rich's own
    default and still looks continuous). The metrics shown are re-read from the trainer at most
    once per redraw during training batches (each read converts every progress-bar tensor to a
    float, ~0.4 ms: more than a small model's step); epoch ends always read them afresh. Both
    together: the bar's batch-end work in the small VAE's 30-epoch fit went from 0.39 s to
    0.05 s (cProfile, 2026-12-02).
    """

    def __init__(self, refresh_rate: int = 10, **kwargs: Any) -> None:
        super().__init__(refresh_rate=refresh_rate, **kwargs)
        self._items: dict[str, Any] | None = None
        self._items_time = 0.0
        self._in_batch_end = False

    def on_train_batch_end(self, *args: Any, **kwargs: Any) -> None:
        """Lightning's batch-end update, with the metrics read at most once per redraw."""
        self._in_batch_end = True
        try:
            super().on_train_batch_end(*args, **kwargs)
        finally:
            self._in_batch_end = False

    def get_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Any]:
        """The progress-bar items: Lightning's, minus ``v_num``, plus ``BAR_KEYS``' values."""
        now = time.monotonic()
        fresh = now - self._items_time < 1.0 / max(self.refresh_rate, 1)
        if self._in_batch_end and fresh and self._items is not None:
            return self._items
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)
        for label, keys in BAR_KEYS.items():
            for key in keys:
                value = trainer.callback_metrics.get(key)
                if value is not None:
                    items[label] = f"{float(value):.3g}"
                    break
        self._items, self._items_time = items, now
        return items


class QuietModelSummary(RichModelSummary):
    """Rich model summary without FLOPs (always 0 for genlab models)."""

    @staticmethod
    def summarize(
        summary_data: list[tuple[str, list[str]]],
        total_parameters: int,
        trainable_parameters: int,
        model_size: float,
        total_training_modes: dict[str, int],
        total_flops: int,
        **summarize_kwargs: Any,
    ) -> None:
        """Print the layer table (FLOPs column dropped) and the parameter counts and size (MB)."""
        from rich import get_console
        from rich.table import Table

        columns = [(name, values) for name, values in summary_data if name != "FLOPs"]
        table = Table(header_style=summarize_kwargs.get("header_style", "bold magenta"))
        table.add_column(" ", style="dim")
        for name, _ in columns[1:]:
            table.add_column(name, justify="right" if name == "Params" else "left")
        for row in zip(*(values for _, values in columns), strict=True):
            table.add_row(*row)
        console = get_console()
        console.print(table)
        frozen = total_parameters - trainable_parameters
        trainable = get_human_readable_count(int(trainable_parameters)).strip()
        frozen_text = get_human_readable_count(int(frozen)).strip()
        console.print(
            f"[bold]Trainable params[/]: {trainable}, [bold]non-trainable[/]: {frozen_text}, "
            f"[bold]size[/]: {model_size:.3f} MB"
        )


def kid_std_degenerate(subset_size: int, num_real: int, num_fake: int) -> bool:
    """True when every KID subset is the whole set (``subset_size`` >= both set sizes, in
    images): the std over subsets is then ~0 and says nothing about the estimate's spread."""
    return subset_size >= min(num_real, num_fake)


def hidden_on_console(callbacks: list) -> set[str]:
    """Metric keys the console table leaves out (still logged and in metrics.json):
    ``test/kid_std`` when a sample-quality callback's KID subsets are all the whole set."""
    hidden = set()
    for callback in callbacks:
        kwargs, protocol = (
            getattr(callback, "metric_kwargs", None),
            getattr(callback, "protocol", None),
        )
        if not kwargs or not protocol or "num_real" not in protocol:
            continue
        if kid_std_degenerate(kwargs["kid_subset_size"], protocol["num_real"], callback.num_fake):
            hidden |= {"test/kid_std", "val/kid_std"}
    return hidden


def print_test_table(metrics: dict[str, float], hidden: set[str] = frozenset()) -> None:
    """Print the test metrics (keys ``test/*``) as one rich table, leaving out ``hidden``
    (replaces Lightning's table: ``trainer.test(verbose=False)``)."""
    from rich import get_console
    from rich.table import Table

    rows = sorted(k for k in metrics if k.startswith("test/") and k not in hidden)
    if not rows:
        return
    table = Table(header_style="bold magenta")
    table.add_column("Test metric", justify="left")
    table.add_column("Value", justify="right")
    for key in rows:
        table.add_row(key, f"{metrics[key]:.6g}")
    get_console().print(table)
    if hidden & set(metrics):
        get_console().print(
            "test/kid_std is not shown: every KID subset is the whole set (kid_subset_size >= "
            "the number of images), so its std is ~0 by construction."
        )
