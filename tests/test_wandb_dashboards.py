"""W&B views that compare well: define_metric summaries, a Table of samples per evaluation,
checkpoints as artifacts (online; exercised here through W&B's offline mode) or a clear skip."""

from __future__ import annotations

import json

from pytorch_lightning.loggers import WandbLogger

from genlab.run.instantiate import instantiate_loggers
from genlab.train import train
from helpers.config import TINY, compose_config
from helpers.wandb_offline import _raw_records, read_offline_run

WANDB_RUN = [*TINY, "logger=wandb", "metrics=none", "model.test_iw_samples=10"]


def _records(path):
    from wandb.proto import wandb_internal_pb2 as pb

    for payload in _raw_records(path.read_bytes()):
        rec = pb.Record()
        rec.ParseFromString(payload)
        yield rec


def test_summaries_sample_table_and_checkpoint_artifacts(tmp_path):
    # logger.wandb.offline=false keeps Lightning's artifact path on; WANDB_MODE=offline (conftest)
    # makes wandb.init write the run, its table and its artifacts to the offline file
    overrides = [
        *WANDB_RUN,
        "callbacks.samples_table.every_n_epochs=1",
        "callbacks.samples_table.min_interval_s=0",  # every epoch, however fast (cadence.py)
        "logger.wandb.offline=false",
    ]
    cfg = compose_config(overrides, tmp_path)
    train(cfg)
    run_dir = next((tmp_path / "run").glob("wandb/offline-run-*"))
    wandb_file = next(run_dir.glob("*.wandb"))
    run = read_offline_run(wandb_file)
    # define_metric summaries: best values, not the last ones
    assert set(run.summary["val/elbo"]) == {"max"}
    assert set(run.summary["test/nll_iw"]) == {"min"}
    best = max(h["val/elbo"] for h in run.history if "val/elbo" in h)
    assert run.summary["val/elbo"]["max"] == best
    # one Table of samples per evaluation epoch (2 epochs), with its step and label columns
    tables = [h for h in run.history if "val/samples_table/path" in h]
    assert len(tables) == 2
    table = json.loads((run_dir / "files" / tables[-1]["val/samples_table/path"]).read_text())
    assert table["columns"] == ["epoch", "step", "label", "image"]
    assert len(table["data"]) == 16
    assert {row[0] for row in table["data"]} == {1}
    assert {row[1] for row in table["data"]} == {tables[-1]["trainer/global_step"]}
    assert {row[2] for row in table["data"]} == {None}  # unconditional model: no labels
    # checkpoints as artifacts with the monitored value as metadata
    records = [r for r in _records(wandb_file) if r.WhichOneof("record_type") == "artifact"]
    artifacts = [r.artifact for r in records if r.artifact.type == "model"]
    assert artifacts, "no checkpoint artifact was logged"
    metadata = [json.loads(a.metadata) for a in artifacts]
    assert any(m["original_filename"] == "last.ckpt" for m in metadata)
    assert all(m["ModelMonitorCheckpoint"]["monitor"] == "val/elbo" for m in metadata)
    assert any(m["score"] == best for m in metadata)


def test_offline_run_skips_checkpoint_artifacts_with_a_message(tmp_path, caplog):
    cfg = compose_config([*WANDB_RUN], tmp_path)  # offline: null -> offline (no login)
    assert cfg.logger.wandb.log_model is True
    with caplog.at_level("INFO"):
        (logger,) = instantiate_loggers(cfg.logger)
    try:
        assert isinstance(logger, WandbLogger)
        assert logger._log_model is False
        assert "not logged as W&B artifacts" in caplog.text
        assert f"{tmp_path / 'run'}/checkpoints" in caplog.text
    finally:
        logger.experiment.finish()


def test_sample_table_carries_the_labels_of_a_conditional_model(tmp_path):
    overrides = [*WANDB_RUN, "model=cvae", "callbacks.samples_table.every_n_epochs=2", "test=false"]
    train(compose_config(overrides, tmp_path))
    run_dir = next((tmp_path / "run").glob("wandb/offline-run-*"))
    run = read_offline_run(next(run_dir.glob("*.wandb")))
    (logged,) = [h for h in run.history if "val/samples_table/path" in h]
    table = json.loads((run_dir / "files" / logged["val/samples_table/path"]).read_text())
    labels = [row[2] for row in table["data"]]
    assert all(isinstance(y, int) and 0 <= y < 10 for y in labels) and len(set(labels)) > 1
