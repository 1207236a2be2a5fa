"""TensorBoard beyond scalars: hparams with the run's final metrics (the HParams tab).

Leaf helper (imports nothing of genlab); the image grids go to TensorBoard from
``genlab.callbacks.images.log_image_file``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# config parts that say where/how a run logs, not what it is: left out of the HParams table
SKIP_TOP = ("hydra", "paths", "logger", "callbacks")


def flat_hparams(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Return ``params`` flattened to ``a.b.c`` keys with scalar values (bool, int, float,
    str; lists and None as strings), leaving out ``SKIP_TOP`` at the top level."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if not prefix and key in SKIP_TOP:
            continue
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flat_hparams(value, f"{name}."))
        elif isinstance(value, bool | int | float | str):
            out[name] = value
        else:
            out[name] = str(value)
    return out


def log_final_hparams(
    loggers: list, params: Mapping[str, Any], metrics: Mapping[str, float]
) -> None:
    """Write one HParams entry (flat ``params``, final ``metrics`` floats) to every
    TensorBoardLogger in ``loggers``. The metrics are already scalars of the run (logged
    during fit/test), so only the hparams summaries are written, not the values again."""
    from pytorch_lightning.loggers import TensorBoardLogger

    boards = [logger for logger in loggers if isinstance(logger, TensorBoardLogger)]
    if not boards or not metrics:  # no TensorBoard: do not import it (~0.3 s)
        return
    from torch.utils.tensorboard.summary import hparams

    for logger in boards:
        writer = logger.experiment  # a SummaryWriter (rank 0)
        if not hasattr(writer, "_get_file_writer"):  # Lightning's dummy experiment off rank 0
            continue
        exp, ssi, sei = hparams(flat_hparams(params), dict(metrics))
        file_writer = writer._get_file_writer()
        for summary in (exp, ssi, sei):
            file_writer.add_summary(summary)
        writer.flush()
