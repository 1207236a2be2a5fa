"""genlab-report: a paper-style table, mean ± std over seeds, next to the papers' numbers.

    genlab-report runs=outputs/train/multiruns/<time> columns=[test/nll_iw,val/elbo]

Reads every run folder below ``runs`` (``.hydra/resolved_config.yaml`` and ``metrics.json``),
groups the runs of a sweep by its swept keys other than ``seed`` (recorded in the sweep's
``sweep.yaml``), or else by every config key that varies except seeds and per-run paths/ids
(or by ``group_by``), and writes ``report.md`` and ``report.csv`` beside them (an earlier
report is kept, renamed by its time). Unfinished or corrupt runs and NaN values are listed,
never silently averaged; an ``n/a`` cell says why (not logged, or NaN).
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import logging
import math
import time
from pathlib import Path

import hydra
import pandas as pd
from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf

from genlab.bench.references import comparability, find_reference, load_references, verdict
from genlab.launch.sweep import SWEEP_FILE
from genlab.utils.config_dir import CONFIG_DIR
from genlab.utils.run_dir import register_resolver as register_run_dir_resolver
from genlab.utils.run_files import RESOLVED_CONFIG

log = logging.getLogger(__name__)
register_run_dir_resolver()  # ${genlab_unique_dir:...} in conf/hydra/default.yaml

# config keys that differ between runs of one setting: seeds, per-run folders and run ids
PER_RUN_KEYS = (
    "seed", "*.seed", "*_seed", "paths.*", "*dirpath", "*save_dir", "*default_root_dir",
    "*output_dir", "*cache_dir", "*root", "logger.*.id", "logger.*.group", "logger.*.tags", "tags",
)  # fmt: skip


def _flatten(node: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in node.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value if not isinstance(value, list) else str(value)
    return out


def _read_run(run_dir: Path) -> tuple[dict | None, str | None]:
    """Return (row, None) for a finished run, or (None, why it cannot be used)."""
    config_file = run_dir / ".hydra" / RESOLVED_CONFIG
    metrics_file = run_dir / "metrics.json"
    failed = run_dir / "FAILED"  # written by genlab-train when the job raised
    if failed.is_file():
        return None, f"{run_dir}: failed ({failed.read_text().strip()[:200]})"
    if not config_file.is_file():
        return None, f"{run_dir}: unfinished (no .hydra/{RESOLVED_CONFIG})"
    if not metrics_file.is_file():
        return None, f"{run_dir}: unfinished (no metrics.json)"
    try:
        metrics = json.loads(metrics_file.read_text())
        if not isinstance(metrics, dict):
            raise ValueError(f"expected a JSON object, got {type(metrics).__name__}")
    except (ValueError, UnicodeDecodeError) as err:
        return None, f"{metrics_file}: corrupt ({err})"
    config = OmegaConf.to_container(OmegaConf.load(config_file))
    row: dict[str, object] = {f"cfg.{k}": v for k, v in _flatten(config).items()}
    row.update(metrics)
    row["run"] = str(run_dir)
    return row, None


def scan_runs(root: Path) -> tuple[pd.DataFrame, list[str]]:
    """Return one row per finished run below ``root`` (flattened ``cfg.`` keys, its metrics,
    ``run``) and a list of problems: unfinished runs and unreadable ``metrics.json`` files."""
    dirs = {p.parent.parent for p in root.rglob(f".hydra/{RESOLVED_CONFIG}")}
    dirs |= {p.parent for p in root.rglob("metrics.json")}
    dirs |= {p.parent.parent for p in root.rglob(".hydra/overrides.yaml")}
    dirs |= {p.parent for p in root.rglob("FAILED")}
    rows, problems = [], []
    for run_dir in sorted(dirs):
        row, problem = _read_run(run_dir)
        if row is not None:
            rows.append(row)
        else:
            problems.append(problem)
    if not rows:
        raise FileNotFoundError(
            f"no finished runs below {root} (looked for metrics.json beside "
            f".hydra/{RESOLVED_CONFIG}); pass runs=<a run or multirun folder>"
            + (f". Problems: {'; '.join(problems)}" if problems else "")
        )
    return pd.DataFrame(rows), problems


def collect_runs(root: Path) -> pd.DataFrame:
    """Return one row per finished run below ``root`` (see ``scan_runs``)."""
    return scan_runs(root)[0]


def is_per_run_key(key: str) -> bool:
    """Return True for config keys that differ per run of one setting (seeds, paths, ids)."""
    return any(fnmatch.fnmatchcase(key, pattern) for pattern in PER_RUN_KEYS)


def varying_keys(runs: pd.DataFrame) -> list[str]:
    """Return ``cfg.`` columns whose value differs between runs, except per-run keys."""
    cols = [c for c in runs.columns if c.startswith("cfg.") and not is_per_run_key(c[4:])]
    return [c for c in cols if runs[c].astype(str).nunique() > 1]


def _swept_label(run_dir: Path) -> str | None:
    """Return ``key=value ...`` of this run's swept overrides other than seed, read from its
    sweep's ``sweep.yaml`` and its own ``.hydra/overrides.yaml``; None outside a sweep."""
    sweep_file = run_dir.parent / SWEEP_FILE
    overrides_file = run_dir / ".hydra" / "overrides.yaml"
    if not sweep_file.is_file() or not overrides_file.is_file():
        return None
    keys = [k for k in OmegaConf.load(sweep_file).get("swept_keys", []) if not is_per_run_key(k)]
    values = {}
    for item in OmegaConf.load(overrides_file):
        key, _, value = str(item).partition("=")
        values[key.lstrip("+~")] = value
    return " ".join(f"{k}={values[k]}" for k in keys if k in values)


