"""The sample-metric pipeline through the real CLI (genlab-train in a subprocess): a metric
defined outside ``src/`` (tests/helpers/outside_metric.py, named in ``metrics.modules``), and
``optimized_metric`` / checkpoint monitoring on a label metric of a conditional GAN.

Slow (each run is a tiny 1-epoch training, 20-60 s on the shared 2-core CPU):
``pytest -m slow tests/test_metrics_cli.py``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from helpers.config import run_cli

TESTS = Path(__file__).resolve().parent
TINY = [
    "trainer=cpu", "trainer.max_epochs=1", "trainer.limit_train_batches=3",
    "trainer.limit_val_batches=1", "trainer.limit_test_batches=1", "trainer.log_every_n_steps=1",
    "trainer.enable_progress_bar=false", "data.batch_size=32", "data.image_size=16",
    "model.generator.base_channels=8", "model.discriminator.base_channels=8", "logger=csv",
    "metrics.every_n_epochs=1", "metrics.num_fake=40", "metrics.num_real=40",
    "metrics.batch_size=20", "metrics.cache_dir=null",
]  # fmt: skip

pytestmark = pytest.mark.slow


def only_run(tmp_path: Path) -> Path:
    (run,) = (tmp_path / "outputs" / "train" / "runs").iterdir()
    return run


def csv_columns(run: Path) -> set[str]:
    with open(run / "csv" / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    return {key for row in rows for key, value in row.items() if value not in ("", None)}


def test_a_metric_defined_outside_src_runs_through_the_cli(tmp_path):
    args = [
        "model=dcgan", *TINY, "metrics.modules=[helpers.outside_metric]",
        "metrics.metrics=[fid,feature_mean_gap]",
    ]  # fmt: skip
    proc = run_cli(args, tmp_path, extra_pythonpath=[str(TESTS)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    columns = csv_columns(only_run(tmp_path))
    assert {"val/feature_mean_gap", "test/feature_mean_gap", "val/fid"} <= columns


def test_optimized_metric_and_checkpoint_monitor_on_class_acc(tmp_path):
    args = [
        "model=dcgan_cond", *TINY, "optimized_metric=val/class_acc",
        "callbacks.model_checkpoint.monitor=val/class_acc", "callbacks.model_checkpoint.mode=max",
    ]  # fmt: skip
    proc = run_cli(args, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = only_run(tmp_path)
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0.0 <= metrics["val/class_acc"] <= 1.0 and "test/class_acc" in metrics
    assert [p.name for p in (run / "checkpoints").glob("epoch_*.ckpt")] == ["epoch_000.ckpt"]


def test_a_misspelt_optimized_metric_fails_after_one_epoch_naming_the_keys(tmp_path):
    args = ["model=dcgan_cond", *TINY, "optimized_metric=val/class_accuracy"]
    proc = run_cli(args, tmp_path)
    assert proc.returncode != 0
    assert "optimized_metric=val/class_accuracy is never logged" in proc.stderr
    assert "Did you mean optimized_metric=val/class_acc?" in proc.stderr
    assert "val/fid_class_mean" in proc.stderr  # declared label metric keys are listed
