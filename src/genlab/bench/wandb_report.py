"""Log a suite's table and figures to a W&B run of their own (job_type ``report``) in the
suite's group, offline when there is no login (``wandb sync`` uploads it later)."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from genlab.utils.wandb_utils import resolve_offline

log = logging.getLogger(__name__)


def log_report_run(
    out_dir: Path,
    group: str,
    name: str,
    table: pd.DataFrame,
    figures: list[Path],
    project: str = "genlab",
    offline: bool | None = None,
) -> str:
    """Create the report run under ``out_dir/wandb``, log ``report/table`` (a wandb.Table) and
    each figure as ``report/<file stem>`` (wandb.Image); return the run's local folder."""
    import wandb

    mode = "offline" if resolve_offline(offline) else "online"
    run = wandb.init(
        project=project, group=group, job_type="report", name=name, dir=str(out_dir),
        mode=mode, reinit="finish_previous",
    )  # fmt: skip
    try:
        data: dict = {"report/table": wandb.Table(dataframe=table.astype({"paper": "float"}))}
        data.update({f"report/{p.stem}": wandb.Image(str(p)) for p in figures})
        run.log(data)
        folder = str(Path(run.dir).parent)
    finally:
        run.finish()
    log.info(f"W&B report run ({mode}): {folder}")
    return folder
