"""Sweep identity for trackers: one W&B group per Hydra multirun, one tag per swept key.

A multirun's jobs may run in one process (basic launcher), one after another (Optuna), or on
other machines (submitit), and each composes its own config from its own overrides: no job
knows which keys the command line swept. So the sweep controller writes what it knows once, at
``<sweep dir>/sweep.yaml`` (group name and swept keys), and every job reads it back through
``sweep_identity()``; ``instantiate_loggers`` puts the result into ``wandb.init(group, tags)``.

``SweepCallback`` (registered in ``conf/hydra/default.yaml``) also sets ``HydraConfig`` for the
controller, so ``${hydra:runtime.cwd}`` (used by ``paths.log_dir``) resolves in
``hydra.sweep.dir``; Hydra sets it only per job (Hydra issues #1786, #2247, #3427).
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)

SWEEP_FILE = "sweep.yaml"
MAX_TAG_CHARS = 64  # W&B rejects longer tags


@dataclass
class SweepIdentity:
    """The tracker-facing identity of one job: its sweep's group and its swept key=value tags."""

    group: str | None = None
    tags: list[str] = field(default_factory=list)


def swept_keys(overrides: list[str], sweeper_params: dict[str, Any] | None = None) -> list[str]:
    """Return the keys a sweep varies: command-line sweeps (``a=1,2``, ``interval(..)``) and
    every key of ``hydra.sweeper.params`` whose value is a sweep expression, in that order."""
    params = [f"{k}={v}" for k, v in (sweeper_params or {}).items()]
    parsed = OverridesParser.create().parse_overrides(list(overrides) + params)
    keys = [o.get_key_element().lstrip("+~") for o in parsed if o.is_sweep_override()]
    return list(dict.fromkeys(keys))


def sweep_group_name(task_name: str, sweep_dir: str | Path) -> str:
    """Return the default W&B group of a sweep: ``<task_name>/<sweep folder name>`` (its time)."""
    return f"{task_name}/{Path(sweep_dir).name}"


def _format_value(value: str) -> str:
    """Shorten sampled floats (Optuna) so tags stay readable: 0.000123456 -> 0.0001235."""
    try:
        number = float(value)
    except ValueError:
        return value
    return value if number.is_integer() or len(value) <= 8 else f"{number:.4g}"


def swept_tags(keys: list[str], job_overrides: list[str]) -> list[str]:
    """Return ``key=value`` tags (at most 64 characters) for the swept keys of one job."""
    values = {}
    for override in OverridesParser.create().parse_overrides(list(job_overrides)):
        values[override.get_key_element().lstrip("+~")] = override.get_value_element_as_str()
    tags = [f"{key}={_format_value(values[key])}" for key in keys if key in values]
    return [tag[:MAX_TAG_CHARS] for tag in tags]


def _read_sweep_file(sweep_dir: Path) -> dict[str, Any]:
    path = sweep_dir / SWEEP_FILE
    if not path.is_file():
        return {}
    return OmegaConf.to_container(OmegaConf.load(path))  # type: ignore[return-value]


def _sweeper_params(hydra_cfg: Any) -> dict[str, Any]:
    """Return ``hydra.sweeper.params`` as a plain dict (empty when the sweeper has none)."""
    params = hydra_cfg.sweeper.get("params")
    return OmegaConf.to_container(params, resolve=True) if params else {}  # type: ignore[return-value]


def sweep_identity(task_name: str = "sweep") -> SweepIdentity:
    """Return this job's sweep group and swept-key tags; empty outside a Hydra multirun."""
    if not HydraConfig.initialized():
        return SweepIdentity()
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return SweepIdentity()
    sweep_dir = Path(hydra_cfg.sweep.dir)
    if not sweep_dir.is_absolute():
        sweep_dir = Path(hydra_cfg.runtime.cwd) / sweep_dir
    saved = _read_sweep_file(sweep_dir)
    keys = saved.get("swept_keys") or swept_keys([], _sweeper_params(hydra_cfg))
    group = saved.get("group") or sweep_group_name(task_name, sweep_dir)
    return SweepIdentity(group=group, tags=swept_tags(keys, list(hydra_cfg.overrides.task)))


