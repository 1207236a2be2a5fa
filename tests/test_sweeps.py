"""Sweeps that hold together: Hydra multirun + W&B grouping, Optuna, SLURM launcher, W&B sweeps.

End-to-end tests run ``python -m genlab.train`` in a tmp cwd (outputs land in tmp_path/outputs)
with W&B offline and no account, then read the offline ``.wandb`` files back.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from genlab.launch.job import isolated_job
from genlab.launch.sweep import swept_keys, swept_tags
from genlab.utils.config_dir import CONFIG_DIR
from helpers.config import run_cli
from helpers.runs import TINY_RUN, check_ok, job_dirs, sweep_dirs, wandb_runs

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # 57 s on the shared 2-core machine under load ~10 (2026-12-02)
def test_multirun_gives_one_folder_and_one_grouped_wandb_run_per_job(tmp_path):
    proc = run_cli(["-m", "model=vae,beta_vae", "seed=7", *TINY_RUN], tmp_path, timeout=240)
    check_ok(proc)
    (sweep_dir,) = sweep_dirs(tmp_path)
    jobs = job_dirs(sweep_dir)
    assert [p.name for p in jobs] == ["0", "1"]
    runs = [wandb_runs(job) for job in jobs]
    assert [len(r) for r in runs] == [1, 1]
    first, second = runs[0][0], runs[1][0]
    assert first.run_id != second.run_id
    # one group per sweep, named after the task and the sweep folder (its time)
    sweep_info = yaml.safe_load((sweep_dir / "sweep.yaml").read_text())
    assert first.group == second.group == sweep_info["group"] == f"debug/{sweep_dir.name}"
    assert sweep_info["swept_keys"] == ["model"]
    # tags name the swept key only (seed was fixed); configs hold the swept values
    assert first.tags == ["model=vae"] and second.tags == ["model=beta_vae"]
    betas = [run.config["model"]["objective"]["beta"] for run in (first, second)]
    assert betas == [1.0, 4.0]
    for run, job in zip((first, second), jobs, strict=True):
        assert run.config["seed"] == run.config["seed_effective"] == 7
        assert any("val/elbo" in row for row in run.history)
        assert "val/elbo" in json.loads((job / "metrics.json").read_text())


@pytest.mark.slow  # 75 s on the shared 2-core machine under load ~10 (2026-12-02)
def test_optuna_two_trials_report_the_best_value(tmp_path):
    args = ["hparams_search=vae_optuna", "hydra.sweeper.n_trials=2", "logger=csv", *TINY_RUN]
    check_ok(run_cli(args, tmp_path, timeout=240))
    (sweep_dir,) = sweep_dirs(tmp_path)
    jobs = job_dirs(sweep_dir)
    assert len(jobs) == 2
    elbos = [json.loads((job / "metrics.json").read_text())["val/elbo"] for job in jobs]
    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert results["best_value"] == pytest.approx(max(elbos))  # direction: maximize
    assert set(results["best_params"]) == {
        "model.optimizer.lr",
        "model.objective.beta",
        "model.latent_dim",
    }
    # each trial ran the values Optuna sampled for it
    best_job = jobs[elbos.index(max(elbos))]
    resolved = OmegaConf.load(best_job / ".hydra" / "resolved_config.yaml")
    assert resolved.model.latent_dim == results["best_params"]["model.latent_dim"]
    best_beta = results["best_params"]["model.objective.beta"]
    assert resolved.model.objective.beta == pytest.approx(best_beta)


@pytest.mark.slow
def test_gan_optuna_trials_run_the_sampled_gan_settings(tmp_path):
    # val/fid needs the sample-quality metrics (slow on CPU): val/d_real stands in for it here
    args = ["hparams_search=gan_optuna", "hydra.sweeper.n_trials=2", "logger=csv", *TINY_RUN]
    check_ok(run_cli([*args, "optimized_metric=val/d_real"], tmp_path, timeout=240))
    (sweep_dir,) = sweep_dirs(tmp_path)
    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    values = []
    for job in job_dirs(sweep_dir):
        resolved = OmegaConf.load(job / ".hydra" / "resolved_config.yaml")
        assert resolved.model._target_ == "genlab.models.gan.GAN"
        values.append(json.loads((job / "metrics.json").read_text())["val/d_real"])
    assert len(values) == 2 and results["best_value"] == pytest.approx(min(values))


def compose_train(overrides: list[str], hydra_cfg: bool = False):
    """Compose conf/train.yaml with overrides (optionally with the ``hydra`` node)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("train", overrides=overrides, return_hydra_config=hydra_cfg)


