"""Sweeps that survive: re-run a multirun in its own folder and finish only what is missing.

Re-running the same ``genlab-train -m ...`` command with ``+resume_sweep=<sweep dir>`` (the
command is in ``<sweep dir>/multirun.yaml``, ``hydra.overrides.task``) puts every
job into its old folder ``<sweep dir>/<job number>`` (``conf/hydra/default.yaml``), and
:func:`prepare_job` decides, per job, before anything heavy is imported:

- **finished** (``metrics.json`` parses to a mapping, holds ``optimized_metric`` when one is
  set, and no ``FAILED`` mark): skipped; its metrics are returned as the job's result, so
  sweepers (Optuna) get the value without training again;
- **unfinished** (killed, failed, or interrupted): resumed from ``<job>/checkpoints/last.ckpt``
  when it exists (``ckpt_path``), else restarted, in the same folder and with the same W&B run
  id (written at the first start into ``<job>/sweep_job.yaml``); a stale ``FAILED`` mark is
  removed first and written again if the job fails again;
- **never started**: started.

A job whose recorded overrides differ from the ones it gets now (the command changed) is
refused with both lists. Every start, skip, resume, finish and failure is appended to
``<sweep dir>/jobs.jsonl`` (one JSON object per line, with the error for failures), so the
sweep folder keeps the history of all attempts; ``genlab-report`` lists failed jobs from their
``FAILED`` marks. Works for every launcher that runs ``genlab.train.main`` per job in the
job's folder: the basic launcher, joblib and submitit (the decision is made inside the job).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import string
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger(__name__)

JOB_FILE = "sweep_job.yaml"  # in each job folder: its overrides and W&B run id
EVENTS_FILE = "jobs.jsonl"  # in the sweep folder: one line per job event
METRICS_FILE = "metrics.json"
FAILED_FILE = "FAILED"
RESUME_KEY = "resume_sweep"
ID_CHARS = string.ascii_lowercase + string.digits  # W&B's own run-id alphabet


class SweepMismatchError(ValueError):
    """A resumed job's overrides differ from the ones its folder was started with."""


def new_wandb_id(length: int = 8) -> str:
    """Return a random W&B run id (``length`` lowercase letters and digits, as W&B makes)."""
    return "".join(secrets.choice(ID_CHARS) for _ in range(length))