def group_labels(runs: pd.DataFrame, group_by: list[str]) -> tuple[pd.Series, str]:
    """Return each run's group label and how the groups were chosen (for the log).

    ``group_by`` keys: their values joined by spaces; else a sweep's swept keys except seed
    (``model=iwae``); else ``key=value`` of every varying config key except per-run keys.
    """
    if group_by:
        missing = [k for k in group_by if f"cfg.{k}" not in runs]
        if missing:
            raise KeyError(f"group_by keys {missing} are not in the runs' configs")
        labels = runs[[f"cfg.{k}" for k in group_by]].astype(str).agg(" ".join, axis=1)
        return labels, f"group_by={group_by}"
    swept = [_swept_label(Path(r)) for r in runs["run"]]
    if all(s is not None for s in swept):
        sweeps = [Path(r).parent.name for r in runs["run"]]
        if len(set(sweeps)) > 1:  # several sweeps (e.g. a genlab-bench folder): never merge them
            swept = [f"{d} {s}".strip() for d, s in zip(sweeps, swept, strict=True)]
        return pd.Series(swept, index=runs.index), "the sweep's swept keys except seed"
    keys = varying_keys(runs)
    labels = runs[keys].astype(str).apply(
        lambda row: " ".join(f"{k[4:]}={v}" for k, v in row.items()), axis=1
    ) if keys else pd.Series("", index=runs.index)  # fmt: skip
    return labels, f"varying config keys {[k[4:] for k in keys]}"


def metric_stats(values: pd.Series) -> tuple[float, float, int, int]:
    """Return (mean, sample std, number of finite values, number of NaN/missing/inf values)."""
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    finite = numbers[numbers.apply(math.isfinite)]
    std = float(finite.std(ddof=1)) if len(finite) > 1 else float("nan")
    mean = float(finite.mean()) if len(finite) else float("nan")
    return mean, std, len(finite), len(numbers) - len(finite)


def format_cell(mean: float, std: float, n: int, bad: int, logged: int | None = None) -> str:
    """Return ``mean ± std``, with ``(n=2 of 3: 1 NaN or missing)`` when values were dropped;
    ``n/a (...)`` with the reason when no value is finite: ``logged`` (how many runs wrote
    the metric at all; None = unknown) tells "not logged" from "NaN/inf"."""
    if n == 0:
        if logged == 0:
            return "n/a (not logged by these runs)"
        return f"n/a ({bad} of {bad} NaN/inf or missing)"
    cell = f"{mean:.2f} ± {std:.2f}"
    return cell + (f" (n={n} of {n + bad}: {bad} NaN or missing)" if bad else "")


