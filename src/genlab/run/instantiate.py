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
from genlab.launch.sweep import apply_sweep_identity, run_name
from genlab.utils.wandb_utils import (
    announce_offline,
    define_summaries,
    drop_anonymous_setting,
    fall_back_offline,
    keep_wandb_files_in,
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
    cfg: DictConfig | None,
    monitor: tuple[str, str] | None = None,
    model: object | None = None,
    datamodule: object | None = None,
) -> list[Callback]:
    """Return the Lightning callbacks configured under ``callbacks``; ``monitor: auto`` takes
    the model's ``checkpoint_monitor`` (``monitor``: (metric, mode) or None).

    Given the ``model`` and ``datamodule``, a callback whose ``applies(model, datamodule)``
    is False (e.g. ``toy2d`` on image data, ``codebook_usage`` without a codebook) is left
    out, with ONE log line naming them all. Each kept callback carries its config key as
    ``config_key`` (so the logged config lists only the callbacks that run). A value outside
    a callback's declared range fails naming ``callbacks.<key>.<arg>`` (``instantiate_checked``).
    """
    if not cfg:
        return []
    callbacks, dropped = [], []
    for key, node in cfg.items():
        if not (isinstance(node, DictConfig) and "_target_" in node):
            continue
        callback = instantiate_checked(resolve_monitor(node, monitor), f"callbacks.{key}")
        applies = getattr(callback, "applies", None)
        if model is not None and callable(applies) and not applies(model, datamodule):
            dropped.append(f"{key} ({type(callback).__name__})")
            continue
        callback.config_key = key
        callbacks.append(callback)
    if dropped:
        data = getattr(datamodule, "name", type(datamodule).__name__)
        log.info(
            f"callbacks left out (they do not apply to {type(model).__name__} on data={data}): "
            + ", ".join(dropped)
        )
    return callbacks


def instantiate_loggers(cfg: DictConfig | None) -> list[Logger]:
    """Return the loggers configured under ``logger``; W&B goes offline when there is no login.

    W&B and TensorBoard runs with ``name: null`` are named from the chosen options
    (``genlab.launch.sweep.run_name``: ``model=iwae seed=1`` -> ``iwae-seed1``)."""
    loggers = []
    for node in _nodes(cfg, "logger"):
        if node._target_.endswith(("WandbLogger", "TensorBoardLogger")) and not node.get("name"):
            node = OmegaConf.merge(node, {"name": run_name()})  # e.g. iwae-seed1
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
            keep_wandb_files_in(node.save_dir)  # staging/cache/artifacts under the run folder
            loggers.append(hydra.utils.instantiate(node))
            drop_anonymous_setting(loggers[-1])  # before the run starts (experiment below)
            define_summaries(loggers[-1])  # val/fid min, val/elbo max, test/nll_iw min, ...
            continue
        loggers.append(hydra.utils.instantiate(node))
    return loggers


def instantiate_metrics(
    cfg: DictConfig | None, datamodule: object, model: object | None = None
) -> list[Callback]:
    """Return the sample-quality callback configured under ``metrics`` (empty when none).

    FID/IS/KID/PR compare images; for non-image data (the 2D toys, which report mode
    coverage instead) the callback is skipped with a log line rather than failing. So it is
    for a ``model`` whose prior is declared uninformative (``prior_informative = False``,
    VQ-VAE's uniform prior over codes): scores of its samples would measure nothing.
    """
    if not cfg or "_target_" not in cfg:
        return []
    shape = getattr(datamodule, "data_shape", ())
    if len(shape) != 3:
        name = getattr(datamodule, "name", type(datamodule).__name__)
        log.info(f"metrics: FID/IS/KID need images; skipped for data={name} (shape {shape})")
        return []
    if model is not None and not getattr(model, "prior_informative", True):
        log.info(
            f"metrics: FID/IS/KID/PR skipped: {type(model).__name__} samples from an "
            "uninformative prior (prior_informative=False), so scores of its samples would "
            "measure nothing about the model."
        )
        return []
    return [instantiate_checked(cfg, "metrics")]
