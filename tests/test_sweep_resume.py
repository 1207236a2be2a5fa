"""Sweeps that survive (issue 19): ``+resume_sweep=<sweep dir>`` skips finished jobs, resumes
killed ones from their last.ckpt and W&B id, starts never-started ones (genlab.launch.resume_sweep,
docs/reliability.md)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from omegaconf import OmegaConf

from genlab.launch.resume_sweep import finished_metrics, read_events, record_event, sweep_status
from genlab.utils.run_dir import sweep_dir
from helpers.config import TINY

KILL_ENV = "GENLAB_TEST_KILL_JOB"  # the job number KillJobAt kills (unset: kills nothing)


class KillJobAt:
    """Test callback: SIGKILL the process at batch ``batch`` of epoch ``epoch`` of the multirun
    job whose number is ``$GENLAB_TEST_KILL_JOB`` (so the resumed command, the same overrides
    without that variable, kills nothing)."""

    def __new__(cls, epoch: int, batch: int):
        import pytorch_lightning as pl
        from hydra.core.hydra_config import HydraConfig

        class Kill(pl.Callback):
            def on_train_batch_start(self, trainer, pl_module, batch_data, batch_idx):
                target = os.environ.get(KILL_ENV)
                job = HydraConfig.get().job.num
                if target == str(job) and (trainer.current_epoch, batch_idx) == (epoch, batch):
                    os.kill(os.getpid(), signal.SIGKILL)

        return Kill()


def launch(args: list[str], cwd: Path, module: str = "genlab.train", **env: str):
    """Run ``python -m <module> <args>`` in ``cwd`` (W&B offline); return (exit code, output)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    base.update(WANDB_MODE="offline", WANDB_SILENT="true", PYTHONPATH=os.pathsep.join(sys.path))
    base.update(env)
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=base,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
    )
    return proc.returncode, proc.stdout


def test_sweep_dir_is_the_resumed_folder_or_a_new_one(tmp_path):
    new = sweep_dir(None, str(tmp_path / "multiruns" / "a"))
    assert Path(new).is_dir() and Path(new).name == "a"
    assert Path(sweep_dir(None, str(tmp_path / "multiruns" / "a"))).name == "a_1"
    (Path(new) / "multirun.yaml").write_text("{}\n")
    assert sweep_dir(new, str(tmp_path / "ignored")) == new
    assert not (tmp_path / "ignored").exists()
    with pytest.raises(FileNotFoundError, match="is not a sweep folder"):
        sweep_dir(str(tmp_path / "multiruns"), str(tmp_path / "x"))


def test_finished_metrics_needs_a_readable_mapping_and_no_failed_mark(tmp_path):
    assert finished_metrics(tmp_path) is None  # no metrics.json: never finished
    (tmp_path / "metrics.json").write_text('{"val/elbo": -90.5, "val/fid": "nan"}')
    metrics = finished_metrics(tmp_path, "val/elbo")
    assert metrics["val/elbo"] == -90.5 and metrics["val/fid"] != metrics["val/fid"]  # NaN
    assert finished_metrics(tmp_path, "val/nll") is None  # the optimized metric is missing
    (tmp_path / "metrics.json").write_text('{"val/elbo": -9')  # torn write
    assert finished_metrics(tmp_path) is None
    (tmp_path / "metrics.json").write_text('{"val/elbo": -90.5}')
    (tmp_path / "FAILED").write_text("RuntimeError: boom\n")
    assert finished_metrics(tmp_path) is None


def test_job_events_keep_every_attempt_with_its_error(tmp_path):
    record_event(tmp_path, 0, "started")
    record_event(tmp_path, 1, "started")
    record_event(tmp_path, 1, "failed", error="RuntimeError: boom")
    record_event(tmp_path, 0, "finished")
    with open(tmp_path / "jobs.jsonl", "a") as f:
        f.write('{"job": 2, "ev')  # a line torn by a kill is skipped
    assert sweep_status(tmp_path) == {0: "finished", 1: "failed"}
    assert [e["error"] for e in read_events(tmp_path) if e["event"] == "failed"] == [
        "RuntimeError: boom"
    ]


