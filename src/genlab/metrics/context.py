"""What a context metric reads: the model and the datamodule of the evaluation.

Metrics that need more than generated images (MIG and DCI encode real images and compare the
codes with the data's ground-truth factors) are registered with ``needs=("context",)``
(``genlab.metrics.registry``). The metrics callback builds one :class:`MetricContext` per
evaluation and passes it to each of them, so they reach the model and data through declared
interfaces (the model contract, the datamodule's ``real_images`` / ``real_factors``), never
through globals or attributes set on the model.
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass
class MetricContext:
    """One evaluation's model, data and settings.

    Attributes:
        model: the ``GenerativeModel`` being evaluated (``can_encode``, ``encode``, ...).
        datamodule: the trainer's datamodule (``real_images(split, num)``, and for data with
            ground-truth factors ``real_factors(split, num)``, ``factor_names``).
        stage: ``val`` or ``test``; ``split``: the data split the metric reads (``val`` at
            validation, ``test`` at test).
        seed: the metrics seed (``metrics.seed``); ``options``: ``metrics.options``.
        rank, world_size: the DDP position (every rank computes the same value).
        cache: per-evaluation scratch space shared by the context metrics (e.g. the codes
            that MIG and DCI both use are encoded once).
    """

    model: Any
    datamodule: Any
    stage: str = "val"
    split: str = "val"
    seed: int = 0
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    rank: int = 0
    world_size: int = 1
    cache: dict[str, Any] = dataclasses.field(default_factory=dict)
