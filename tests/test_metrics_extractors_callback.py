"""metrics.extractors: every metric per extractor from one generation pass (same generated
images: the primary suite's values equal a single-extractor run), reference features cached per
extractor, and the metrics.test overrides (the metrics=fast preset) recorded at test."""

from __future__ import annotations

import math

import pytest
import pytorch_lightning as pl

from genlab.callbacks.metrics import SampleQualityCallback
from helpers.metrics_fakes import TinyGenerator, TinyImageData
from helpers.vit import save_tiny_dino

SMALL = dict(num_fake=24, num_real=32, batch_size=12, kid_subsets=5, seed=4)


def run(callback, tmp_path, test: bool = False) -> pl.Trainer:
    trainer = pl.Trainer(
        max_epochs=1, limit_train_batches=1, limit_val_batches=1, limit_test_batches=1,
        enable_checkpointing=False, enable_progress_bar=False, callbacks=[callback],
        logger=False, default_root_dir=tmp_path,
    )  # fmt: skip
    pl.seed_everything(0)  # the same model in every run; validate: no training step
    model, data = TinyGenerator(size=28), TinyImageData(size=28)
    trainer.validate(model, datamodule=data)
    if test:
        trainer.test(model, datamodule=data)
    return trainer


def test_two_extractors_one_pass(tmp_path):
    weights = {"dinov2_tiny": str(save_tiny_dino(tmp_path / "dino.pt"))}
    metrics = ["fid", "is", "kid", "cmmd"]
    both = SampleQualityCallback(
        **SMALL, metrics=metrics, extractors=["digits_classifier", "dinov2_tiny"],
        extractor_weights=weights, cache_dir=str(tmp_path / "cache"),
    )  # fmt: skip
    run(both, tmp_path)
    alone = SampleQualityCallback(**SMALL, metrics=metrics, extractor="digits_classifier")
    run(alone, tmp_path)
    got = both.last_results
    # the primary extractor's values are those of a run with it alone (same seed, same images)
    for key, value in alone.last_results.items():
        assert got[key] == pytest.approx(value, rel=1e-9), key
    extra = {"val/fid_dinov2_tiny", "val/kid_mean_dinov2_tiny", "val/cmmd_dinov2_tiny"}
    assert extra <= set(got) and all(math.isfinite(got[k]) for k in extra)
    assert "val/is_mean_dinov2_tiny" not in got  # no class logits: skipped and recorded
    record = both.protocol["extractors"]["dinov2_tiny"]
    assert record["skipped"] == ["is"] and record["resize_mode"] == "dgm_eval"
    assert record["input_size"] == 224 and len(record["weights_hash"]) == 12
    assert set(got) | {"val/fid_best"} == {k for k in both.declared_keys() if k.startswith("val/")}
    assert len(list((tmp_path / "cache").glob("*dinov2_tiny*.pt"))) == 1  # cached per extractor
    assert len(list((tmp_path / "cache").glob("*digits_classifier*.pt"))) == 1


def test_fast_preset_tracks_cheaply_and_evaluates_fully_at_test(tmp_path):
    callback = SampleQualityCallback(
        **{**SMALL, "num_fake": 12}, extractor="digits_classifier", metrics=["fid"],
        test={"num_fake": 24, "metrics": ["fid", "kid", "prdc"]},
    )  # fmt: skip
    trainer = run(callback, tmp_path)
    assert set(callback.last_results) == {"val/fid"}
    assert callback.protocol["num_fake"] == 12
    trainer.test(trainer.lightning_module, datamodule=trainer.datamodule)  # fitted model
    assert {"test/fid", "test/kid_mean", "test/density"} <= set(callback.last_results)
    assert callback.protocol["num_fake"] == 24 and "metrics.test" in callback.protocol["evaluation"]
    with pytest.raises(ValueError, match="metrics.test has unknown keys"):
        SampleQualityCallback(**SMALL, test={"num_fakes": 3})
