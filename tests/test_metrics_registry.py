"""One sample-metric pipeline: label metrics as registered metrics of the one generation pass,
metrics from modules named in config, and every metric key declared before it is computed."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import pytorch_lightning as pl
import torch

from genlab.callbacks.checkpoint import ModelMonitorCheckpoint
from genlab.callbacks.metrics import SampleQualityCallback
from genlab.callbacks.optimized_metric import declared_metric_keys
from genlab.metrics.collection import SampleQualityMetrics
from genlab.metrics.conditional import class_accuracy, per_class_fid
from genlab.metrics.extractors import DigitsClassifierExtractor, ExtractorOutput
from genlab.metrics.registry import METRICS, import_metric_modules
from helpers.metrics_fakes import TinyConditionalGenerator, TinyGenerator, TinyLabelledData

SMALL = dict(num_fake=40, num_real=50, batch_size=10, extractor="digits_classifier", kid_subsets=5)


def labelled_features(seed: int = 0, n_real: int = 60, n_fake: int = 50, dim: int = 128):
    """Random features/logits with labels; class k's features shifted by k (classes differ)."""
    gen = torch.Generator().manual_seed(seed)
    real_y, fake_y = torch.arange(n_real) % 3, torch.randint(0, 3, (n_fake,), generator=gen)
    real = torch.randn(n_real, dim, generator=gen) + real_y[:, None]
    fake = torch.randn(n_fake, dim, generator=gen) + 0.5 * fake_y[:, None]
    logits = torch.randn(n_fake, 10, generator=gen)
    return real, real_y, fake, fake_y, logits


def test_label_metrics_of_the_suite_equal_the_functions_on_the_same_states():
    real, real_y, fake, fake_y, logits = labelled_features()
    extractor = DigitsClassifierExtractor()
    suite = SampleQualityMetrics(
        extractor, ["fid", "class_acc", "fid_class_mean"], num_classes=10, per_class_min_samples=5
    )
    for part in (slice(0, 25), slice(25, None)):  # several updates: gathered lists in order
        suite.update(ExtractorOutput(real[part], real[part, :0]), real=True, labels=real_y[part])
        suite.update(ExtractorOutput(fake[part], logits[part]), real=False, labels=fake_y[part])
    got = suite.compute()
    acc = class_accuracy(logits, fake_y, 10)
    per_class = per_class_fid(real, real_y, fake, fake_y, 10, 5)
    assert got["class_acc"] == pytest.approx(acc["acc"], abs=1e-12)
    assert got["fid_class_mean"] == pytest.approx(per_class["fid_class_mean"], rel=1e-12)
    assert suite.details["class_acc"]["class_acc_per_class"][:3] == acc["acc_per_class"][:3]
    assert suite.details["fid_class_mean"]["fid_classes_computed"] == 3  # classes 0, 1, 2 only
    assert set(got) == {"fid", "class_acc", "fid_class_mean"} == set(suite.keys)


def test_label_metrics_without_labels_say_so():
    suite = SampleQualityMetrics(DigitsClassifierExtractor(), ["class_acc"], num_classes=10)
    real, _, fake, _, logits = labelled_features()
    suite.update(ExtractorOutput(fake, logits), real=False)
    with pytest.raises(ValueError, match="fake labels.*conditional model"):
        suite.compute()


def test_metric_from_a_module_named_in_config():
    callback = SampleQualityCallback(
        metrics=["fid", "feature_mean_gap"], modules=["helpers.outside_metric"], **SMALL
    )
    assert "feature_mean_gap" in METRICS and callback.metric_names == ("fid", "feature_mean_gap")
    with pytest.raises(ImportError, match="metrics.modules.*no_such_module"):
        import_metric_modules(["helpers.no_such_module"])
    with pytest.raises(ValueError, match="choose from.*metrics.modules"):
        SampleQualityCallback(metrics=["fid", "not_registered"], **SMALL)


def trainer_for(callback, **kwargs) -> pl.Trainer:
    return pl.Trainer(
        max_epochs=1, limit_train_batches=1, limit_val_batches=1, limit_test_batches=1,
        enable_checkpointing=False, enable_progress_bar=False, logger=False,
        callbacks=[callback], **kwargs,
    )  # fmt: skip


def test_conditional_run_scores_class_metrics_in_the_one_generation_pass():
    callback = SampleQualityCallback(per_class_min_samples=2, **SMALL)
    model = TinyConditionalGenerator(size=28)
    trainer = trainer_for(callback)
    trainer.validate(model, datamodule=TinyLabelledData(size=28, num=64))
    # one pass: num_fake / batch_size generator calls, no second pass for the label metrics
    assert model.generate_calls == SMALL["num_fake"] // SMALL["batch_size"]
    results = callback.last_results
    assert 0.0 <= results["val/class_acc"] <= 1.0 and math.isfinite(results["val/fid_class_mean"])
    cond = callback.protocol["conditional"]
    assert cond["labels"] == "uniform over 10" and sum(cond["count_per_class"]) == 40
    assert len(cond["fid_per_class"]) == 10 and cond["classifier"] == "digits_classifier"
    declared = declared_metric_keys(trainer)
    assert {"val/class_acc", "test/fid_class_mean", "val/fid_best", "val/kid_std"} <= declared


def test_label_metrics_on_an_unconditional_model_fail_at_setup():
    callback = SampleQualityCallback(metrics=["fid", "class_acc"], **SMALL)
    data = TinyLabelledData(size=28)
    with pytest.raises(ValueError, match="class_acc.*not class-conditional"):
        callback.setup(SimpleNamespace(datamodule=data, world_size=1), TinyGenerator(28), "fit")
    plain = SampleQualityCallback(**SMALL)  # conditional=true adds nothing for it
    plain.setup(SimpleNamespace(datamodule=data, world_size=1), TinyGenerator(28), "fit")
    assert "val/class_acc" not in plain.declared_keys() and "val/fid" in plain.declared_keys()


def test_checkpoint_monitor_on_a_sample_metric_skips_epochs_without_it(tmp_path):
    """metrics.every_n_epochs=2: epoch 0 has no val/class_acc; the declared key ranks nothing
    there (Lightning would raise), epoch 1 keeps the best checkpoint by it."""
    metrics = SampleQualityCallback(every_n_epochs=2, on_test=False, **SMALL)
    ckpt = ModelMonitorCheckpoint(
        monitor="val/class_acc", mode="max", dirpath=tmp_path, filename="epoch_{epoch:03d}",
        auto_insert_metric_name=False, save_last=True,
    )  # fmt: skip
    trainer = pl.Trainer(
        max_epochs=2, limit_train_batches=1, limit_val_batches=1, enable_progress_bar=False,
        logger=False, callbacks=[metrics, ckpt], num_sanity_val_steps=0,
    )  # fmt: skip
    trainer.fit(TinyConditionalGenerator(size=28), datamodule=TinyLabelledData(size=28))
    assert sorted(p.name for p in tmp_path.glob("*.ckpt")) == ["epoch_001.ckpt", "last.ckpt"]
    assert float(ckpt.best_model_score) == pytest.approx(metrics.last_results["val/class_acc"])
