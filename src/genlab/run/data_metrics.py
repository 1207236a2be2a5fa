"""Score data with the metrics it declares when the metrics config was left at its default.

A datamodule class may declare ``default_metrics`` (``data=dsprites``: ``("mig", "dci")``): the
metrics its data is meant to be scored with, where FID/IS/KID (Inception features of sprites)
say little and need Inception weights. When the run uses ``metrics=default`` and the command
line does not set ``metrics.metrics``, genlab-train switches ``metrics.metrics`` to them and
drops the image metrics' test overrides, logging the change (as ``data.binarize`` follows a
model's ``data_binarize``, ``genlab.run.checks``); genlab-eval does the same with the run's
data config. Any explicit choice wins.
"""

from __future__ import annotations

import logging

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

log = logging.getLogger(__name__)


def _chosen_metrics_config() -> str | None:
    """The ``metrics`` group option of the running Hydra job (None outside Hydra's runtime)."""
    if not HydraConfig.initialized():
        return None
    return HydraConfig.get().runtime.choices.get("metrics")


def adapt_metrics_to_data(
    cfg: DictConfig, task_overrides: list[str] | None = None, data: DictConfig | None = None
) -> None:
    """Switch a defaulted ``cfg.metrics.metrics`` to the declared ``default_metrics`` of the
    data config ``data`` (default ``cfg.data``; genlab-eval passes the run's data config)."""
    data = cfg.get("data") if data is None else data
    metrics = cfg.get("metrics")
    if task_overrides is None:  # the running Hydra job's command line ([] outside Hydra)
        task_overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    if not isinstance(data, DictConfig) or "_target_" not in data:
        return
    if not isinstance(metrics, DictConfig) or "_target_" not in metrics:
        return
    declared = getattr(hydra.utils.get_class(data._target_), "default_metrics", None)
    if not declared or list(metrics.get("metrics") or []) == list(declared):
        return
    if _chosen_metrics_config() not in (None, "default"):
        return
    if any(o.lstrip("+").startswith("metrics.metrics=") for o in task_overrides):
        return
    log.info(f"metrics.metrics: {list(metrics.metrics)} -> {list(declared)} (the data declares it)")
    with open_dict(cfg):
        cfg.metrics.metrics = list(declared)
        cfg.metrics.test = None