@pytest.mark.parametrize("search", ["vae_optuna", "gan_optuna"])
def test_optuna_search_spaces_name_real_config_keys(search):
    if search == "gan_optuna" and not (Path(CONFIG_DIR) / "model" / "dcgan.yaml").is_file():
        pytest.skip("conf/model/dcgan.yaml is not there yet")
    cfg = compose_train([f"hparams_search={search}"], hydra_cfg=True)
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper")
    expected = {"vae_optuna": ("val/elbo", "maximize"), "gan_optuna": ("val/fid", "minimize")}
    assert (cfg.optimized_metric, sweeper.direction) == expected[search]
    for key in sweeper.params:
        assert OmegaConf.select(cfg, key, default="MISSING") != "MISSING", key
    if search == "gan_optuna":  # every loss the search may pick is one the GAN knows
        from genlab.objectives.gan_losses import LOSSES

        (loss,) = OverridesParser.create().parse_overrides([f"x={sweeper.params['model.loss']}"])
        assert set(loss.sweep_string_iterator()) <= set(LOSSES)


def test_submitit_slurm_launcher_composes_with_ddp_settings(tmp_path, monkeypatch):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    submitit = pytest.importorskip("submitit")
    overrides = [
        "hydra/launcher=slurm",
        "trainer=ddp_slurm",
        "trainer.num_nodes=2",
        "trainer.devices=4",
        "hydra.launcher.partition=gpu",
        "hydra.launcher.timeout_min=720",
        f"paths.log_dir={tmp_path}",
    ]
    cfg = compose_train(overrides, hydra_cfg=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert (launcher.nodes, launcher.tasks_per_node, launcher.gpus_per_node) == (2, 4, 4)
    assert (launcher.partition, launcher.timeout_min) == ("gpu", 720)
    assert launcher.additional_parameters.signal == "USR1@120"
    # Lightning's requeue: SLURMEnvironment with auto_requeue listens for SIGUSR1
    from hydra.utils import instantiate

    (env,) = [instantiate(p) for p in cfg.trainer.plugins]
    assert type(env).__name__ == "SLURMEnvironment" and env.auto_requeue
    assert env.requeue_signal.name == "SIGUSR1"

    # the sbatch file submitit would submit, built by the real launcher (submission stubbed)
    captured = {}

    def fake_map_array(executor, fn, *args):
        captured["executor"] = executor
        return []

    monkeypatch.setattr(submitit.AutoExecutor, "map_array", fake_map_array)
    # no srun on this machine: let submitit's SLURM executor believe it is on a cluster
    monkeypatch.setattr(submitit.SlurmExecutor, "affinity", classmethod(lambda cls: 1))
    HydraConfig.instance().set_config(cfg)
    try:
        slurm = instantiate(launcher)
        slurm.setup(hydra_context=None, task_function=lambda c: None, config=cfg)
        slurm.launch([["seed=0"]], initial_job_idx=0)
    finally:
        HydraConfig.instance().cfg = None
    text = captured["executor"]._executor._make_submission_file_text("python job.py", "uid")
    for flag in ("nodes=2", "ntasks-per-node=4", "gpus-per-node=4", "partition=gpu"):
        assert f"#SBATCH --{flag}\n" in text, flag
    assert "#SBATCH --time=720\n" in text and "#SBATCH --signal=USR1@120\n" in text


def test_wandb_sweep_example_runs_genlab_with_valid_hydra_overrides():
    sweep = yaml.safe_load((ROOT / "sweeps" / "wandb_sweep.yaml").read_text())
    assert sweep["command"] == ["${env}", "${program}", "${args_no_hyphens}"]
    assert sweep["program"] == "genlab-train"
    # what the agent passes: key=value for one draw of every parameter
    overrides = []
    for key, spec in sweep["parameters"].items():
        value = spec["values"][0] if "values" in spec else spec.get("value", spec.get("min"))
        overrides.append(f"{key}={value}")
    cfg = compose_train(overrides)
    assert (
        OmegaConf.select(cfg, "model.latent_dim")
        == sweep["parameters"]["model.latent_dim"]["values"][0]
    )
    assert sweep["metric"]["name"] == "val/elbo"


def test_swept_keys_and_tags():
    keys = swept_keys(["model=vae,beta_vae", "seed=3", "+x=range(2)"], {"lr": "interval(0, 1)"})
    assert keys == ["model", "x", "lr"]
    tags = swept_tags(keys, ["model=beta_vae", "seed=3", "+x=1", "lr=0.000123456789"])
    assert tags == ["model=beta_vae", "x=1", "lr=0.0001235"]
    assert swept_tags(["k"], [f"k={'a' * 100}"]) == ["k=" + "a" * 62]


def test_isolated_job_restores_environment_after_a_failing_job():
    before, threads = dict(os.environ), torch.get_num_threads()
    with pytest.raises(RuntimeError, match="boom"), isolated_job():
        os.environ["LOCAL_RANK"] = "1"  # what Lightning's DDP launcher leaves behind
        os.environ["MASTER_PORT"] = "12345"
        torch.set_num_threads(max(1, threads // 2))
        raise RuntimeError("boom")
    assert dict(os.environ) == before and torch.get_num_threads() == threads
