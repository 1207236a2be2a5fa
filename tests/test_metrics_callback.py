"""SampleQualityCallback in a real Trainer: when it evaluates, what it logs, W&B summary and
config, the protocol record, and the errors raised before training on bad setups."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import WandbLogger

from genlab.callbacks.metrics import SampleQualityCallback
from genlab.metrics.extractors import (
    DigitsClassifierExtractor,
    InceptionExtractor,
)
from genlab.metrics.sampling import shard
from genlab.metrics.weights import ENV_VAR
from genlab.utils.wandb_utils import stage_protocol
from helpers.inception import save_random_inception_weights
from helpers.metrics_fakes import TinyGenerator, TinyImageData

KEYS = ("fid", "is_mean", "is_std", "kid_mean", "kid_std", "precision", "recall")
SMALL = dict(num_fake=24, num_real=32, batch_size=12, extractor="digits_classifier", kid_subsets=5)


def trainer_for(callback, epochs: int = 2, **kwargs) -> pl.Trainer:
    return pl.Trainer(
        max_epochs=epochs, limit_train_batches=1, limit_val_batches=1, limit_test_batches=1,
        enable_checkpointing=False, enable_progress_bar=False, callbacks=[callback],
        **{"logger": False, **kwargs},
    )  # fmt: skip


def test_logs_val_and_test_metrics(tmp_path):
    callback = SampleQualityCallback(**SMALL)
    trainer = trainer_for(callback, default_root_dir=tmp_path)
    model, data = TinyGenerator(size=28), TinyImageData(size=28)
    trainer.fit(model, datamodule=data)
    metrics = trainer.callback_metrics
    for key in KEYS:
        assert math.isfinite(float(metrics[f"val/{key}"])), key
    assert float(metrics["val/fid_best"]) == pytest.approx(callback.best_fid, rel=1e-6)
    assert callback.best_fid <= float(metrics["val/fid"]) * (1 + 1e-6)
    assert ("train", 32) in data.real_calls
    trainer.test(model, datamodule=data)
    assert set(callback.last_results) == {f"test/{k}" for k in KEYS}
    assert math.isfinite(float(trainer.callback_metrics["test/fid"]))


def test_every_n_epochs_and_no_sanity_check_evaluation(tmp_path):
    callback = SampleQualityCallback(every_n_epochs=2, on_test=False, **SMALL)
    trainer = trainer_for(callback, epochs=3, num_sanity_val_steps=1)
    model = TinyGenerator(size=28)
    trainer.fit(model, datamodule=TinyImageData(size=28))
    assert model.generate_calls - 3 == 2  # 3 training steps + one evaluation (epoch 2) of 2 batches


def test_validate_always_evaluates():
    callback = SampleQualityCallback(every_n_epochs=5, **SMALL)
    trainer = trainer_for(callback)
    trainer.validate(TinyGenerator(size=28), datamodule=TinyImageData(size=28))
    assert "val/fid" in callback.last_results


def test_wandb_summary_and_config_hold_best_fid_and_protocol(tmp_path):
    logger = WandbLogger(project="genlab-test", save_dir=str(tmp_path), offline=True)
    callback = SampleQualityCallback(seed=11, **SMALL)
    trainer_for(callback, epochs=2, logger=logger).fit(
        TinyGenerator(size=28), datamodule=TinyImageData(size=28)
    )
    run = logger.experiment
    assert run.summary["val/fid_best"] == pytest.approx(callback.best_fid)
    nested = run.config["metrics_protocol"]
    assert "metrics_protocol" not in run.summary.keys()  # noqa: SIM118 (Summary has no __contains__)
    protocol = stage_protocol(nested, "val")
    expected = {
        "extractor": "digits_classifier", "num_real": 32, "num_fake": 24,
        "reference_split": "train", "seed": 11, "dataset": "tiny",
        "weights_hash": DigitsClassifierExtractor().weights_hash,
    }  # fmt: skip
    assert {k: protocol[k] for k in expected} == expected
    assert "bilinear" in protocol["resize_mode"] and protocol["kid_subset_size"] == 24
    assert set(protocol["versions"]) == {"torch", "torch_fidelity", "torchmetrics", "genlab"}
    assert set(nested["by_stage"]) == {"val"}  # test's protocol is added by trainer.test only
    assert not any(key.startswith("metrics_protocol_") for key in run.config)
    run.finish()


def test_best_fid_survives_checkpoint_round_trip():
    callback = SampleQualityCallback(**SMALL)
    callback.best_fid = 3.5
    restored = SampleQualityCallback(**SMALL)
    restored.load_state_dict(callback.state_dict())
    assert restored.best_fid == 3.5


class NoSampler(pl.LightningModule):
    """A module without the sampling contract (e.g. a classifier)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Linear(1, 1)

    def training_step(self, batch, batch_idx):
        return None

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"metrics": ["fid", "fvd"]}, "choose from"),
        ({"extractor": "vgg"}, "metrics.extractor"),
        ({"num_fake": 1}, "metrics.num_fake"),
        ({"every_n_epochs": 0}, "metrics.every_n_epochs"),
    ],
)
def test_bad_settings_name_the_key(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SampleQualityCallback(**{**SMALL, **kwargs})


def test_contract_violations_fail_before_training():
    callback = SampleQualityCallback(**SMALL)
    with pytest.raises(TypeError, match="needs a model implementing.*GenerativeModel"):
        trainer_for(callback).fit(NoSampler(), datamodule=TinyImageData(size=28))
    plain = SimpleNamespace(datamodule=pl.LightningDataModule(), world_size=1)
    with pytest.raises(TypeError, match="real_images"):
        callback.setup(plain, TinyGenerator(), "fit")


def test_resolution_mismatch_and_out_of_range_images_are_explained():
    with pytest.raises(ValueError, match="model generates"):
        trainer_for(SampleQualityCallback(**SMALL)).fit(
            TinyGenerator(size=16), datamodule=TinyImageData(size=28)
        )

    class SignedOutput(TinyGenerator):
        def generate(self, z, labels=None):
            return super().generate(z) * 2 - 1

    with pytest.raises(ValueError, match="to_unit_range"):
        trainer_for(SampleQualityCallback(**SMALL)).fit(
            SignedOutput(size=28), datamodule=TinyImageData(size=28)
        )


def test_auto_extractor_picks_by_dataset(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(save_random_inception_weights(tmp_path / "w.pth")))
    digits, other = TinyImageData(), TinyImageData()
    digits.name = "digits"
    for data, expected in ((digits, DigitsClassifierExtractor), (other, InceptionExtractor)):
        callback = SampleQualityCallback(**{**SMALL, "extractor": "auto"})
        callback.setup(SimpleNamespace(datamodule=data, world_size=1), TinyGenerator(), "fit")
        assert isinstance(callback.suite.extractor, expected)


def test_shards_are_contiguous_and_cover_everything():
    for num, world in ((10, 3), (2, 2), (7, 1)):
        parts = [shard(num, r, world) for r in range(world)]
        assert [i for p in parts for i in range(p.start, p.stop)] == list(range(num))
        assert max(p.stop - p.start for p in parts) - min(p.stop - p.start for p in parts) <= 1


def test_protocol_is_usable_by_genlab_eval(tmp_path):
    """After trainer.test, ``last_results`` and ``protocol`` are what genlab-eval writes to JSON."""
    callback = SampleQualityCallback(**SMALL)
    trainer = trainer_for(callback)
    model = TinyGenerator(size=28)
    trainer.test(model, datamodule=TinyImageData(size=28))
    assert callback.protocol["num_fake"] == 24 and callback.protocol["reference_split"] == "train"
    assert callback.last_results["test/fid"] == pytest.approx(
        float(trainer.callback_metrics["test/fid"])
    )
    assert torch.is_tensor(trainer.callback_metrics["test/fid"])
