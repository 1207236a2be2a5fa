"""DDP under Hydra (2 CPU processes, gloo): one folder and one W&B run per job, also in a sweep.

Child ranks run ``python -m genlab.launch.ddp <job>/.hydra/ddp_job.yaml`` (genlab.launch.ddp), so
they never run Hydra: no second output folder, no second sweep, no second W&B run.
"""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lightning_fabric.plugins.environments import LightningEnvironment
from omegaconf import OmegaConf

from genlab.launch import ddp
from helpers.config import run_cli
from helpers.runs import TINY_RUN, check_ok, job_dirs, sweep_dirs, wandb_runs


def csv_rows(run_dir: Path) -> list[dict[str, str]]:
    """Return the rows of the run's CSVLogger file."""
    with open(run_dir / "csv" / "metrics.csv") as f:
        return list(csv.DictReader(f))


def check_one_job(job: Path) -> None:
    """One job folder of a 2-rank run: one W&B run, each metric row logged once, by rank 0."""
    (run,) = wandb_runs(job)
    val_rows = [row for row in run.history if "val/elbo" in row]
    assert len(val_rows) == 1  # 1 epoch, 1 validation: not once per rank
    rows = csv_rows(job)
    val_csv = [r for r in rows if r.get("val/elbo")]
    assert len(val_csv) == 1
    train_steps = [r["step"] for r in rows if r.get("train/loss")]
    assert len(train_steps) == len(set(train_steps))  # no step logged twice
    # the children ran the job's resolved config: 2 processes, the same folder
    job_file = OmegaConf.load(job / ".hydra" / "ddp_job.yaml")
    assert job_file.config.paths.output_dir == str(job.resolve())
    assert job_file.config.trainer.devices == 2


@pytest.mark.slow  # 40 s on the shared 2-core machine under load ~10 (2026-12-02)
@pytest.mark.ddp
def test_ddp_cpu_single_run_writes_one_folder_and_one_wandb_run(tmp_path):
    proc = run_cli(["trainer=ddp_cpu", *TINY_RUN], tmp_path, timeout=240)
    check_ok(proc)
    # outputs/cache holds the shared metrics reference cache, not a run
    task_dirs = [p for p in (tmp_path / "outputs").iterdir() if p.name != "cache"]
    assert [p.name for p in task_dirs] == ["debug"]
    assert [p.name for p in task_dirs[0].iterdir()] == ["runs"]
    (run_dir,) = list((task_dirs[0] / "runs").iterdir())
    check_one_job(run_dir)
    (run,) = wandb_runs(run_dir)
    assert run.group == "" and run.config["trainer"]["strategy"]["process_group_backend"] == "gloo"


@pytest.mark.ddp
@pytest.mark.slow  # ~25 s: keeps the default run under 4 minutes; CI's slow pass runs it
def test_ddp_cpu_multirun_gives_one_folder_and_one_wandb_run_per_job_and_ends(tmp_path):
    proc = run_cli(["-m", "seed=0,1", "trainer=ddp_cpu", *TINY_RUN], tmp_path, timeout=300)
    check_ok(proc)
    (sweep_dir,) = sweep_dirs(tmp_path)  # children started no sweep of their own
    jobs = job_dirs(sweep_dir)
    assert [p.name for p in jobs] == ["0", "1"]
    for job in jobs:
        check_one_job(job)
    (first,), (second,) = (wandb_runs(job) for job in jobs)
    assert first.run_id != second.run_id and first.group == second.group
    assert (first.tags, second.tags) == (["seed=0"], ["seed=1"])
    assert (first.config["seed_effective"], second.config["seed_effective"]) == (0, 1)


SLEEP = "import time; time.sleep(60)"


@pytest.fixture
def stand_in_main():
    """A process that plays 'the main process' for the observer, so a regression kills it and
    not pytest."""
    proc = subprocess.Popen([sys.executable, "-c", SLEEP])
    yield proc
    proc.kill()
    proc.wait()


def _fake_children(monkeypatch, main: subprocess.Popen, *codes: str) -> ddp._JobLauncher:
    """A job launcher whose 'child ranks' are small Python processes, watched by the observer."""
    launcher = ddp._JobLauncher(LightningEnvironment(), num_processes=2, num_nodes=1)
    launcher.procs = [subprocess.Popen([sys.executable, "-c", code]) for code in codes]
    launcher.observer = ddp._JobObserver(launcher.procs)
    launcher.observer._main_pid = main.pid
    launcher.observer.start()
    monkeypatch.setattr(ddp, "_spawning_launcher", launcher)
    return launcher


def test_job_end_waits_for_children_and_stops_the_observer(monkeypatch, stand_in_main):
    launcher = _fake_children(monkeypatch, stand_in_main, "import time; time.sleep(0.5)")
    assert ddp.reap_children(failed=False) == [0]
    launcher.observer.join(timeout=3)
    assert not launcher.observer.is_alive()
    assert ddp.reap_children(failed=False) == []  # nothing left to end


def test_failed_job_kills_its_children_without_the_observer_killing_the_sweep(
    monkeypatch, stand_in_main
):
    launcher = _fake_children(monkeypatch, stand_in_main, SLEEP)
    launcher.kill(signal.SIGKILL)  # what Lightning does when rank 0 raises
    time.sleep(2.5)  # > the observer period: a running observer would SIGKILL "main" now
    assert stand_in_main.poll() is None
    assert ddp.reap_children(failed=True) == [-signal.SIGKILL]


def test_child_still_running_after_the_timeout_is_killed(monkeypatch, stand_in_main):
    _fake_children(monkeypatch, stand_in_main, SLEEP)
    assert ddp.reap_children(failed=False, timeout=0.5) == [-signal.SIGKILL]
