"""Published numbers with the setting they were measured under, and the comparability check.

A reference file (``benchmarks/references/*.yaml``) is a list of entries::

    - label: model=iwae          # the report's group label or the suite's experiment name
      metric: test/nll_iw
      value: 84.78
      std: null                  # the paper's error bar (same units), if it gives one
      source: Burda et al. 2016, Table 1
      requires:                  # config keys (flattened) the runs must match to be comparable
        data._target_: genlab.data.torchvision_data.MNISTDataModule
        data.binarize: dynamic
        model.test_iw_samples: 5000

A number is printed as a target only when every run of the group matches every ``requires``
value; otherwise the report says "not comparable" and names the first differing key.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf


@dataclass
class Reference:
    """One published number: ``value`` ± ``std`` of ``metric`` for runs labelled ``label``."""

    label: str
    metric: str
    value: float
    std: float | None = None
    source: str = ""
    requires: dict[str, Any] = field(default_factory=dict)


def _entries(data: Any, origin: str) -> list[Reference]:
    if isinstance(data, Mapping):  # legacy form {label: {metric: value}}: no protocol stated
        data = [
            {"label": label, "metric": metric, "value": value}
            for label, metrics in data.items()
            for metric, value in metrics.items()
        ]
    if not isinstance(data, list):
        raise ValueError(f"{origin}: references must be a list of entries, got {type(data)}")
    refs = []
    for i, entry in enumerate(data):
        missing = {"label", "metric", "value"} - set(entry)
        if missing:
            raise ValueError(
                f"{origin}: entry {i} lacks {sorted(missing)} (see genlab.bench.references)"
            )
        labels = entry["label"] if isinstance(entry["label"], list) else [entry["label"]]
        for label in labels:
            refs.append(
                Reference(
                    label=str(label),
                    metric=entry["metric"],
                    value=float(entry["value"]),
                    std=None if entry.get("std") is None else float(entry["std"]),
                    source=entry.get("source", ""),
                    requires=dict(entry.get("requires") or {}),
                )
            )
    return refs


def load_references(inline: Any = None, files: Iterable[str | Path] = ()) -> list[Reference]:
    """Return the references given inline (list or legacy mapping) plus those in ``files``."""
    refs: list[Reference] = []
    if inline:
        plain = OmegaConf.to_container(inline) if OmegaConf.is_config(inline) else inline
        refs += _entries(plain, "references")
    for path in files:
        if not Path(path).is_file():
            raise FileNotFoundError(f"references_file {path} does not exist")
        refs += _entries(OmegaConf.to_container(OmegaConf.load(path)), str(path))
    return refs


def find_reference(refs: list[Reference], label: str, metric: str) -> Reference | None:
    """Return the reference for ``label`` and ``metric`` (the first one listed), or None."""
    return next((r for r in refs if r.label == label and r.metric == metric), None)


def _same(run_value: Any, wanted: Any) -> bool:
    if isinstance(wanted, float | int) and isinstance(run_value, float | int):
        return math.isclose(float(run_value), float(wanted))
    return str(run_value) == str(wanted)


def comparability(ref: Reference, configs: list[Mapping[str, Any]]) -> str | None:
    """Return None when every run config (flattened keys) matches ``ref.requires``, else the
    reason it does not, e.g. ``"data.binarize=none (paper: dynamic)"``. A reference with no
    ``requires`` cannot be checked: it counts as comparable and ``verdict`` says so."""
    for key, wanted in ref.requires.items():
        for cfg in configs:
            value = cfg.get(key, "<unset>")
            if not _same(value, wanted):
                return f"{key}={value} (paper: {wanted})"
    return None


def verdict(mean: float, std: float, ref: Reference | None, reason: str | None) -> str:
    """Return ``within``, ``outside``, ``no paper number`` or ``not comparable: <reason>``.

    ``within`` means the intervals mean ± std (ours, sample std over seeds; 0 with one seed)
    and value ± std (the paper's; 0 when it gives none) overlap.
    """
    if ref is None:
        return "no paper number"
    if reason is not None:
        return f"not comparable: {reason}"
    if not math.isfinite(mean):
        return "no finite value"
    ours = std if math.isfinite(std) else 0.0
    theirs = ref.std or 0.0
    result = "within" if abs(mean - ref.value) <= ours + theirs else "outside"
    return result if ref.requires else f"{result} (protocol not stated in the reference)"