def wandb_ids(job: Path) -> list[str]:
    """Return the W&B run id of every offline run folder in a job folder."""
    return [p.name.rsplit("-", 1)[-1] for p in sorted((job / "wandb").glob("offline-run-*"))]


@pytest.mark.slow  # 4 tiny jobs + 2 resumed, two processes with torch and W&B: ~2-4 min here
@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_killed_sweep_resumes_to_four_finished_jobs(tmp_path, launcher):
    """2 models x 2 seeds, 2 epochs of 3 steps each. Job 2 is SIGKILLed in epoch 1 (its
    last.ckpt holds epoch 0) and job 3 never starts (basic launcher: jobs run one after
    another in the killed process). The same command with +resume_sweep finishes all four."""
    args = [
        "-m",
        *TINY,
        "metrics=none",
        "test=false",
        "logger=many",
        "model=vae,beta_vae",
        "seed=1,2",
        "paths.run_name=sw",
        "callbacks.model_checkpoint.write_every_s=0",  # last.ckpt on disk after every epoch
        f"+callbacks.kill._target_={__name__}.KillJobAt",
        "+callbacks.kill.epoch=1",
        "+callbacks.kill.batch=1",
    ]
    if launcher == "joblib":
        pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
        # one worker: jobs run in order, so job 3 is not started when job 2 is killed
        args += ["hydra/launcher=joblib", "hydra.launcher.n_jobs=1"]
    code, out = launch(args, tmp_path, **{KILL_ENV: "2"})
    sweep = tmp_path / "outputs" / "train" / "multiruns" / "sw"
    assert code != 0, out[-3000:]
    jobs = [sweep / str(n) for n in range(4)]
    assert all((j / "metrics.json").is_file() for j in jobs[:2]), out[-3000:]
    assert not (jobs[2] / "metrics.json").exists()
    killed = torch.load(jobs[2] / "checkpoints" / "last.ckpt", weights_only=True)
    assert (killed["epoch"], killed["global_step"]) == (0, 3)
    if launcher == "basic":
        assert not (jobs[3] / "sweep_job.yaml").exists()  # never started
    finished_before = {j: (j / "metrics.json").stat().st_mtime_ns for j in jobs[:2]}
    killed_id = yaml.safe_load((jobs[2] / "sweep_job.yaml").read_text())["wandb_id"]

    code, out = launch([*args, f"+resume_sweep={sweep}"], tmp_path)
    assert code == 0, out[-4000:]
    assert sorted(p.name for p in sweep.iterdir() if p.name.isdigit()) == ["0", "1", "2", "3"]
    assert all((j / "metrics.json").is_file() for j in jobs)
    for job, mtime in finished_before.items():  # finished jobs were not re-run
        assert (job / "metrics.json").stat().st_mtime_ns == mtime
    final = torch.load(jobs[2] / "checkpoints" / "last.ckpt", weights_only=True)
    assert (final["epoch"], final["global_step"]) == (1, 6)  # continued: 3 + 3 steps
    assert wandb_ids(jobs[2]) == [killed_id, killed_id]  # both attempts, one W&B run
    events = read_events(sweep)
    resumed = [e for e in events if e["event"] == "resumed"]
    assert [e["job"] for e in resumed] == [2]
    assert resumed[0]["ckpt_path"] == str(jobs[2] / "checkpoints" / "last.ckpt")
    assert sorted(e["job"] for e in events if e["event"] == "skipped") == [0, 1]
    assert sweep_status(sweep) == {n: "finished" for n in range(4)}

    code, out = launch(
        [f"runs={sweep}", "columns=[val/elbo]", "group_by=[model._target_,model.objective.beta]"],
        tmp_path,
        module="genlab.report",
    )
    assert code == 0, out[-3000:]
    import pandas as pd

    table = pd.read_csv(sweep / "report.csv")
    assert len(table) == 2 and table["seeds"].tolist() == [2, 2], table  # 2 rows x 2 seeds
    assert table["model.objective.beta"].tolist() == [1.0, 4.0]
    assert all("±" in cell for cell in table["val/elbo"]), table


