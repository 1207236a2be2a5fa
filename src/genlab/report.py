"""genlab-report: a paper-style table, mean ± std over seeds, next to the papers' numbers.

    genlab-report runs=outputs/train/multiruns/<time> columns=[test/nll_iw,val/elbo]

Reads every run folder below ``runs`` (each has ``metrics.json`` and
``.hydra/resolved_config.yaml``), groups runs that differ only in ``seed`` (or by the
config keys in ``group_by``), and writes ``report.md`` and ``report.csv`` beside them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import hydra
import pandas as pd
from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf

from genlab.train import CONFIG_DIR
from genlab.utils.run_files import RESOLVED_CONFIG

log = logging.getLogger(__name__)


def _flatten(node: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in node.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value if not isinstance(value, list) else str(value)
    return out


def collect_runs(root: Path) -> pd.DataFrame:
    """Return one row per run below ``root``: flattened config keys plus its metrics."""
    rows = []
    for metrics_file in sorted(root.rglob("metrics.json")):
        config_file = metrics_file.parent / ".hydra" / RESOLVED_CONFIG
        if not config_file.is_file():
            continue
        config = OmegaConf.to_container(OmegaConf.load(config_file))
        row = {f"cfg.{k}": v for k, v in _flatten(config).items()}
        row.update(json.loads(metrics_file.read_text()))
        row["run"] = str(metrics_file.parent)
        rows.append(row)
    if not rows:
        raise FileNotFoundError(
            f"no finished runs below {root} (looked for metrics.json beside "
            f".hydra/{RESOLVED_CONFIG}); pass runs=<a run or multirun folder>"
        )
    return pd.DataFrame(rows)


def varying_keys(runs: pd.DataFrame, ignore: tuple[str, ...] = ("seed", "paths.")) -> list[str]:
    """Return config columns whose value differs between runs, except seeds and paths."""
    cols = [c for c in runs.columns if c.startswith("cfg.")]
    return [
        c for c in cols if runs[c].astype(str).nunique() > 1 and not any(i in c[4:] for i in ignore)
    ]


def summarize(
    runs: pd.DataFrame, metrics: list[str], group_by: list[str], references: dict
) -> pd.DataFrame:
    """Return mean, std and count per group for each metric, with the paper's number."""
    keys = [f"cfg.{k}" for k in group_by] if group_by else varying_keys(runs)
    grouped = runs.groupby(keys, dropna=False) if keys else [((), runs)]
    rows = []
    for name, group in grouped:
        name = name if isinstance(name, tuple) else (name,)
        row = {k[4:]: v for k, v in zip(keys, name, strict=True)}
        row["seeds"] = len(group)
        for metric in metrics:
            values = pd.to_numeric(group.get(metric), errors="coerce").dropna()
            std = values.std(ddof=1) if len(values) > 1 else float("nan")
            row[metric] = f"{values.mean():.2f} ± {std:.2f}" if len(values) else "n/a"
        label = " ".join(str(v) for v in name)
        for metric in metrics:
            ref = references.get(label, {}).get(metric)
            if ref is not None:
                row[f"{metric} (paper)"] = ref
        rows.append(row)
    return pd.DataFrame(rows)


def report(cfg: DictConfig) -> pd.DataFrame:
    """Build the table for ``cfg.runs``; write report.md and report.csv; return the table."""
    root = Path(to_absolute_path(cfg.runs))
    runs = collect_runs(root)
    refs = OmegaConf.to_container(cfg.references) if cfg.get("references") else {}
    if cfg.get("references_file"):
        refs.update(OmegaConf.to_container(OmegaConf.load(to_absolute_path(cfg.references_file))))
    table = summarize(runs, list(cfg.columns), list(cfg.get("group_by") or []), refs)
    markdown = table.to_markdown(index=False) if _has_tabulate() else table.to_string()
    (root / "report.md").write_text(markdown + "\n")
    table.to_csv(root / "report.csv", index=False)
    print(markdown)
    log.info(f"wrote {root / 'report.md'} and report.csv ({len(runs)} runs)")
    return table


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="report")
def main(cfg: DictConfig) -> None:
    """Console entry point ``genlab-report``."""
    report(cfg)


if __name__ == "__main__":
    main()
