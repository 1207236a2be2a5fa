"""Issue 20 on one real (tiny) training run, in process with Hydra's runtime: scores, W&B
names and config keys, TensorBoard images and hparams, offline W&B files in the run folder."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from genlab.train import train
from helpers.config import TINY
from helpers.hydra_runtime import hydra_job
from helpers.wandb_offline import read_offline_run

OVERRIDES = [
    "model=iwae",
    "seed=1",
    "logger=[wandb,csv,tensorboard]",
    "logger.wandb.offline=true",
    *TINY,
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "model.test_iw_samples=4",
    "model.test_iw_chunk=4",
    "metrics.every_n_epochs=1",
    "metrics.num_fake=64",
    "metrics.num_real=64",
    "metrics.batch_size=64",
    "metrics.kid_subsets=4",
    "callbacks.sample_grid.every_n_epochs=1",
    "callbacks.reconstructions.every_n_epochs=1",
    "callbacks.samples_table.every_n_epochs=1",
    "print_config=false",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(run folder, metrics) of ``genlab-train model=iwae seed=1 logger=[wandb,csv,tb]``."""
    tmp = tmp_path_factory.mktemp("ux_run")
    with hydra_job(OVERRIDES, tmp) as cfg:
        metrics = train(cfg)
    return tmp / "run", metrics


@pytest.mark.slow  # one training run with metrics: ~15 s on the shared 2-core machine
def test_test_scores_use_the_test_split_and_differ_from_val(trained):
    run, metrics = trained
    for key in ("fid", "kid_mean"):
        assert metrics[f"test/{key}"] != metrics[f"val/{key}"], key  # was equal to every digit
    written = json.loads((run / "metrics.json").read_text())
    assert written["test/fid"] == metrics["test/fid"]


@pytest.mark.slow
def test_wandb_run_is_named_and_groupable_by_choices(trained):
    run, _ = trained
    (wandb_dir,) = (run / "wandb").glob("offline-run-*")
    logged = read_offline_run(wandb_dir)
    assert logged.name.startswith("iwae-seed1")  # was "train" for every run
    choices = logged.config["choices"]
    assert (choices["model"], choices["data"], choices["metrics"]) == ("iwae", "digits", "default")
    assert not [k for k in logged.config if k.startswith("metrics_protocol_")]
    protocol = logged.config["metrics_protocol"]
    splits = {stage: p["reference_split"] for stage, p in protocol["by_stage"].items()}
    assert splits == {"val": "train", "test": "test"}
    assert "toy2d" not in logged.config["callbacks"]  # does not apply to a VAE on digits
    assert "codebook_usage" not in logged.config["callbacks"]
    assert "sample_grid" in logged.config["callbacks"]
    assert any("lr" in row for row in logged.history)
    assert not any(k.startswith("lr-") for row in logged.history for k in row)


@pytest.mark.slow
def test_tensorboard_has_images_hparams_and_a_run_name(trained):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run, metrics = trained
    (logdir,) = (run / "tensorboard").iterdir()
    assert logdir.name.startswith("iwae-seed1")  # was "." (empty name and version)
    events = EventAccumulator(str(logdir), size_guidance={"images": 0, "tensors": 0})
    events.Reload()
    images = set(events.Tags()["images"])
    assert {"images/samples", "images/reconstructions", "images/interpolations"} <= images
    (sample,) = events.Images("images/samples")
    assert sample.width > 28 and sample.height > 28  # a grid of 28x28 digits
    hparams = events.PluginTagToContent("hparams")
    assert {"_hparams_/experiment", "_hparams_/session_start_info"} <= set(hparams)
    from tensorboard.plugins.hparams import plugin_data_pb2

    start = plugin_data_pb2.HParamsPluginData.FromString(hparams["_hparams_/session_start_info"])
    assert start.session_start_info.hparams["choices.model"].string_value == "iwae"
    experiment = plugin_data_pb2.HParamsPluginData.FromString(hparams["_hparams_/experiment"])
    names = {m.name.tag for m in experiment.experiment.metric_infos}
    assert {"test/fid", "test/nll_iw"} <= names and set(metrics) >= names


def staged_files(wandb_file: Path) -> list[str]:
    """The local files an offline run's artifact records (W&B Tables) point to."""
    from wandb.proto import wandb_internal_pb2 as pb

    from helpers.wandb_offline import _raw_records

    paths = []
    for payload in _raw_records(wandb_file.read_bytes()):
        rec = pb.Record()
        rec.ParseFromString(payload)
        if rec.WhichOneof("record_type") == "artifact":
            paths += [entry.local_path for entry in rec.artifact.manifest.contents]
    return paths


@pytest.mark.slow
def test_a_copied_offline_run_folder_holds_its_tables_and_syncs(trained, tmp_path):
    run, _ = trained
    (offline,) = (run / "wandb").glob("offline-run-*")
    (wandb_file,) = offline.glob("*.wandb")
    staged = staged_files(wandb_file)
    assert staged, "the samples table was not logged"
    for path in staged:  # was $HOME/.local/share/wandb/artifacts/staging: lost on a copy
        assert Path(path).is_relative_to(run), path
    copy = tmp_path / "elsewhere"
    shutil.copytree(run, copy)
    for path in staged:
        assert (copy / Path(path).relative_to(run)).is_file(), path
    (copied,) = (copy / "wandb").glob("offline-run-*")
    out = subprocess.run(
        [sys.executable, "-m", "wandb", "sync", "--dry-run", str(copied)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0 and "Would sync 1 run" in out.stdout + out.stderr, out.stderr
