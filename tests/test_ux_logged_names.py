"""Issue 20 item 5: one logged name per quantity. A VAE's or VQ-VAE's objective terms appear
once each, as ``train/<name>``, ``val/<name>``, ``test/<name>``, never as Lightning's
``<name>_step`` / ``<name>_epoch`` twins (the VQ-VAE logged ``train/bpd``, ``train/bpd_epoch``
and ``train/bpd_step``), in the CSV history and in the offline W&B run."""

from __future__ import annotations

import csv
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from genlab.models.step_logging import TermLogger, log_many
from genlab.train import train
from helpers.config import TINY, run_cli
from helpers.hydra_runtime import hydra_job
from helpers.runs import check_ok, wandb_runs

STAGES = ("train/", "val/", "test/")
TWINS = ("_step", "_epoch")
FAST = [  # one short epoch, CSV only, no images or sample metrics: just the term logging
    *TINY,
    "trainer.max_epochs=1",
    "callbacks=none",
    "metrics=none",
    "logger=csv",
    "print_config=false",
]
VQVAE_TINY = ["model.encoder.hidden=16", "model.encoder.res_hidden=8"]


def twin_names(keys) -> list[str]:
    """The logged metric keys that carry a Lightning ``_step``/``_epoch`` suffix."""
    return sorted(k for k in keys if k.startswith(STAGES) and k.endswith(TWINS))


def csv_columns(run: Path) -> list[str]:
    """The column names of the run's CSV history."""
    with open(run / "csv" / "metrics.csv") as f:
        return next(csv.reader(f))


def test_twin_names_catches_lightning_suffixes():
    keys = ["train/bpd", "train/bpd_step", "train/bpd_epoch", "epoch", "val/bpd", "step"]
    assert twin_names(keys) == ["train/bpd_epoch", "train/bpd_step"]


class RecordingModule:
    """What TermLogger needs of a LightningModule: ``log``/``log_dict`` (recorded), a trainer
    whose every step is written (``log_every_n_steps=1``), one rank, and a logger whose
    ``log_metrics`` keys (training steps go there directly, ``log_many``) are recorded too."""

    def __init__(self) -> None:
        epoch_loop = SimpleNamespace(_batches_that_stepped=0)
        self.logged: list[str] = []
        logger = SimpleNamespace(
            log_metrics=lambda metrics, step: self.logged.extend(k for k in metrics if k != "epoch")
        )
        self.trainer = SimpleNamespace(
            fit_loop=SimpleNamespace(epoch_loop=epoch_loop),
            log_every_n_steps=1,
            should_stop=False,
            world_size=1,
            callback_metrics={},
            sanity_checking=False,
            is_global_zero=True,
            loggers=[logger],
            current_epoch=0,
        )

    def log(self, name, value, **kwargs) -> None:
        self.logged.append(name)

    def log_dict(self, values, **kwargs) -> None:
        self.logged.extend(values)


def test_term_logger_logs_each_term_once_per_stage():
    module = RecordingModule()
    terms_log = TermLogger(module, prog_bar="bpd")
    terms = {"loss": torch.tensor(2.0), "bpd": torch.tensor(0.5), "recon": torch.tensor(1.0)}
    for _ in range(3):
        terms_log.train_step(terms, batch_size=4)
        module.trainer.fit_loop.epoch_loop._batches_that_stepped += 1
    terms_log.train_epoch_end()
    for stage in ("val", "test"):
        terms_log.eval_step(stage, terms, batch_size=4)
        terms_log.eval_epoch_end(stage)
    assert twin_names(module.logged) == []
    assert set(module.logged) == {f"{s}{k}" for s in STAGES for k in terms}
    assert module.logged.count("val/bpd") == 1 and module.logged.count("train/bpd") == 3


class RecordingLogger:
    """A logger that records its ``log_metrics`` calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict, int]] = []

    def log_metrics(self, metrics, step) -> None:
        self.calls.append((dict(metrics), step))


@pytest.mark.parametrize("sanity", [False, True])
def test_log_many_sends_one_call_per_logger_and_fills_callback_metrics(sanity):
    loggers = [RecordingLogger(), RecordingLogger()]
    epoch_loop = SimpleNamespace(_batches_that_stepped=42)
    trainer = SimpleNamespace(
        callback_metrics={},
        sanity_checking=sanity,
        is_global_zero=True,
        loggers=loggers,
        fit_loop=SimpleNamespace(epoch_loop=epoch_loop),
        current_epoch=3,
    )
    kl = torch.tensor([0.5, 2.0, 0.0], dtype=torch.float64)
    log_many(SimpleNamespace(trainer=trainer), {f"val/kl_dim/{i:02d}": kl[i] for i in range(3)})
    assert set(trainer.callback_metrics) == {"val/kl_dim/00", "val/kl_dim/01", "val/kl_dim/02"}
    assert float(trainer.callback_metrics["val/kl_dim/01"]) == 2.0
    want = (
        []
        if sanity
        else [({"val/kl_dim/00": 0.5, "val/kl_dim/01": 2.0, "val/kl_dim/02": 0.0, "epoch": 3}, 42)]
    )
    assert [logger.calls for logger in loggers] == [want, want]  # nothing in the sanity check


@pytest.mark.slow  # in-process tiny fit + test: 11-34 s each on the shared machine (load 13)
@pytest.mark.parametrize(
    ("model", "extra", "terms"),
    [
        ("vae", [], ("loss", "elbo", "bpd", "kl", "recon")),
        ("vqvae", VQVAE_TINY, ("loss", "bpd", "recon_bpd", "perplexity", "commitment")),
    ],
)
def test_each_term_is_logged_under_one_name(tmp_path, model, extra, terms):
    with hydra_job([f"model={model}", *extra, *FAST], tmp_path) as cfg:
        metrics = train(cfg)
    columns = csv_columns(tmp_path / "run")
    assert twin_names(columns) == [], columns
    assert twin_names(metrics) == [], sorted(metrics)
    for name in terms:
        for stage in STAGES:
            assert f"{stage}{name}" in columns, (f"{stage}{name}", columns)
    if model == "vae":  # KL per dimension: written once per validation (genlab's log_many)
        kl_keys = [f"val/kl_dim/{i:02d}" for i in range(cfg.model.latent_dim)]
        assert set(kl_keys) <= set(columns) and set(kl_keys) <= set(metrics)


@pytest.mark.slow  # genlab-train model=vqvae debug=fast with W&B offline: ~30-90 s here
def test_vqvae_debug_fast_logs_train_bpd_once_in_csv_and_wandb(tmp_path):
    args = ["model=vqvae", "debug=fast", "logger=many", "print_config=false"]
    proc = run_cli(args, tmp_path)
    check_ok(proc)
    (run,) = (tmp_path / "outputs" / "debug" / "runs").iterdir()
    columns = csv_columns(run)
    assert "train/bpd" in columns and twin_names(columns) == [], columns
    (logged,) = wandb_runs(run)
    keys = {k for row in logged.history for k in row} | set(logged.summary)
    assert "train/bpd" in keys and twin_names(keys) == [], sorted(keys)
