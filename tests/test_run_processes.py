"""Whole genlab-train processes: launched together, killed mid-epoch, or with W&B unreachable
(docs/reliability.md)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from genlab.utils.run_dir import claim_unique_dir
from helpers.config import TINY

FAST = [*TINY, "metrics=none", "test=false"]


def launch(args: list[str], cwd: Path, **env: str) -> subprocess.Popen:
    """Start ``python -m genlab.train <args>`` in ``cwd`` (W&B offline unless ``env`` says
    otherwise); stdout and stderr together."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    base.update(WANDB_MODE="offline", WANDB_SILENT="true", PYTHONPATH=os.pathsep.join(sys.path))
    base.update(env)
    return subprocess.Popen(
        [sys.executable, "-m", "genlab.train", *args],
        cwd=cwd,
        env={k: v for k, v in base.items() if v is not None},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(proc: subprocess.Popen) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=600)
    return proc.returncode, out


def test_claim_unique_dir_never_returns_a_taken_folder(tmp_path):
    first = claim_unique_dir(str(tmp_path / "runs" / "12-00-00"))
    second = claim_unique_dir(str(tmp_path / "runs" / "12-00-00"))
    assert Path(first).name == "12-00-00" and Path(second).name == "12-00-00_1"
    assert Path(first).is_dir() and Path(second).is_dir()


def test_run_dir_config_claims_a_new_folder_per_composition(tmp_path):
    """conf/hydra/default.yaml's run dir, resolved by two compositions of the same second."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from genlab.utils import run_dir
    from genlab.utils.config_dir import CONFIG_DIR

    run_dir.register_resolver()  # what genlab.train does at import
    dirs = []
    for _ in range(2):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            cfg = compose(
                "train",
                [f"paths.log_dir={tmp_path}", "paths.run_name=same"],
                return_hydra_config=True,
            )
        dirs.append(Path(cfg.hydra.run.dir))
        assert Path(cfg.hydra.run.dir) == dirs[-1]  # cached: read twice, one folder
    assert [d.name for d in dirs] == ["same", "same_1"] and all(d.is_dir() for d in dirs)


@pytest.mark.slow  # two processes with torch: ~30 s (no training) to ~45 s on 2 shared cores
@pytest.mark.parametrize("train", [False, True], ids=["no-training", "training"])
def test_two_runs_launched_together_get_two_folders(tmp_path, train):
    # the same run_name is what two launches in the same second compute from ${now:...}
    args = [*FAST, "logger=csv", f"train={train}", "trainer.max_epochs=1", "paths.run_name=same"]
    procs = [launch(args, tmp_path), launch(args, tmp_path)]
    results = [finish(p) for p in procs]
    for code, out in results:
        assert code == 0, out[-3000:]
    runs = sorted(p.name for p in (tmp_path / "outputs" / "train" / "runs").iterdir())
    assert runs == ["same", "same_1"]
    for run in runs:
        folder = tmp_path / "outputs" / "train" / "runs" / run
        log = (folder / "train.log").read_text()
        assert log.count("output folder:") == 1, log  # one run's log per folder
        assert f"output folder: {folder}" in log
        if train:
            assert (folder / "checkpoints" / "last.ckpt").is_file()


def test_unreachable_wandb_server_means_offline(monkeypatch):
    from genlab.utils.wandb_utils import fall_back_offline

    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    assert fall_back_offline(False) is True
    assert fall_back_offline(True) is True
    monkeypatch.setenv("WANDB_MODE", "online")  # insisting on online: no fallback
    assert fall_back_offline(False) is False


@pytest.mark.slow  # a genlab-train process with W&B: ~30 s on 2 shared cores
def test_wandb_with_a_key_and_no_network_falls_back_to_offline(tmp_path):
    args = [*FAST, "train=false", "logger=wandb"]
    proc = launch(
        args,
        tmp_path,
        WANDB_MODE=None,
        WANDB_API_KEY="0123456789abcdef0123456789abcdef01234567",
        WANDB_BASE_URL="http://127.0.0.1:9",  # nothing listens there
    )
    code, out = finish(proc)
    assert code == 0, out[-3000:]
    assert "W&B: cannot reach 127.0.0.1:9" in out and "logging offline instead" in out
    (run,) = (tmp_path / "outputs" / "train" / "runs").iterdir()
    assert list((run / "wandb").glob("offline-run-*"))


class KillAt:
    """Test callback: SIGKILL this process at batch ``batch`` of epoch ``epoch``."""

    def __new__(cls, epoch: int, batch: int):
        import pytorch_lightning as pl

        class Kill(pl.Callback):
            def on_train_batch_start(self, trainer, pl_module, batch_data, batch_idx):
                if trainer.current_epoch == epoch and batch_idx == batch:
                    os.kill(os.getpid(), signal.SIGKILL)

        return Kill()


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_loses_at_most_that_epoch(tmp_path):
    """limit_train_batches=3: 3 optimizer steps per epoch. Killed in epoch 2 (0-based), the
    run resumes from the end of epoch 1 and the same W&B run (id given) goes on."""
    args = [*FAST, "logger=many", "logger.wandb.id=killtest", "trainer.max_epochs=4"]
    args.append("callbacks.model_checkpoint.write_every_s=0")  # write last.ckpt every epoch
    kill = [f"+callbacks.kill._target_={__name__}.KillAt", "+callbacks.kill.epoch=2"]
    code, out = finish(
        launch([*args, *kill, "+callbacks.kill.batch=1", "paths.run_name=a"], tmp_path)
    )
    assert code == -signal.SIGKILL, out[-3000:]
    runs = tmp_path / "outputs" / "train" / "runs"
    last = runs / "a" / "checkpoints" / "last.ckpt"
    state = torch.load(last, weights_only=True)
    assert (state["epoch"], state["global_step"]) == (1, 6)  # epochs 0 and 1 are kept
    code, out = finish(launch([*args, f"ckpt_path={last}", "paths.run_name=b"], tmp_path))
    assert code == 0, out[-3000:]
    final = torch.load(runs / "b" / "checkpoints" / "last.ckpt", weights_only=True)
    assert (final["epoch"], final["global_step"]) == (3, 12)
    for run in ("a", "b"):  # both processes logged to the W&B run with the given id
        assert [
            p.name.endswith("-killtest") for p in (runs / run / "wandb").glob("offline-run-*")
        ] == [True]
