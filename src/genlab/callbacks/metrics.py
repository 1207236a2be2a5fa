"""Sample-quality metrics during training and at test: FID, IS, KID, precision/recall.

Contracts it relies on (every genlab generative module and image datamodule honours them):

- ``pl_module.sample_noise(num, generator=None) -> Tensor`` on the module's device, and
  ``pl_module.generate(z) -> Tensor`` float (N, C, H, W) images in [0, 1];
- ``trainer.datamodule.real_images(split, num) -> Tensor`` float (N, C, H, W) in [0, 1] and
  ``trainer.datamodule.name`` (the dataset name used in cache keys).

With DDP, each rank generates its contiguous share of ``num_fake`` images from a rank-specific
seed and extracts its share of the real images; the metric states are synced in ``compute()``,
which runs on every rank, so every rank logs the same values (``sync_dist=False``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.trainer.states import TrainerFn
from torchmetrics.utilities.distributed import gather_all_tensors

from genlab.metrics.cache import ReferenceCache, ReferenceKey, fingerprint_images
from genlab.metrics.collection import METRICS, SampleQualityMetrics, validate_metric_names
from genlab.metrics.extractors import EXTRACTORS, ExtractorOutput, build_extractor, images_to_uint8
from genlab.metrics.protocol import protocol_record

log = logging.getLogger(__name__)

#: ``extractor: auto`` picks by ``datamodule.name``; datasets not listed get ``inception``.
AUTO_EXTRACTOR = {"digits": "digits_classifier"}
RANK_SEED_STRIDE = 1_000_003


def shard(num: int, rank: int, world_size: int) -> slice:
    """Return rank's contiguous slice of ``range(num)`` (sizes differ by at most one)."""
    base, extra = divmod(num, world_size)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (1 if rank < extra else 0))


