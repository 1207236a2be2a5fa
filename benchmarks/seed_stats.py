"""Mean and sample std over seeds: the summary every result benchmark writes to its JSON."""

from __future__ import annotations

import statistics
from collections.abc import Iterable


def mean_std(runs: list[dict], keys: Iterable[str]) -> dict[str, dict[str, float]]:
    """Return ``{key: {"mean": m, "std": s}}`` over ``runs`` (one dict per seed) for each key;
    ``std`` is the sample std (0.0 for a single run)."""
    out = {}
    for key in keys:
        values = [float(r[key]) for r in runs]
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        out[key] = {"mean": statistics.fmean(values), "std": std}
    return out


def merge_runs(old: list[dict], new: list[dict]) -> list[dict]:
    """Runs of ``old`` whose seed is not in ``new``, then ``new``, sorted by seed: lets one
    benchmark's seeds run as separate processes that each update the same JSON."""
    seeds = {r["seed"] for r in new}
    return sorted([r for r in old if r["seed"] not in seeds] + list(new), key=lambda r: r["seed"])
