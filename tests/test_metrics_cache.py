"""Reference-feature cache: keyed files, verification, corruption, atomic writes, and the
callback's real-feature pass skipped on a hit (counted extractor calls)."""

from __future__ import annotations

import dataclasses
import logging
import os

import pytest
import pytorch_lightning as pl
import torch

from genlab.callbacks.metrics import SampleQualityCallback
from genlab.metrics.cache import ReferenceCache, ReferenceKey, fingerprint_images
from genlab.metrics.extractors import DigitsClassifierExtractor
from helpers.metrics_fakes import TinyGenerator, TinyImageData

KEY = ReferenceKey("digits", "train", (1, 28, 28), "digits_classifier", "abc123", 4, "f00d")


def test_every_key_field_changes_the_file_name():
    names = {KEY.filename()}
    changes = dict(
        dataset="mnist", split="val", resolution=(1, 32, 32), extractor="inception",
        weights_hash="def456", num_samples=5, data_fingerprint="beef", metrics_version="2",
    )  # fmt: skip
    for field, value in changes.items():
        names.add(dataclasses.replace(KEY, **{field: value}).filename())
    assert len(names) == len(changes) + 1
    assert KEY.filename().startswith("digits-train-1x28x28-digits_classifier-n4-")


def test_round_trip_and_no_temporary_files_left(tmp_path):
    cache = ReferenceCache(tmp_path / "c")
    assert cache.load(KEY) is None
    features = torch.randn(4, 7)
    path = cache.save(KEY, features)
    torch.testing.assert_close(cache.load(KEY), features)
    assert os.listdir(path.parent) == [path.name]
    assert torch.load(path)["key"] == KEY.as_dict()


def test_corrupt_file_is_reported_and_recomputed(tmp_path, caplog):
    cache = ReferenceCache(tmp_path)
    cache.path(KEY).write_bytes(b"\x00 truncated by a killed job")
    calls = []

    def compute():
        calls.append(1)
        return torch.ones(4, 3)

    with caplog.at_level(logging.WARNING):
        features, hit = cache.get_or_compute(KEY, compute)
    assert (
        not hit
        and calls == [1]
        and "corrupt" in caplog.text
        and str(cache.path(KEY)) in caplog.text
    )
    features, hit = cache.get_or_compute(KEY, compute)
    assert hit and calls == [1] and torch.equal(features, torch.ones(4, 3))


def test_file_holding_another_key_is_not_trusted(tmp_path, caplog):
    cache = ReferenceCache(tmp_path)
    other = dataclasses.replace(KEY, weights_hash="zzz")
    torch.save({"key": other.as_dict(), "features": torch.zeros(4, 3)}, cache.path(KEY))
    with caplog.at_level(logging.WARNING):
        assert cache.load(KEY) is None
    assert "expected" in caplog.text


def test_failed_write_leaves_previous_entry_intact(tmp_path, monkeypatch):
    cache = ReferenceCache(tmp_path)
    cache.save(KEY, torch.ones(4, 2))

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        cache.save(KEY, torch.zeros(4, 2))
    monkeypatch.undo()
    assert torch.equal(cache.load(KEY), torch.ones(4, 2))
    assert os.listdir(tmp_path) == [cache.path(KEY).name]


def test_fingerprint_depends_on_pixels_and_shape():
    x = torch.zeros(2, 1, 4, 4, dtype=torch.uint8)
    y = x.clone()
    y[0, 0, 0, 0] = 1
    assert fingerprint_images(x) != fingerprint_images(y)
    assert fingerprint_images(x) != fingerprint_images(x.view(2, 1, 2, 8))


@pytest.fixture
def count_extractions(monkeypatch):
    """Record the batch size of every digits-classifier extraction."""
    calls: list[int] = []
    original = DigitsClassifierExtractor._extract

    def counting(self, images):
        calls.append(len(images))
        return original(self, images)

    monkeypatch.setattr(DigitsClassifierExtractor, "_extract", counting)
    return calls


class HistoryCallback(SampleQualityCallback):
    """Keeps every evaluation's results."""

    def evaluate(self, trainer, pl_module, stage):
        results = super().evaluate(trainer, pl_module, stage)
        self.history = [*getattr(self, "history", []), results]
        return results


def run_fit(cache_dir, epochs: int, **overrides) -> HistoryCallback:
    settings = dict(
        num_fake=30, num_real=40, batch_size=10, extractor="digits_classifier", kid_subsets=5
    )
    callback = HistoryCallback(cache_dir=str(cache_dir), **{**settings, **overrides})
    trainer = pl.Trainer(
        max_epochs=epochs, limit_train_batches=1, limit_val_batches=1, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, callbacks=[callback],
    )  # fmt: skip
    trainer.fit(TinyGenerator(size=28, lr=0.0), datamodule=TinyImageData(size=28))
    return callback


def test_cache_hit_skips_real_feature_pass(tmp_path, count_extractions):
    first = run_fit(tmp_path, epochs=2)  # lr=0: the model and its noise are the same each epoch
    # epoch 0: 3 fake + 4 real batches (miss, stored); epoch 1: 3 fake batches only (hit)
    assert count_extractions == [10] * 7 + [10] * 3
    assert len(list(tmp_path.glob("*.pt"))) == 1
    miss, hit = first.history
    assert hit == pytest.approx(miss, rel=1e-9)  # cached features give the same scores
    count_extractions.clear()
    run_fit(tmp_path, epochs=1)  # a new run of a sweep: hit from its first evaluation
    assert count_extractions == [10] * 3


@pytest.mark.parametrize("change", [{"num_real": 35}, {"reference_split": "val"}])
def test_changed_key_misses_and_writes_a_new_entry(tmp_path, count_extractions, change):
    run_fit(tmp_path, epochs=1)
    count_extractions.clear()
    run_fit(tmp_path, epochs=1, **change)
    assert len(count_extractions) > 3  # the real-feature pass ran again
    assert len(list(tmp_path.glob("*.pt"))) == 2