def summarize(
    runs: pd.DataFrame, metrics: list[str], group_by: list[str], references: list | dict
) -> pd.DataFrame:
    """Return one row per group: its label, number of runs, mean ± std per metric, and per
    metric with a paper number: the number (or why it is not comparable) and a verdict."""
    refs = references if isinstance(references, list) else load_references(references)
    labels, how = group_labels(runs, group_by)
    log.info(f"groups: by {how}")
    rows = []
    for label, group in runs.groupby(labels, sort=True):
        row: dict[str, object] = {"group": label}
        if group_by:
            row.update({k: group[f"cfg.{k}"].iloc[0] for k in group_by})
        row["seeds"] = len(group)
        configs = [
            {k[4:]: v for k, v in r.items() if k.startswith("cfg.")} for _, r in group.iterrows()
        ]
        for metric in metrics:
            values = group[metric] if metric in group else pd.Series([None] * len(group))
            stats = metric_stats(values)
            row[metric] = format_cell(*stats, logged=int(values.notna().sum()))
            ref = find_reference(refs, str(label), metric)
            if ref is not None:
                reason = comparability(ref, configs)
                row[f"{metric} (paper)"] = ref.value if reason is None else "not comparable"
                row[f"{metric} verdict"] = verdict(stats[0], stats[1], ref, reason)
        rows.append(row)
    return pd.DataFrame(rows)


def to_markdown(table: pd.DataFrame) -> str:
    """Return the table as GitHub markdown (plain text if tabulate is missing)."""
    try:
        return table.to_markdown(index=False)
    except ImportError:
        return table.to_string(index=False)


def keep_earlier(path: Path) -> Path | None:
    """Rename an existing ``path`` to ``<stem>.<its mtime, UTC %Y%m%d-%H%M%S>[_N]<suffix>``
    so a new report never silently replaces an earlier one; return the new name (or None)."""
    if not path.exists():
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(path.stat().st_mtime))
    target = path.with_name(f"{path.stem}.{stamp}{path.suffix}")
    n = 0
    while target.exists():
        n += 1
        target = path.with_name(f"{path.stem}.{stamp}_{n}{path.suffix}")
    path.rename(target)
    return target


METRIC_SPLITS = ("train", "val", "test")  # every metric genlab logs is <split>/<name>


def check_columns(columns: list[str], runs: pd.DataFrame) -> None:
    """Raise ValueError for a column no run logged that is not a metric name
    (``<train|val|test>/<name>``) or is a near miss of a logged one (``test/nll_iwx`` for
    ``test/nll_iw``), naming the logged metrics. A real metric these runs did not log (e.g.
    ``val/fid`` with metrics off) stays a column of ``n/a (not logged ...)`` cells."""
    logged = sorted(k for k in runs.columns if "/" in k and not k.startswith("cfg."))
    for column in columns:
        if column in runs.columns:
            continue
        near = difflib.get_close_matches(column, logged, n=1, cutoff=0.9)
        if column.split("/")[0] in METRIC_SPLITS and "/" in column and not near:
            continue
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise ValueError(
            f"columns: {column!r} is not a metric of these runs. {hint}Logged: "
            f"{', '.join(logged) or 'none'}. Metrics are named <train|val|test>/<name>."
        )


def report(cfg: DictConfig) -> pd.DataFrame:
    """Build the table for ``cfg.runs``; write report.md and report.csv; return the table."""
    root = Path(to_absolute_path(cfg.runs))
    runs, problems = scan_runs(root)
    files = [to_absolute_path(cfg.references_file)] if cfg.get("references_file") else []
    refs = load_references(cfg.get("references"), files)
    check_columns(list(cfg.columns), runs)
    table = summarize(runs, list(cfg.columns), list(cfg.get("group_by") or []), refs)
    markdown = to_markdown(table)
    missing = [m for m in cfg.columns if m not in runs]
    if missing:
        logged = sorted(k for k in runs.columns if "/" in k and not k.startswith("cfg."))
        markdown += (
            f"\n\nn/a (not logged by these runs): {', '.join(missing)} is in no run's "
            f"metrics.json (e.g. val/fid needs metrics=default and a validation epoch that "
            f"evaluated, every metrics.every_n_epochs). Logged: {', '.join(logged)}."
        )
    if problems:
        markdown += "\n\nNot averaged:\n" + "\n".join(f"- {p}" for p in problems)
        for problem in problems:
            log.warning(f"not averaged: {problem}")
    for name in ("report.md", "report.csv"):
        kept = keep_earlier(root / name)
        if kept is not None:
            log.info(f"an earlier {name} exists: kept as {kept.name}")
    (root / "report.md").write_text(markdown + "\n")
    table.to_csv(root / "report.csv", index=False)
    print(markdown)
    log.info(f"wrote {root / 'report.md'} and report.csv ({len(runs)} runs)")
    return table


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="report")
def main(cfg: DictConfig) -> None:
    """Console entry point ``genlab-report``."""
    report(cfg)


if __name__ == "__main__":
    main()
