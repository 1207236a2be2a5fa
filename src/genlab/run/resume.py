"""Checks on a checkpoint before it is resumed or evaluated: readable, safe, and of this model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf

from genlab.utils.checkpoint_io import load_checkpoint_file
from genlab.utils.run_files import RESOLVED_CONFIG


def check_resume_checkpoint(cfg: DictConfig, model: torch.nn.Module) -> None:
    """Before ``fit``: load ``cfg.ckpt_path`` (if set) with ``weights_only=True`` and check that
    its weights fit ``model``; raise an error naming the file, both models and the config keys
    that differ. Nothing happens without ``ckpt_path``."""
    if not cfg.get("ckpt_path"):
        return
    path = Path(to_absolute_path(cfg.ckpt_path))
    ckpt = load_checkpoint_file(path)
    check_state_dict_matches(ckpt, path, model, cfg.model)


def check_state_dict_matches(
    ckpt: dict[str, Any], path: Path, model: torch.nn.Module, model_cfg: DictConfig
) -> None:
    """Raise ValueError when the checkpoint's weights do not fit ``model`` (missing or extra
    parameters, or other shapes), naming the checkpoint's model and the differing config keys
    (read from the checkpoint run's ``.hydra/resolved_config.yaml`` when it exists)."""
    want = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    have = {k: tuple(v.shape) for k, v in ckpt["state_dict"].items()}
    if want == have:
        return
    missing, extra = sorted(set(want) - set(have)), sorted(set(have) - set(want))
    shapes = sorted(k for k in set(want) & set(have) if want[k] != have[k])
    detail = "; ".join(
        f"{label}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
        for label, keys in (("missing", missing), ("unexpected", extra), ("other shape", shapes))
        if keys
    )
    theirs = _run_model_config(path)
    ours = OmegaConf.to_container(model_cfg, resolve=True)
    if theirs is None:
        origin = f"a model with other weights (hyper-parameters {ckpt.get('hyper_parameters')})"
        keys = "(the checkpoint's run config was not found beside it)"
    else:
        origin = str(theirs.get("_target_"))
        diff = _diff(ours, theirs)
        keys = ", ".join(f"model.{k}: {a!r} here vs {b!r}" for k, (a, b) in diff[:6]) or "none"
    raise ValueError(
        f"checkpoint {path} does not fit this model: it was written by {origin}, this run builds "
        f"{ours.get('_target_')} ({detail}). Config keys that differ: {keys}. Use the model "
        "config the checkpoint was trained with (same model=..., latent size and nets), or "
        "another checkpoint."
    )


def _run_model_config(ckpt_path: Path) -> dict | None:
    run_cfg = ckpt_path.resolve().parent.parent / ".hydra" / RESOLVED_CONFIG
    if not run_cfg.is_file():
        return None
    model = OmegaConf.load(run_cfg).get("model")
    return OmegaConf.to_container(model, resolve=False) if model is not None else None


def _diff(a: Any, b: Any, prefix: str = "") -> list[tuple[str, tuple[Any, Any]]]:
    """Flattened differences between two nested dicts: [(dotted key, (a value, b value))]."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            out += _diff(a.get(key), b.get(key), f"{prefix}{key}.")
        return out
    return [] if a == b else [(prefix.rstrip("."), (a, b))]
