"""Suite figures: learning curves (mean ± std band over seeds, from each run's CSV log) and
final metrics against the papers' numbers (point ± std, paper value ± its error bar)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

CSV_LOG = Path("csv") / "metrics.csv"


def curve(runs: pd.DataFrame, metric: str) -> pd.DataFrame | None:
    """Return mean, std and count of ``metric`` per logged ``step`` over the runs' CSV logs
    (``<run>/csv/metrics.csv``), keeping steps every run logged; None when no run logged it."""
    series = []
    for run_dir in runs["run"]:
        path = Path(run_dir) / CSV_LOG
        if not path.is_file():
            continue
        frame = pd.read_csv(path)
        if metric not in frame:
            continue
        values = frame[["step", metric]].dropna().groupby("step")[metric].last()
        series.append(values.rename(run_dir))
    if not series:
        return None
    table = pd.concat(series, axis=1, join="inner")
    return pd.DataFrame({"mean": table.mean(axis=1), "std": table.std(axis=1), "n": table.shape[1]})


def _grid(n: int) -> tuple[plt.Figure, list[plt.Axes]]:
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def plot_curves(
    runs: dict[str, pd.DataFrame], curves: dict[str, list[str]], path: Path
) -> Path | None:
    """Save one panel per curve metric, one line (mean) and band (± std over seeds) per
    experiment; ``curves`` maps experiment name to its metrics. Returns the path, or None."""
    metrics = list(dict.fromkeys(m for ms in curves.values() for m in ms))
    if not metrics:
        return None
    fig, axes = _grid(len(metrics))
    for ax, metric in zip(axes, metrics, strict=True):
        for name, frame in runs.items():
            if metric not in curves.get(name, []):
                continue
            stats = curve(frame, metric)
            if stats is None:
                continue
            ax.plot(stats.index, stats["mean"], label=f"{name} (n={int(stats['n'].iloc[0])})")
            ax.fill_between(stats.index, stats["mean"] - stats["std"].fillna(0),
                            stats["mean"] + stats["std"].fillna(0), alpha=0.25)  # fmt: skip
        ax.set_title(metric, fontsize=9)
        ax.set_xlabel("optimizer step")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_final(table: pd.DataFrame, path: Path) -> Path | None:
    """Save one panel per metric: genlab's mean ± std per experiment (blue) and the paper's
    number ± its error bar (red) where it is comparable. Returns the path, or None."""
    if table.empty:
        return None
    metrics = list(dict.fromkeys(table["metric"]))
    fig, axes = _grid(len(metrics))
    for ax, metric in zip(axes, metrics, strict=True):
        rows = table[table["metric"] == metric].reset_index(drop=True)
        x = list(range(len(rows)))
        ax.errorbar(x, rows["mean"], yerr=rows["std"].fillna(0), fmt="o", capsize=4, label="genlab")
        comparable = rows[rows["verdict"].str.match(r"^(within|outside)")]
        if not comparable.empty:
            paper_err = comparable["paper_std"].astype(float).fillna(0)
            ax.errorbar(comparable.index, comparable["paper"], yerr=paper_err, fmt="D",
                        color="tab:red", capsize=4, label="paper")  # fmt: skip
        ax.set_xticks(x, rows["experiment"], rotation=30, ha="right", fontsize=7)
        ax.set_title(metric, fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
