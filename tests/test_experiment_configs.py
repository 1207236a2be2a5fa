"""Every experiment config composes and instantiates (data, model, callbacks, metrics), and each
paper config's metric protocol equals what its machine-readable ``paper`` header says."""

from __future__ import annotations

from pathlib import Path

import hydra
import pytest
import torch
from omegaconf import OmegaConf

from genlab.bench.schedules import BurdaSchedule
from genlab.run.instantiate import instantiate_callbacks, instantiate_metrics
from genlab.utils.config_dir import CONFIG_DIR
from helpers.config import compose_config

EXPERIMENTS = sorted(p.stem for p in (Path(CONFIG_DIR) / "experiment").glob("*.yaml"))
PAPERS = [
    e
    for e in EXPERIMENTS
    if "paper:" in (Path(CONFIG_DIR) / "experiment" / f"{e}.yaml").read_text()
]


def test_the_paper_configs_cover_references_md_rows():
    assert {"paper_burda_vae_mnist", "paper_burda_iwae_k5_mnist", "paper_burda_iwae_k50_mnist",
            "paper_dcgan_cifar10", "gan_sngan_cifar10", "paper_wgan_gp_cifar10",
            "gan_ring2d", "gan_grid2d", "paper_cond_sngan_cifar10"} <= set(PAPERS)  # fmt: skip


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_instantiates(tmp_path, experiment):
    cfg = compose_config([f"experiment={experiment}", "logger=none"], tmp_path)
    OmegaConf.resolve(cfg)
    datamodule = hydra.utils.instantiate(cfg.data)
    model = hydra.utils.instantiate(cfg.model)
    callbacks = instantiate_callbacks(cfg.callbacks) + instantiate_metrics(
        cfg.get("metrics"), datamodule
    )
    optimizers = model.configure_optimizers()
    assert callbacks and optimizers
    metrics = [c for c in callbacks if type(c).__name__ == "SampleQualityCallback"]
    if cfg.get("metrics") and len(getattr(datamodule, "data_shape", ())) == 3:
        assert metrics, f"{experiment}: metrics configured but no SampleQualityCallback"


@pytest.mark.parametrize("experiment", PAPERS)
def test_paper_header_protocol_matches_the_config(tmp_path, experiment):
    cfg = compose_config([f"experiment={experiment}"], tmp_path)
    paper = cfg.paper
    for field in ("title", "table", "target", "protocol", "gpu_hours"):
        assert field in paper, f"{experiment}: paper.{field} missing from its header"
    assert paper.target.metric and paper.protocol
    for key, wanted in paper.protocol.items():
        actual = OmegaConf.select(cfg, key, default="<missing>")
        actual = OmegaConf.to_container(actual) if OmegaConf.is_config(actual) else actual
        wanted = OmegaConf.to_container(wanted) if OmegaConf.is_config(wanted) else wanted
        assert actual == wanted, f"{experiment}: {key} is {actual}, its header says {wanted}"


def test_burda_schedule_is_the_papers():
    schedule = BurdaSchedule()
    assert schedule.total_epochs == 3280
    assert [schedule.stage(e) for e in (0, 1, 3, 4, 12, 13, 3279)] == [0, 1, 1, 2, 2, 3, 7]
    assert schedule(0) == 1.0
    assert schedule(3279) == pytest.approx(10 ** (-1.0))


def test_burda_config_builds_its_lambda_lr(tmp_path):
    cfg = compose_config(["experiment=paper_burda_iwae_k50_mnist"], tmp_path)
    model = hydra.utils.instantiate(cfg.model)
    sched = model.configure_optimizers()["lr_scheduler"]
    assert isinstance(sched, torch.optim.lr_scheduler.LambdaLR)
    for _ in range(4):  # epochs 0..3: stages 0, 1, 1, 2
        sched.optimizer.step()
        sched.step()
    assert sched.get_last_lr()[0] == pytest.approx(1e-3 * 10 ** (-2 / 7))
