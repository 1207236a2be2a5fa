"""Sample-quality metrics during training and at test: FID, IS, KID, precision/recall.

This module is the hook wiring; what is computed lives in ``genlab.metrics``: the model's
samples and the reference features in ``genlab.metrics.sampling``, the metrics in
``genlab.metrics.collection``. The model is used only through the declared contract
(``sample_noise``, ``sample_labels``, ``generate``), the datamodule through ``real_images`` and
``name``. With DDP the metric states are synced in ``compute()``, which runs on every rank, so
every rank logs the same values (``sync_dist=False``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.trainer.states import TrainerFn

from genlab.contract import require_generative
from genlab.metrics.cache import ReferenceCache
from genlab.metrics.collection import SampleQualityMetrics, validate_metric_names
from genlab.metrics.conditional import conditional_sample_metrics, real_labels
from genlab.metrics.extractors import EXTRACTORS, auto_extractor, build_extractor
from genlab.metrics.protocol import protocol_record
from genlab.metrics.sampling import add_generated, add_reference
from genlab.utils.wandb_utils import merge_protocol


class SampleQualityCallback(pl.Callback):
    """Evaluate FID/IS/KID/PR every ``every_n_epochs`` validation epochs and at test end.

    Logs ``{val,test}/fid``, ``/is_mean``, ``/is_std``, ``/kid_mean``, ``/kid_std``,
    ``/precision``, ``/recall``; keeps the best validation FID (``val/fid_best``, also in the W&B
    summary) and writes the protocol as one nested ``metrics_protocol`` entry of the W&B config
    (``genlab.utils.wandb_utils.merge_protocol``).
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
        conditional: for class-conditional models, also log ``<stage>/class_acc`` (accuracy
            of the extractor's classifier on samples for uniform requested labels, when its
            classes are the data's) and ``<stage>/fid_class_mean`` (per-class FID over the
            classes with >= ``per_class_min_samples`` real and fake images); per-class values
            go to the protocol record under ``conditional`` (see ``genlab.metrics.conditional``).
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
        metrics: Sequence[str] = ("fid", "is", "kid", "pr"),
        seed: int = 0,
        on_test: bool = True,
        is_splits: int = 10,
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        pr_k: int = 3,
        conditional: bool = True,
        per_class_min_samples: int = 100,
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
        self.conditional, self.per_class_min_samples = conditional, int(per_class_min_samples)
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
        require_generative(pl_module, "sample-quality metrics (metrics=default)")
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
                name = auto_extractor(getattr(datamodule, "name", None))
            extractor = build_extractor(name, inception_weights=self.inception_weights)
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
        model = require_generative(pl_module, "sample-quality metrics")
        rank, world = trainer.global_rank, trainer.world_size
        shape = add_generated(model, suite, self.num_fake, self.seed, self.batch_size, rank, world)
        split = self.test_reference_split if stage == "test" else self.reference_split
        num_real = add_reference(
            trainer, suite, split, self.num_real, shape, self.batch_size, self.cache
        )
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
        if self.conditional and model.conditional:
            self._conditional(trainer, pl_module, model, stage, split, num_real, suite.extractor)
        self._write_wandb(trainer, stage)
        return self.last_results

    def _conditional(self, trainer, pl_module, model, stage, split, num_real, extractor) -> None:
        """Class accuracy and per-class FID of a conditional model (its own sample pass, same
        seed on every rank, so every rank logs the same values); per-class lists -> protocol."""
        datamodule = trainer.datamodule
        was_training = pl_module.training
        pl_module.eval()
        try:
            result = conditional_sample_metrics(
                model,
                extractor,
                num=self.num_fake,
                seed=self.seed,
                real_images=datamodule.real_images(split, num_real, grey=True),
                real_labels=real_labels(datamodule, split, num_real),
                num_classes=model.num_classes,
                min_class_samples=self.per_class_min_samples,
                batch_size=self.batch_size,
            )
        finally:
            pl_module.train(was_training)
        for key in ("class_acc", "fid_class_mean"):
            value = result.get(key)
            if isinstance(value, float) and math.isfinite(value):
                self.last_results[f"{stage}/{key}"] = value
                pl_module.log(f"{stage}/{key}", value, sync_dist=False)
        self.protocol["conditional"] = {
            "classifier": extractor.name,
            "num_fake": self.num_fake,
            "num_real": num_real,
            **result,
        }

    def _write_wandb(self, trainer: pl.Trainer, stage: str) -> None:
        """Rank 0: protocol into the W&B config as ONE nested ``metrics_protocol`` entry (what
        val and test share once, what differs under ``by_stage``), best FID into the summary."""
        if not trainer.is_global_zero:
            return
        for logger in trainer.loggers:
            if not isinstance(logger, WandbLogger):
                continue
            run = logger.experiment
            nested = merge_protocol(run.config.get("metrics_protocol"), stage, self.protocol)
            run.config.update({"metrics_protocol": nested}, allow_val_change=True)
            if math.isfinite(self.best_fid):
                run.summary["val/fid_best"] = self.best_fid