def test_resumed_job_with_other_overrides_is_refused(tmp_path, monkeypatch):
    """A job folder started with other overrides (the command changed) is refused by name."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from genlab.launch import resume_sweep

    job = tmp_path / "sweep" / "0"
    job.mkdir(parents=True)
    OmegaConf.save({"overrides": ["seed=1"], "wandb_id": "abc"}, job / "sweep_job.yaml")
    hc = OmegaConf.create(
        {
            "mode": RunMode.MULTIRUN,
            "sweep": {"dir": str(tmp_path / "sweep")},
            "job": {"num": 0},
            "overrides": {"task": ["seed=2", f"+resume_sweep={tmp_path / 'sweep'}"]},
        }
    )
    monkeypatch.setattr(HydraConfig, "initialized", staticmethod(lambda: True))
    monkeypatch.setattr(HydraConfig, "get", staticmethod(lambda: hc))
    cfg = OmegaConf.create({"paths": {"output_dir": str(job)}, "resume_sweep": "x"})
    with pytest.raises(resume_sweep.SweepMismatchError, match=r"\['seed=1'\].*\['seed=2'\]"):
        resume_sweep.prepare_job(cfg)
    assert json.loads(json.dumps(OmegaConf.to_container(OmegaConf.load(job / "sweep_job.yaml"))))


@pytest.mark.slow  # 3 tiny Optuna trials + 2 resumed, two processes: ~1-2 min here
def test_killed_optuna_study_resumes_from_its_storage(tmp_path):
    """n_trials=3; trial 1 is SIGKILLed in epoch 1 (it stays RUNNING in the SQLite storage
    under the sweep folder). The resumed sweep re-runs trial 1 in folder 1 from its last.ckpt,
    runs trial 2, and does not re-run trial 0: 3 complete trials in the study."""
    optuna = pytest.importorskip("optuna")
    args = [
        "hparams_search=vae_optuna",
        "hydra.sweeper.n_trials=3",
        *TINY,
        "metrics=none",
        "test=false",
        "logger=csv",
        "paths.run_name=study",
        "callbacks.model_checkpoint.write_every_s=0",
        f"+callbacks.kill._target_={__name__}.KillJobAt",
        "+callbacks.kill.epoch=1",
        "+callbacks.kill.batch=1",
    ]
    code, out = launch(args, tmp_path, **{KILL_ENV: "1"})
    sweep = tmp_path / "outputs" / "train" / "multiruns" / "study"
    assert code != 0 and (sweep / "optuna.db").is_file(), out[-3000:]
    storage = f"sqlite:///{sweep / 'optuna.db'}"
    states = [t.state.name for t in optuna.load_study("vae_optuna", storage).trials]
    assert states == ["COMPLETE", "RUNNING"]
    first = (sweep / "0" / "metrics.json").stat().st_mtime_ns

    code, out = launch([*args, f"+resume_sweep={sweep}"], tmp_path)
    assert code == 0, out[-4000:]
    trials = optuna.load_study("vae_optuna", storage).trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3
    assert (sweep / "0" / "metrics.json").stat().st_mtime_ns == first  # not re-run
    events = read_events(sweep)
    resumed = [e for e in events if e["event"] == "resumed"]
    assert [e["job"] for e in resumed] == [1], events
    assert sorted(p.name for p in sweep.iterdir() if p.name.isdigit()) == ["0", "1", "2"]
    final = torch.load(sweep / "1" / "checkpoints" / "last.ckpt", weights_only=True)
    assert (final["epoch"], final["global_step"]) == (1, 6)
    metric = json.loads((sweep / "1" / "metrics.json").read_text())["val/elbo"]
    assert trials[1].value == pytest.approx(metric)
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert results["best_value"] == pytest.approx(max(t.value for t in trials))
