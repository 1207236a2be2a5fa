"""genlab-bench: run a named suite (experiments x seeds, one Hydra multirun each), then write
``report.md``, ``report.csv``, figures (PNG) and a W&B report run into the suite's folder.

    genlab-bench suite=cpu                      # runs here in about 30 min (README)
    genlab-bench suite=paper extra=[hydra/launcher=slurm]   # prints its GPU hours first
    genlab-bench suite=cpu collect_only=true out_dir=outputs/bench/cpu/<time>
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import hydra
from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf

from genlab.bench.figures import plot_curves, plot_final
from genlab.bench.launch import launch_suite
from genlab.bench.references import load_references
from genlab.bench.tables import check_claim, markdown_table, suite_runs, suite_table
from genlab.utils.config_dir import CONFIG_DIR

log = logging.getLogger(__name__)


def expected_gpu_hours(suite: dict[str, Any]) -> float:
    """Return the suite's expected GPU hours: sum over experiments of gpu_hours x seeds."""
    total = 0.0
    for exp in suite["experiments"]:
        seeds = exp.get("seeds", suite.get("seeds", [0]))
        total += float(exp.get("gpu_hours") or 0.0) * len(seeds)
    return total


def _find(path: str, root_dir: Path) -> Path:
    """Return ``path`` resolved against the launch folder, else against genlab's repository
    (where ``benchmarks/references/`` lives); the launch-folder path when neither exists."""
    for base in (root_dir, Path(CONFIG_DIR).parent):
        if (base / path).is_file():
            return base / path
    return root_dir / path


def collect(out_dir: Path, suite: dict[str, Any], root_dir: Path) -> dict[str, Any]:
    """Tabulate and plot the suite's runs under ``out_dir``; write report.md, report.csv,
    curves.png and final_metrics.png; return the table, problems and figure paths."""
    files = [_find(f, root_dir) for f in suite.get("references_files", [])]
    refs = load_references(suite.get("references"), files)
    runs, problems = suite_runs(out_dir, suite)
    table = suite_table(runs, suite, refs)
    curves = {e["name"]: list(e.get("curves", [])) for e in suite["experiments"]}
    figures = [plot_curves(runs, curves, out_dir / "curves.png")]
    figures.append(plot_final(table, out_dir / "final_metrics.png"))
    figures = [f for f in figures if f is not None]
    text = (
        f"# Suite `{suite['name']}`\n\n{suite.get('description', '')}\n\n{markdown_table(table)}\n"
    )
    claims = [check_claim(table, c) for c in suite.get("claims", [])]
    if claims:
        text += "\nThe papers' claims, here:\n" + "\n".join(claims) + "\n"
    timings = out_dir / "timings.json"
    if timings.is_file():
        rows = json.loads(timings.read_text())
        text += "\n| experiment | runs | exit code | wall time | CPU time |\n"
        text += "| --- | --- | --- | --- | --- |\n"
        text += "".join(
            f"| {k} | {len(v['seeds'])} | {v['returncode']} | {v['wall_s'] / 60:.1f} min "
            f"| {v['cpu_s'] / 60:.1f} min |\n" for k, v in rows.items()
        )  # fmt: skip
    if problems:
        text += "\nNot averaged (unfinished or corrupt runs):\n" + "".join(
            f"- {p}\n" for p in problems
        )
        for problem in problems:
            log.warning(f"not averaged: {problem}")
    (out_dir / "report.md").write_text(text)
    table.to_csv(out_dir / "report.csv", index=False)
    print(text)
    return {"table": table, "problems": problems, "figures": figures, "runs": runs}


def check_collect_folder(out_dir: Path) -> None:
    """Raise FileNotFoundError for ``collect_only=true`` on a folder that is missing or holds
    no finished run (no ``metrics.json`` below it): an empty report would look like a result."""
    if not out_dir.is_dir():
        raise FileNotFoundError(
            f"collect_only=true: {out_dir} does not exist. Pass out_dir=<the folder a "
            "genlab-bench run wrote> (e.g. outputs/bench/cpu/<time>)."
        )
    if next(out_dir.rglob("metrics.json"), None) is None:
        raise FileNotFoundError(
            f"collect_only=true: {out_dir} holds no finished run (no metrics.json below it); "
            "nothing to report. Run the suite first (without collect_only), or pass its folder."
        )


def bench(cfg: DictConfig) -> dict[str, Any]:
    """Run (unless ``collect_only``) and report the suite ``cfg.suite`` in ``cfg.out_dir``."""
    suite = OmegaConf.to_container(cfg.suite, resolve=True)
    out_dir = Path(to_absolute_path(cfg.out_dir))
    if cfg.get("collect_only"):
        check_collect_folder(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    group = f"bench/{suite['name']}/{out_dir.name}"
    hours = expected_gpu_hours(suite)
    print(f"suite {suite['name']}: {suite.get('expected', '')}; output: {out_dir}")
    if hours:
        print(f"suite {suite['name']}: expected {hours:.1f} GPU hours (gpu_hours x seeds)")
    if cfg.get("dry_run"):
        return {"gpu_hours": hours}
    root_dir = Path(cfg.paths.root_dir)
    if not cfg.get("collect_only"):
        launch_suite(suite, out_dir, root_dir, list(cfg.get("extra") or []), group)
    result = collect(out_dir, suite, root_dir)
    if cfg.wandb.enabled:
        from genlab.bench.wandb_report import log_report_run

        result["wandb_dir"] = log_report_run(
            out_dir, group, f"report/{suite['name']}", result["table"], result["figures"],
            project=cfg.wandb.project, offline=cfg.wandb.offline,
        )  # fmt: skip
    return result


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="bench")
def main(cfg: DictConfig) -> None:
    """Console entry point ``genlab-bench``."""
    bench(cfg)


if __name__ == "__main__":
    main()