def _job_context() -> tuple[Path, int, list[str]] | None:
    """Return (sweep folder, job number, job overrides without ``resume_sweep``) of this
    Hydra multirun job, or None outside a multirun."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return None
    hc = HydraConfig.get()
    if hc.mode != RunMode.MULTIRUN:
        return None
    overrides = [o for o in hc.overrides.task if o.lstrip("+~").split("=")[0] != RESUME_KEY]
    return Path(hc.sweep.dir).absolute(), int(hc.job.num), overrides


def record_event(sweep_dir: Path, job: int, event: str, **extra: Any) -> None:
    """Append ``{"job", "event", "time", **extra}`` as one line to ``<sweep>/jobs.jsonl``
    (one ``write`` of an ``O_APPEND`` file: lines of concurrent jobs do not interleave)."""
    line = json.dumps({"job": job, "event": event, "time": time.time(), **extra}) + "\n"
    fd = os.open(sweep_dir / EVENTS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read_events(sweep_dir: str | Path) -> list[dict[str, Any]]:
    """Return the job events of a sweep folder, oldest first (a torn last line is skipped)."""
    path = Path(sweep_dir) / EVENTS_FILE
    if not path.is_file():
        return []
    events = []
    for line in path.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


def finished_metrics(job_dir: Path, optimized_metric: str | None = None) -> dict | None:
    """Return the metrics of a finished job folder, or None when it did not finish:
    ``metrics.json`` missing, unreadable or not a mapping, ``optimized_metric`` not in it, or
    a ``FAILED`` mark present."""
    path = job_dir / METRICS_FILE
    if (job_dir / FAILED_FILE).exists() or not path.is_file():
        return None
    try:
        metrics = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(metrics, dict) or not metrics:
        return None
    if optimized_metric and optimized_metric not in metrics:
        return None
    return {k: float(v) if isinstance(v, str) else v for k, v in metrics.items()}


def _set(cfg: DictConfig, key: str, value: Any) -> None:
    with open_dict(cfg):
        OmegaConf.update(cfg, key, value, merge=False)


def _has_wandb(cfg: DictConfig) -> bool:
    node = cfg.get("logger")
    return isinstance(node, DictConfig) and isinstance(node.get("wandb"), DictConfig)


def _last_checkpoint(cfg: DictConfig, job_dir: Path) -> Path:
    dirpath = OmegaConf.select(cfg, "callbacks.model_checkpoint.dirpath", default=None)
    return Path(dirpath or job_dir / "checkpoints") / "last.ckpt"


def prepare_job(cfg: DictConfig) -> dict | None:
    """Prepare one multirun job (see the module docstring); return the job's metrics when it
    already finished (skip it), else None after setting ``ckpt_path`` / ``logger.wandb.id``
    in ``cfg`` as needed. Outside a multirun nothing happens."""
    context = _job_context()
    if context is None:
        return None
    sweep_dir, job, overrides = context
    job_dir = Path(cfg.paths.output_dir)
    record_path = job_dir / JOB_FILE
    record = OmegaConf.to_container(OmegaConf.load(record_path)) if record_path.is_file() else None
    if cfg.get(RESUME_KEY) and record is not None:
        if list(record.get("overrides", [])) != overrides:
            raise SweepMismatchError(
                f"resume_sweep: job {job} ({job_dir}) was started with overrides "
                f"{record.get('overrides')}, but now gets {overrides}. Re-run the sweep's "
                "own command (hydra.overrides.task in <sweep dir>/multirun.yaml), or start a "
                "new sweep without +resume_sweep."
            )
        metrics = finished_metrics(job_dir, cfg.get("optimized_metric"))
        if metrics is not None:
            log.info(f"resume_sweep: job {job} finished earlier ({job_dir}); skipped")
            record_event(sweep_dir, job, "skipped", overrides=overrides)
            return metrics
        (job_dir / FAILED_FILE).unlink(missing_ok=True)
        (job_dir / METRICS_FILE).unlink(missing_ok=True)
        if record.get("wandb_id") and _has_wandb(cfg):
            _set(cfg, "logger.wandb.id", record["wandb_id"])
        last = _last_checkpoint(cfg, job_dir)
        if last.is_file() and not cfg.get("ckpt_path"):
            _set(cfg, "ckpt_path", str(last))
            log.info(f"resume_sweep: job {job} resumes from {last}")
            record_event(sweep_dir, job, "resumed", overrides=overrides, ckpt_path=str(last))
        else:
            log.info(f"resume_sweep: job {job} has no last.ckpt yet; restarted in {job_dir}")
            record_event(sweep_dir, job, "restarted", overrides=overrides)
        return None
    wandb_id = None
    if _has_wandb(cfg):
        wandb_id = cfg.logger.wandb.get("id") or new_wandb_id()
        _set(cfg, "logger.wandb.id", wandb_id)
    job_dir.mkdir(parents=True, exist_ok=True)
    tmp = job_dir / f".{JOB_FILE}.tmp"
    OmegaConf.save(OmegaConf.create({"overrides": overrides, "wandb_id": wandb_id}), tmp)
    os.replace(tmp, record_path)
    record_event(sweep_dir, job, "started", overrides=overrides, wandb_id=wandb_id)
    return None


def job_ended(error: BaseException | None = None) -> None:
    """Record this multirun job's end (``finished``, or ``failed`` with the error's type and
    message) in ``<sweep>/jobs.jsonl``; nothing outside a multirun."""
    context = _job_context()
    if context is None:
        return
    sweep_dir, job, overrides = context
    if error is None:
        record_event(sweep_dir, job, "finished", overrides=overrides)
    else:
        message = f"{type(error).__name__}: {error}"[:2000]
        record_event(sweep_dir, job, "failed", overrides=overrides, error=message)


def sweep_status(sweep_dir: str | Path) -> dict[int, str]:
    """Return each job's state in a sweep folder, by job number: its last recorded event
    (``started``, ``resumed``, ``restarted``, ``finished``, ``failed``); a job skipped because
    it had finished counts as ``finished``."""
    status: dict[int, str] = {}
    for event in read_events(sweep_dir):
        status[int(event["job"])] = "finished" if event["event"] == "skipped" else event["event"]
    return status
