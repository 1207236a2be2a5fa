"""Files a run leaves beside Hydra's: the resolved config and a metrics summary."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

RESOLVED_CONFIG = "resolved_config.yaml"


def save_resolved_config(cfg: DictConfig, output_dir: str | Path) -> Path:
    """Save the fully resolved config (no ``${...}``) to ``<output_dir>/.hydra/``; return path.

    Hydra's own ``.hydra/config.yaml`` keeps interpolations such as ``${hydra:runtime...}``
    that cannot be resolved outside the run; ``genlab-eval`` reads this file instead.
    """
    path = Path(output_dir) / ".hydra" / RESOLVED_CONFIG
    path.parent.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(OmegaConf.to_container(cfg, resolve=True), path)
    return path


def scalar_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Return the finite-or-not scalar metrics as plain floats (tensors converted)."""
    out = {}
    for key, value in metrics.items():
        if hasattr(value, "numel") and value.numel() == 1:  # a tensor (torch not imported here)
            value = value.item()
        if isinstance(value, int | float):
            out[key] = float(value)
    return out


def write_json(data: Mapping[str, Any], path: str | Path) -> Path:
    """Write ``data`` as indented JSON (NaN/inf as strings) to ``path``; return the path."""

    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return str(v)
        if isinstance(v, Mapping):
            return {k: clean(x) for k, x in v.items()}
        return v

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")  # a kill leaves the old file or the new one
    tmp.write_text(json.dumps(clean(dict(data)), indent=2, sort_keys=True))
    os.replace(tmp, path)
    return path