class SweepCallback(Callback):
    """Hydra callback: make ``${hydra:...}`` resolvable for the sweep controller and write
    ``<sweep dir>/sweep.yaml`` (group and swept keys) before any job starts."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Set the controller's HydraConfig (a copy) and write the sweep file."""
        HydraConfig.instance().set_config(copy.deepcopy(config))
        sweep_dir = Path(config.hydra.sweep.dir)
        keys = swept_keys(list(config.hydra.overrides.task), _sweeper_params(config.hydra))
        group = sweep_group_name(config.get("task_name", "run"), sweep_dir)
        info = {"group": group, "swept_keys": keys}
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(OmegaConf.create(info), sweep_dir / SWEEP_FILE)
        log.info(f"W&B group of this sweep: {info['group']}; swept keys: {keys}")


def apply_sweep_identity(wandb_node: DictConfig) -> DictConfig:
    """Return the W&B logger config with this job's sweep group (when ``group`` is null) and
    swept-key tags appended to ``tags``; unchanged outside a multirun."""
    identity = sweep_identity()
    if identity.group is None:
        return wandb_node
    tags = list(wandb_node.get("tags") or [])
    tags += [tag for tag in identity.tags if tag not in tags]
    group = wandb_node.get("group") or identity.group
    return OmegaConf.merge(wandb_node, {"group": group, "tags": tags})


# groups and keys that say where/how a run logs, not what it is: left out of run names
NAME_SKIP = ("hydra", "paths", "logger", "callbacks", "tags", "task_name", "ckpt_path", "local")
MAX_NAME_CHARS = 128  # W&B shows ~128 characters of a run name


def name_from_overrides(overrides: list[str], groups: dict[str, Any], default: str) -> str:
    """Return a run name from the chosen options, e.g. ``iwae-seed1``.

    ``overrides``: the job's command-line overrides (a multirun job's own values);
    ``groups``: Hydra's config-group choices (``runtime.choices``); ``default``: the name
    when nothing identifies the run. The base is the ``experiment`` choice when one is set,
    else the ``model`` choice; then each override in order: a group choice by its value
    (``debug=fast`` -> ``fast``), any other key by its last part and value (``seed=1`` ->
    ``seed1``, ``model.optimizer.lr=3e-4`` -> ``lr3e-4``); logging/paths keys are left out.
    """
    base = groups.get("experiment") or groups.get("model")
    parts = [str(base)] if base else []
    for override in OverridesParser.create().parse_overrides(list(overrides)):
        key = override.get_key_element().lstrip("+~")
        if key.split(".")[0].split("/")[0] in NAME_SKIP or key in ("experiment", "model"):
            continue
        value = _format_value(override.get_value_element_as_str())
        part = value if key in groups else f"{key.split('.')[-1]}{value}"
        parts.append(part.replace("/", "_").replace(" ", ""))
    name = "-".join(dict.fromkeys(p for p in parts if p))
    return name[:MAX_NAME_CHARS] or default


def run_name(default: str = "run") -> str:
    """Return this Hydra job's run name (:func:`name_from_overrides`); ``default`` outside
    Hydra's runtime."""
    if not HydraConfig.initialized():
        return default
    hydra_cfg = HydraConfig.get()
    groups = {k: v for k, v in hydra_cfg.runtime.choices.items() if not k.startswith("hydra")}
    return name_from_overrides(list(hydra_cfg.overrides.task), groups, default)


def hydra_choices() -> dict[str, str]:
    """Return the job's config-group choices (``{"model": "iwae", "data": "digits", ...}``,
    Hydra's own groups left out, unset groups as ``"null"``); {} outside Hydra's runtime.
    Logged as ``choices.<group>`` config keys, so trackers can group runs by them."""
    if not HydraConfig.initialized():
        return {}
    choices = HydraConfig.get().runtime.choices
    return {k: str(v) for k, v in choices.items() if not k.startswith("hydra")}