class SampleQualityCallback(pl.Callback):
    """Evaluate FID/IS/KID/PR every ``every_n_epochs`` validation epochs and at test end.

    Logs ``{val,test}/fid``, ``/is_mean``, ``/is_std``, ``/kid_mean``, ``/kid_std``,
    ``/precision``, ``/recall``; keeps the best validation FID (``val/fid_best``, also in the W&B
    summary) and writes the protocol under ``metrics_protocol`` (``metrics_protocol_test`` at
    test) in the W&B config and summary.
    After an evaluation, ``last_results`` and ``protocol`` hold the values and the protocol.

    Args:
        every_n_epochs: evaluate after every N-th validation epoch (never in the sanity check).
        num_fake: generated images per evaluation (split over DDP ranks).
        num_real: reference images (capped at the split's size, with a warning).
        batch_size: images per generator call and per extractor call.
        extractor: ``auto`` (digits -> digits_classifier, else inception), ``inception`` or
            ``digits_classifier``.
        inception_weights: local InceptionV3 weights file (else $GENLAB_INCEPTION_WEIGHTS or a
            download by torch-fidelity).
        reference_split: split of the real images (train | val | test).
        test_reference_split: split used at test end (None: ``reference_split``).
        cache_dir: folder of the reference-feature cache (None: no cache).
        metrics: subset of fid, is, kid, pr.
        seed: seed of the noise (rank r uses seed + r * 1000003) and of IS/KID's subsets.
        on_test: also evaluate at the end of ``trainer.test``.
        is_splits, kid_subsets, kid_subset_size, pr_k: metric settings (torch-fidelity's).
    """

    def __init__(
        self,
        every_n_epochs: int = 1,
        num_fake: int = 1000,
        num_real: int = 1000,
        batch_size: int = 100,
        extractor: str = "auto",
        inception_weights: str | None = None,
        reference_split: str = "train",
        test_reference_split: str | None = None,
        cache_dir: str | None = None,
        metrics: Sequence[str] = METRICS,
        seed: int = 0,
        on_test: bool = True,
        is_splits: int = 10,
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        pr_k: int = 3,
    ) -> None:
        super().__init__()
        for key, value, low in (
            ("every_n_epochs", every_n_epochs, 1),
            ("num_fake", num_fake, 2),
            ("num_real", num_real, 2),
            ("batch_size", batch_size, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(
                    f"metrics.{key}={value!r} is invalid: expected an integer >= {low}"
                )
        if extractor not in ("auto", *EXTRACTORS):
            raise ValueError(
                f"metrics.extractor={extractor!r}; allowed: auto, {', '.join(EXTRACTORS)}"
            )
        self.metric_names = validate_metric_names(metrics)
        self.every_n_epochs, self.num_fake, self.num_real = every_n_epochs, num_fake, num_real
        self.batch_size, self.extractor_name = batch_size, extractor
        self.inception_weights = inception_weights
        self.reference_split = reference_split
        self.test_reference_split = test_reference_split or reference_split
        self.cache = ReferenceCache(cache_dir) if cache_dir else None
        self.seed, self.on_test = int(seed), on_test
        self.metric_kwargs = dict(
            is_splits=is_splits, kid_subsets=kid_subsets, kid_subset_size=kid_subset_size, pr_k=pr_k
        )
        self.suite: SampleQualityMetrics | None = None
        self.best_fid = math.inf
        self.last_results: dict[str, float] = {}
        self.protocol: dict[str, Any] = {}

    # ----- setup: fail before training when something is missing -----------------------
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Check the module and datamodule contracts and build the extractor (loads weights)."""
        for method in ("sample_noise", "generate"):
            if not callable(getattr(pl_module, method, None)):
                raise TypeError(
                    f"{type(pl_module).__name__} has no {method}(); sample-quality metrics need "
                    "sample_noise(num, generator) and generate(z). Use metrics=none for this model."
                )
        datamodule = trainer.datamodule
        if datamodule is None or not callable(getattr(datamodule, "real_images", None)):
            raise TypeError(
                "sample-quality metrics need trainer.datamodule.real_images(split, num); pass a "
                "genlab image datamodule to fit/test, or use metrics=none (e.g. 2D toy data)."
            )
        if self.num_fake < trainer.world_size:
            raise ValueError(f"metrics.num_fake={self.num_fake} < world size {trainer.world_size}")
        if self.suite is None:
            name = self.extractor_name
            if name == "auto":
                name = AUTO_EXTRACTOR.get(getattr(datamodule, "name", ""), "inception")
            extractor = build_extractor(name, self.inception_weights)
            self.suite = SampleQualityMetrics(
                extractor, self.metric_names, seed=self.seed, **self.metric_kwargs
            )

    # ----- hooks ---------------------------------------------------------------------------
    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Evaluate on every ``every_n_epochs``-th validation epoch of ``fit`` (not in the sanity
        check), and always in ``trainer.validate`` (e.g. ``genlab-eval split=val``)."""
        fitting = trainer.state.fn == TrainerFn.FITTING
        if trainer.sanity_checking or (
            fitting and (trainer.current_epoch + 1) % self.every_n_epochs
        ):
            return
        self.evaluate(trainer, pl_module, "val")

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Evaluate once at the end of testing (when ``on_test``)."""
        if self.on_test:
            self.evaluate(trainer, pl_module, "test")

    def state_dict(self) -> dict[str, Any]:
        """Checkpointed state: the best validation FID so far."""
        return {"best_fid": self.best_fid}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the best validation FID from a checkpoint."""
        self.best_fid = float(state_dict.get("best_fid", math.inf))

    # ----- evaluation ----------------------------------------------------------------------
    def evaluate(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str
    ) -> dict[str, float]:
        """Compute the metrics on every rank, log them as ``<stage>/<name>``; return them."""
        if self.suite is None:
            self.setup(trainer, pl_module, stage)
        suite = self.suite.to(pl_module.device)
        suite.reset()
        shape = self._add_fake(trainer, pl_module, suite)
        split = self.test_reference_split if stage == "test" else self.reference_split
        num_real = self._add_real(trainer, suite, split, shape)
        results = suite.compute()
        self.last_results = {f"{stage}/{k}": v for k, v in results.items()}
        for key, value in self.last_results.items():
            pl_module.log(key, value, sync_dist=False)
        self.protocol = protocol_record(
            suite.extractor,
            num_real,
            self.num_fake,
            split,
            self.seed,
            dataset=getattr(trainer.datamodule, "name", None),
            settings=suite.settings(),
        )
        data_protocol = getattr(trainer.datamodule, "protocol", None)
        if callable(data_protocol):
            self.protocol["data"] = data_protocol()
        if stage == "val" and "fid" in results:
            self.best_fid = min(self.best_fid, results["fid"])
            pl_module.log("val/fid_best", self.best_fid, sync_dist=False)
        self._write_wandb(trainer, stage)
        return self.last_results

    def _add_fake(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, suite: SampleQualityMetrics
    ) -> tuple[int, ...]:
        """Generate this rank's share of fake images into ``suite``; return their (C, H, W)."""
        part = shard(self.num_fake, trainer.global_rank, trainer.world_size)
        generator = torch.Generator().manual_seed(
            self.seed + RANK_SEED_STRIDE * trainer.global_rank
        )
        was_training = pl_module.training
        pl_module.eval()
        shape: tuple[int, ...] = ()
        try:
            with torch.no_grad():
                for start in range(part.start, part.stop, self.batch_size):
                    num = min(self.batch_size, part.stop - start)
                    images = pl_module.generate(pl_module.sample_noise(num, generator))
                    shape = tuple(images.shape[1:])
                    suite.update(images, real=False)
        finally:
            pl_module.train(was_training)
        return shape

    def _add_real(
        self, trainer: pl.Trainer, suite: SampleQualityMetrics, split: str, shape: tuple[int, ...]
    ) -> int:
        """Add this rank's share of the reference features (cached when possible); return N."""
        datamodule = trainer.datamodule
        num = self.num_real
        available = getattr(datamodule, f"num_{split}", None)
        if isinstance(available, int) and num > available:
            log.warning(
                "metrics.num_real=%d > %d images in the %s split; using %d",
                num,
                available,
                split,
                available,
            )
            num = available
        # grey reference images: FID compares with the data distribution, not a binarization of it
        real = images_to_uint8(datamodule.real_images(split, num, grey=True))
        if tuple(real.shape[1:]) != shape:
            raise ValueError(
                f"real images are {tuple(real.shape[1:])} but the model generates {shape}; "
                "the data resolution/channels must match the model's output"
            )
        key = ReferenceKey(
            dataset=str(getattr(datamodule, "name", "unknown")),
            split=split,
            resolution=tuple(real.shape[1:]),
            extractor=suite.extractor.name,
            weights_hash=suite.extractor.weights_hash,
            num_samples=len(real),
            data_fingerprint=fingerprint_images(real),
        )
        part = shard(len(real), trainer.global_rank, trainer.world_size)
        cached = self.cache.load(key) if self.cache is not None else None
        hit = trainer.strategy.reduce_boolean_decision(cached is not None, all=True)
        if hit:
            features = cached[part].to(suite.extractor.device)
        else:
            features = self._extract_real(trainer, suite, real[part], key)
        suite.update(ExtractorOutput(features, features.new_empty(len(features), 0)), real=True)
        return len(real)

    def _extract_real(
        self,
        trainer: pl.Trainer,
        suite: SampleQualityMetrics,
        real: torch.Tensor,
        key: ReferenceKey,
    ) -> torch.Tensor:
        """Extract features of this rank's real images; rank 0 stores the gathered set."""
        features = torch.cat(
            [suite.extract(batch).features for batch in real.split(self.batch_size)]
        )
        if self.cache is None:
            return features
        full = features
        if trainer.world_size > 1:
            full = torch.cat(gather_all_tensors(features))
        if trainer.is_global_zero:
            path = self.cache.save(key, full)
            log.info("metrics cache: stored reference features in %s", path)
        trainer.strategy.barrier("genlab_metrics_cache")
        return features

    def _write_wandb(self, trainer: pl.Trainer, stage: str) -> None:
        """Rank 0: protocol into the W&B config and summary (``metrics_protocol`` for val,
        ``metrics_protocol_test`` for test), best FID into the summary."""
        if not trainer.is_global_zero:
            return
        key = "metrics_protocol" if stage == "val" else f"metrics_protocol_{stage}"
        for logger in trainer.loggers:
            if not isinstance(logger, WandbLogger):
                continue
            run = logger.experiment
            run.config.update({key: self.protocol}, allow_val_change=True)
            run.summary[key] = self.protocol
            if math.isfinite(self.best_fid):
                run.summary["val/fid_best"] = self.best_fid
