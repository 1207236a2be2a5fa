"""Instantiate callbacks and loggers from their config groups (a dict of ``_target_`` nodes)."""

from __future__ import annotations

import logging
import re
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning import Callback
from pytorch_lightning.loggers import Logger

from genlab.callbacks.checkpoint import resolve_monitor
from genlab.launch.sweep import apply_sweep_identity
from genlab.utils.wandb_utils import (
    announce_offline,
    define_summaries,
    fall_back_offline,
    resolve_offline,
    skip_offline_artifacts,
)

log = logging.getLogger(__name__)


def instantiate_checked(node: DictConfig, key: str, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate(node, **kwargs)``; a component's declared range that fails
    (:class:`~genlab.utils.ranges.RangeError`) is raised as ``ConfigValueError`` with the
    message ``<full_key>.<arg>=<value>: expected <range>`` instead of Hydra's chained traceback
    (``key`` is the node's config key, used when Hydra reports none); any other ValueError of
    a component's own checks becomes a ConfigValueError with its message."""
    from hydra.errors import InstantiationException

    from genlab.run.validate import ConfigValueError
    from genlab.utils.ranges import RangeError

    try:
        return hydra.utils.instantiate(node, **kwargs)
    except InstantiationException as err:
        cause: BaseException | None = err
        while cause is not None and not isinstance(cause, ValueError):
            cause = cause.__cause__ or cause.__context__
        if cause is None:
            raise
        found = re.search(r"full_key: (\S+)", str(err))
        where = found.group(1) if found else key
        if isinstance(cause, RangeError) and cause.arg:
            raise ConfigValueError(
                f"{where}.{cause.arg}={cause.value!r}: {cause.expected}"
            ) from None
        # other ValueErrors of a component's checks already name their config key
        raise ConfigValueError(str(cause)) from None


def _nodes(cfg: DictConfig | None, group: str) -> list[DictConfig]:
    if not cfg:
        return []
    if not isinstance(cfg, DictConfig):
        raise TypeError(f"{group} config must be a mapping of named entries, got {type(cfg)}")
    return [node for node in cfg.values() if isinstance(node, DictConfig) and "_target_" in node]


def instantiate_callbacks(
    cfg: DictConfig | None, monitor: tuple[str, str] | None = None
) -> list[Callback]:
    """Return the Lightning callbacks configured under ``callbacks``; ``monitor: auto`` takes
    the model's ``checkpoint_monitor`` (``monitor``: (metric, mode) or None)."""
    nodes = [resolve_monitor(node, monitor) for node in _nodes(cfg, "callbacks")]
    return [hydra.utils.instantiate(node) for node in nodes]


def instantiate_loggers(cfg: DictConfig | None) -> list[Logger]:
    """Return the loggers configured under ``logger``; W&B goes offline when there is no login."""
    loggers = []
    for node in _nodes(cfg, "logger"):
        if node._target_.endswith("WandbLogger"):
            offline = fall_back_offline(resolve_offline(node.get("offline")))
            node = OmegaConf.merge(node, {"offline": offline})
            node = apply_sweep_identity(node)  # multirun: W&B group + swept-key tags
            if node.offline:
                announce_offline(node.save_dir)
            log_model = skip_offline_artifacts(
                node.offline, node.get("log_model"), f"{node.save_dir}/checkpoints"
            )
            node = OmegaConf.merge(node, {"log_model": log_model})
            loggers.append(hydra.utils.instantiate(node))
            define_summaries(loggers[-1])  # val/fid min, val/elbo max, test/nll_iw min, ...
            continue
        loggers.append(hydra.utils.instantiate(node))
    return loggers


def instantiate_metrics(cfg: DictConfig | None, datamodule: object) -> list[Callback]:
    """Return the sample-quality callback configured under ``metrics`` (empty when none).

    FID/IS/KID/PR compare images; for non-image data (the 2D toys, which report mode
    coverage instead) the callback is skipped with a log line rather than failing.
    """
    if not cfg or "_target_" not in cfg:
        return []
    shape = getattr(datamodule, "data_shape", ())
    if len(shape) != 3:
        name = getattr(datamodule, "name", type(datamodule).__name__)
        log.info(f"metrics: FID/IS/KID need images; skipped for data={name} (shape {shape})")
        return []
    return [instantiate_checked(cfg, "metrics")]
