"""The suite's table: one row per (experiment, metric) with mean ± std over seeds, the paper's
number where one is comparable, and a verdict."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from genlab.bench.references import Reference, comparability, find_reference, verdict
from genlab.report import metric_stats, scan_runs


def suite_runs(
    out_dir: Path, suite: Mapping[str, Any]
) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Return the finished runs of each experiment (by name) and the problems found
    (unfinished runs, corrupt metrics files, experiments with no run at all)."""
    runs, problems = {}, []
    for exp in suite["experiments"]:
        folder = out_dir / exp["name"]
        try:
            runs[exp["name"]], found = scan_runs(folder)
            problems += found
        except FileNotFoundError as err:
            problems.append(f"{exp['name']}: {err}")
    return runs, problems


def suite_table(
    runs: dict[str, pd.DataFrame], suite: Mapping[str, Any], refs: list[Reference]
) -> pd.DataFrame:
    """Return the long table: experiment, metric, mean, std (sample std over seeds), n (finite
    values), dropped (NaN or missing), paper, paper_std, source, verdict."""
    rows = []
    for exp in suite["experiments"]:
        name = exp["name"]
        if name not in runs:
            continue
        frame = runs[name]
        configs = [
            {k[4:]: v for k, v in r.items() if k.startswith("cfg.")} for _, r in frame.iterrows()
        ]
        for metric in exp.get("columns", suite.get("columns", [])):
            values = frame[metric] if metric in frame else pd.Series([None] * len(frame))
            mean, std, n, dropped = metric_stats(values)
            ref = find_reference(refs, name, metric)
            reason = comparability(ref, configs) if ref else None
            rows.append(
                {
                    "experiment": name, "metric": metric, "mean": mean, "std": std, "n": n,
                    "dropped": dropped, "paper": ref.value if ref else None,
                    "paper_std": ref.std if ref else None, "source": ref.source if ref else "",
                    "verdict": verdict(mean, std, ref, reason),
                }
            )  # fmt: skip
    return pd.DataFrame(rows)


def markdown_table(table: pd.DataFrame) -> str:
    """Return the table for humans: ``mean ± std``, seeds as ``n`` (and how many dropped)."""
    lines = ["| experiment | metric | genlab (mean ± std) | seeds | paper | verdict |"]
    lines.append("| --- | --- | --- | --- | --- | --- |")
    for r in table.itertuples():
        seeds = f"{r.n}" + (f" ({r.dropped} dropped: NaN/missing)" if r.dropped else "")
        paper = "–"  # a number measured under another protocol is not printed as a target
        if not pd.isna(r.paper) and not r.verdict.startswith("not comparable"):
            paper = f"{r.paper:g}" + (f" ± {r.paper_std:g}" if not pd.isna(r.paper_std) else "")
        value = "n/a" if r.n == 0 else f"{r.mean:.2f} ± {r.std:.2f}"
        lines.append(f"| {r.experiment} | {r.metric} | {value} | {seeds} | {paper} | {r.verdict} |")
    return "\n".join(lines)


def check_claim(table: pd.DataFrame, claim: Mapping[str, Any]) -> str:
    """Return one markdown line saying whether a paper's qualitative claim holds here.

    ``claim``: ``text``, ``metric``, ``order`` (experiment names) and ``direction``
    (``increasing`` | ``decreasing``): the claim holds when the means follow that order
    strictly; each step is called clear when it exceeds the larger of the two seed stds.
    """
    rows = table[table["metric"] == claim["metric"]].set_index("experiment")
    missing = [name for name in claim["order"] if name not in rows.index]
    if missing:
        return f"- {claim['text']}: **not measured** (no runs for {missing})"
    stats = [(name, rows.loc[name, "mean"], rows.loc[name, "std"]) for name in claim["order"]]
    sign = 1.0 if claim["direction"] == "increasing" else -1.0
    pairs = zip(stats[:-1], stats[1:], strict=True)
    steps = [(sign * (b[1] - a[1]), max(a[2], b[2])) for a, b in pairs]
    holds = all(diff > 0 for diff, _ in steps)
    clear = all(diff > (std if std == std else 0.0) for diff, std in steps)
    numbers = " → ".join(f"{n} {m:.2f} ± {s:.2f}" for n, m, s in stats)
    verdict = "holds" if holds else "does not hold"
    if holds:
        verdict += " (every step larger than the seed std)" if clear else " (within seed noise)"
    return f"- {claim['text']}: **{verdict}**: {claim['metric']} {numbers}"
