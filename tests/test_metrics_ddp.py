"""2-process DDP on CPU (gloo): metrics over images split across ranks equal the 1-process values.

The digits classifier is the extractor here (fast on CPU); the syncing under test (float64 sums
for FID, gathered features/logits for IS/KID/PR) does not depend on which extractor made them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from genlab.callbacks.metrics import SampleQualityCallback
from genlab.metrics.collection import SampleQualityMetrics
from genlab.metrics.extractors import DigitsClassifierExtractor, ExtractorOutput
from genlab.metrics.sampling import shard
from helpers.metrics_fakes import TinyConditionalGenerator, TinyLabelledData, smooth_images

pytestmark = pytest.mark.ddp

NUM_REAL, NUM_FAKE = 61, 59  # odd: the ranks get unequal shares


def image_sets() -> tuple[torch.Tensor, torch.Tensor]:
    return smooth_images(NUM_REAL, 1, 28, seed=20), smooth_images(
        NUM_FAKE, 1, 28, seed=21, gamma=2.0
    )


REAL_LABELS, FAKE_LABELS = torch.arange(NUM_REAL) % 10, (torch.arange(NUM_FAKE) * 7) % 10
METRICS = (
    "fid",
    "is",
    "kid",
    "pr",
    "prdc",
    "class_acc",
    "fid_class_mean",
    "fd",
    "fid_inf",
    "is_inf",
    "cmmd",
)


def scores(real, fake, real_labels=REAL_LABELS, fake_labels=FAKE_LABELS) -> dict[str, float]:
    """All metrics (label metrics too) from images, or from ExtractorOutputs."""
    suite = SampleQualityMetrics(
        DigitsClassifierExtractor(),
        METRICS,
        kid_subsets=20,
        seed=5,
        num_classes=10,
        per_class_min_samples=3,
    )
    # several updates per rank: lists are concatenated in order
    for chunk, labels in zip(split(real), real_labels.split(16), strict=True):
        suite.update(chunk, real=True, labels=labels)
    for chunk, labels in zip(split(fake), fake_labels.split(16), strict=True):
        suite.update(chunk, real=False, labels=labels)
    return suite.compute()


def split(data, size: int = 16):
    if isinstance(data, ExtractorOutput):
        return [
            ExtractorOutput(f, g)
            for f, g in zip(data.features.split(size), data.logits.split(size), strict=True)
        ]
    return data.split(size)


def take(data, part: slice):
    if isinstance(data, ExtractorOutput):
        return ExtractorOutput(data.features[part], data.logits[part])
    return data[part]


def _worker(rank: int, world_size: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size
    )
    try:
        images = image_sets()
        saved = torch.load(Path(out_dir) / "features.pt")  # extracted once by the parent
        features = tuple(ExtractorOutput(*pair) for pair in saved)
        results = {}
        for name, (real, fake) in (("images", images), ("features", features)):
            part_real, part_fake = (
                shard(NUM_REAL, rank, world_size),
                shard(NUM_FAKE, rank, world_size),
            )
            mine = (take(real, part_real), take(fake, part_fake))
            results[name] = scores(*mine, REAL_LABELS[part_real], FAKE_LABELS[part_fake])
        torch.save(results, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow  # 53 s on the shared 2-core machine under load ~10 (2026-12-02)
def test_two_rank_metrics_equal_one_process(tmp_path):
    real, fake = image_sets()
    extractor = DigitsClassifierExtractor()
    features = extractor(real), extractor(fake)
    torch.save([tuple(out) for out in features], tmp_path / "features.pt")
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    from_images, from_features = scores(real, fake), scores(*features)
    for rank in range(2):
        got = torch.load(tmp_path / f"rank{rank}.pt")
        assert set(got["images"]) == set(from_images) == set(got["features"])
        assert {"class_acc", "fid_class_mean"} <= set(from_images)
        for key, value in from_features.items():
            # same features: the DDP sync (float64 sums, rank-ordered gathers) is exact
            # except FID∞: its 6-sample subsets in 128-d give rank-deficient covariances whose
            # matrix square root turns the sums' other order (per rank) into ~1e-9 relative
            rel = 1e-7 if key == "fid_inf" else 1e-12
            assert got["features"][key] == pytest.approx(value, rel=rel, abs=1e-15), (rank, key)
        for key, value in from_images.items():
            # from images: float32 extraction in other batches differs in the last bits, which
            # KID's float32 kernel (torch-fidelity's arithmetic) amplifies to ~1e-6
            assert got["images"][key] == pytest.approx(value, rel=1e-5, abs=1e-9), (rank, key)


class RecordingCallback(SampleQualityCallback):
    """Saves each rank's results and its fake-sample count to files."""

    def __init__(self, out_dir: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.out_dir = out_dir

    def evaluate(self, trainer, pl_module, stage):
        results = super().evaluate(trainer, pl_module, stage)
        record = {
            "results": results,
            "fake_count": int(self.suite.fid.fake_count),
            "protocol": self.protocol,
        }
        name = f"{stage}-epoch{trainer.current_epoch}-rank{trainer.global_rank}.pt"
        torch.save(record, os.path.join(self.out_dir, name))
        return results


@pytest.mark.slow  # ~10 s: a whole CLI/DDP run; the default pass stays under 4 min
def test_callback_under_lightning_ddp_spawn(tmp_path):
    """compute() runs on every rank: both ranks log identical values (label metrics too: the
    requested and real labels are gathered states); each rank made its share of the images."""
    callback = RecordingCallback(
        str(tmp_path),
        num_fake=41,
        num_real=50,
        batch_size=16,
        extractor="digits_classifier",
        cache_dir=str(tmp_path / "cache"),
        kid_subsets=10,
        seed=3,
        per_class_min_samples=2,
    )
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=2,
        strategy="ddp_spawn",
        max_epochs=1,
        limit_train_batches=2,
        limit_val_batches=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        callbacks=[callback],
    )
    trainer.fit(TinyConditionalGenerator(size=28), datamodule=TinyLabelledData(size=28))
    ranks = [torch.load(tmp_path / f"val-epoch0-rank{r}.pt") for r in range(2)]
    assert ranks[0]["results"] == ranks[1]["results"]
    assert {"val/class_acc", "val/fid_class_mean"} <= set(ranks[0]["results"])
    assert sum(ranks[0]["protocol"]["conditional"]["count_per_class"]) == 41  # both ranks' labels
    assert [r["fake_count"] for r in ranks] == [21, 20]  # local shares (compute unsyncs after)
    assert ranks[0]["protocol"]["num_fake"] == 41 and ranks[0]["protocol"]["num_real"] == 50
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 1
