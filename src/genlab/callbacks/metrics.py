"""Sample-quality metrics during training and at test: FID, IS, KID, precision/recall, and any
registered metric (``genlab.metrics.registry``), all from one generation pass.

This module is the hook wiring; what is computed lives in ``genlab.metrics``: the model's
samples and the reference features in ``genlab.metrics.sampling``, the metrics in
``genlab.metrics.collection``. The model is used only through the declared contract
(``sample_noise``, ``sample_labels``, ``generate``), the datamodule through ``real_images`` and
``name``. With DDP the metric states are synced in ``compute()``, which runs on every rank, so
every rank logs the same values (``sync_dist=False``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.trainer.states import TrainerFn

from genlab.contract import require_generative
from genlab.metrics.cache import ReferenceCache
from genlab.metrics.collection import SampleQualityMetrics
from genlab.metrics.conditional import CONDITIONAL_METRICS
from genlab.metrics.context import MetricContext
from genlab.metrics.extractors import EXTRACTORS, auto_extractor, build_extractor
from genlab.metrics.multi import ExtractorSuites, as_mapping, usable_metrics
from genlab.metrics.protocol import conditional_record, protocol_record
from genlab.metrics.registry import (
    METRICS,
    import_metric_modules,
    metric_keys,
    split_context,
    validate_metric_names,
)
from genlab.metrics.sampling import add_generated, add_reference
from genlab.utils.ranges import Num, RangeError, check_ranges
from genlab.utils.wandb_utils import merge_protocol

log = logging.getLogger(__name__)


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
        metrics: registered metric names (fid, is, kid, pr, class_acc, fid_class_mean, mig,
            dci, and those of ``modules``). Context metrics (``needs=("context",)``: mig, dci)
            get a :class:`~genlab.metrics.context.MetricContext` (model, datamodule, split)
            instead of generated images; with only context metrics no extractor is built and
            nothing is generated.
        modules: dotted module names imported first, so the metrics and extractors they
            register (``register_metric``, ``register_extractor``) can be named; e.g. a metric
            defined outside genlab: ``metrics.modules=[my_pkg.my_metrics]``.
        options: settings of further metrics, read by them as ``suite.options[...]``.
        seed: seed of the noise (rank r uses seed + r * 1000003) and of IS/KID's subsets.
        on_test: also evaluate at the end of ``trainer.test``.
        conditional: for class-conditional models, add the label metrics ``class_acc``
            (accuracy of the extractor's classifier on the samples for their uniformly drawn
            requested labels, when its classes are the data's) and ``fid_class_mean`` (per-class
            FID over the classes with >= ``per_class_min_samples`` real and fake images) to the
            same generation pass; per-class values go to the protocol under ``conditional``.
        is_splits, kid_subsets, kid_subset_size, pr_k: metric settings (torch-fidelity's).
        extractors: several extractors over the same generated images (e.g. ``[inception,
            dinov2_vitb14]``); every metric per extractor, the first's keys unsuffixed, the
            others' as ``<key>_<extractor>`` (``genlab.metrics.multi``). None: ``[extractor]``.
        resize: ``metrics.resize`` for every extractor (``legacy_tf``, ``clean``, ``dgm_eval``;
            ``genlab.metrics.resize``); None: each extractor's default. In the protocol.
        extractor_weights: local weights file per extractor name (DINOv2, CLIP), e.g.
            ``{dinov2_vitl14: /data/dinov2_vitl14_pretrain.pth}``.
        test: overrides for the evaluation at test end (``metrics.fast``: cheap tracking during
            training, a full evaluation at test): any of ``num_fake``, ``num_real``,
            ``metrics``, ``extractors``; recorded in ``metrics_protocol_test``.
    """

    RANGES = {  # noqa: RUF012 - declared ranges (genlab.utils.ranges)
        "every_n_epochs": Num(integer=True, low=1),
        "num_fake": Num(integer=True, low=2),
        "num_real": Num(integer=True, low=2),
        "batch_size": Num(integer=True, low=1),
        "seed": Num(integer=True),
        "is_splits": Num(integer=True, low=1),
        "kid_subsets": Num(integer=True, low=1),
        "kid_subset_size": Num(integer=True, low=2),
        "pr_k": Num(integer=True, low=1),
        "per_class_min_samples": Num(integer=True, low=1),
    }

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
        modules: Sequence[str] = (),
        options: dict[str, Any] | None = None,
        extractors: Sequence[str] | None = None,
        resize: str | None = None,
        extractor_weights: dict[str, str] | None = None,
        test: dict[str, Any] | None = None,
    ) -> None:
        try:
            check_ranges(
                self,
                every_n_epochs=every_n_epochs,
                num_fake=num_fake,
                num_real=num_real,
                batch_size=batch_size,
                seed=seed,
                is_splits=is_splits,
                kid_subsets=kid_subsets,
                kid_subset_size=kid_subset_size,
                pr_k=pr_k,
                per_class_min_samples=per_class_min_samples,
            )
        except RangeError as err:  # built directly too: name the config key, metrics.<arg>
            err.args = (f"metrics.{err.arg}={err.value!r} is invalid: {err.expected}.",)
            raise
        super().__init__()
        import_metric_modules(modules)  # before any name is checked
        fewest = min(num_fake, num_real)
        if "is" in metrics and num_fake < 2 * is_splits:
            raise RangeError(
                f"metrics.num_fake={num_fake} is too few for the Inception Score's "
                f"metrics.is_splits={is_splits}: each split needs >= 2 samples; raise num_fake "
                f"to >= {2 * is_splits} or lower is_splits."
            )
        if "kid" in metrics and kid_subset_size > fewest:
            log.warning(
                f"metrics.kid_subset_size={kid_subset_size} > min(num_fake, num_real)={fewest}: "
                "KID uses subsets of the smaller size."
            )
        if "pr" in metrics and pr_k >= fewest:
            raise RangeError(
                f"metrics.pr_k={pr_k} needs more than k samples per set; min(num_fake, "
                f"num_real)={fewest}. Use pr_k < {fewest} (3 in Kynkaanniemi et al. 2019)."
            )
        self.extractor_names = tuple(extractors) if extractors else (extractor,)
        self.test_overrides = dict(test or {})
        unknown_test = set(self.test_overrides) - {"num_fake", "num_real", "metrics", "extractors"}
        if unknown_test:
            raise ValueError(
                f"metrics.test has unknown keys {sorted(unknown_test)}; allowed: num_fake, "
                "num_real, metrics, extractors"
            )
        for name in (*self.extractor_names, *self.test_overrides.get("extractors", ())):
            if name not in ("auto", *EXTRACTORS):
                raise ValueError(
                    f"metrics.extractor(s)={name!r}; allowed: auto, {', '.join(EXTRACTORS)}"
                )
        if self.test_overrides.get("metrics"):
            validate_metric_names(self.test_overrides["metrics"])
        self.resize, self.extractor_weights = resize, as_mapping(extractor_weights)
        #: image metrics (one generation pass) and context metrics (model + data)
        self.metric_names, self.context_names = split_context(validate_metric_names(metrics))
        self._ready = False
        self.every_n_epochs, self.num_fake, self.num_real = every_n_epochs, num_fake, num_real
        self.batch_size, self.extractor_name = batch_size, extractor
        self.inception_weights = inception_weights
        self.reference_split = reference_split
        self.test_reference_split = test_reference_split or reference_split
        self.cache = ReferenceCache(cache_dir) if cache_dir else None
        self.seed, self.on_test = int(seed), on_test
        self.conditional, self.per_class_min_samples = conditional, int(per_class_min_samples)
        self.metric_kwargs = dict(
            is_splits=is_splits,
            kid_subsets=kid_subsets,
            kid_subset_size=kid_subset_size,
            pr_k=pr_k,
            per_class_min_samples=int(per_class_min_samples),
            options=dict(options or {}),
            extractor_weights=self.extractor_weights,
        )
        self.suite: SampleQualityMetrics | None = None  #: the primary suite at val (or None)
        self.groups: dict[str, ExtractorSuites] = {}  #: per stage ("val", "test")
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
        model = require_generative(pl_module, "sample-quality metrics")
        if self.metric_names:
            self.metric_names = self.active_metrics(model.conditional)
        for stage_name in ("val", "test"):  # refuse a model or data a context metric cannot use
            for name in self._stage_names(stage_name)[1]:
                if METRICS[name].check is not None:
                    METRICS[name].check(self._context(trainer, model, stage_name))
        if not self._ready:
            self._ready = True
            dataset = getattr(datamodule, "name", None)
            built: dict[str, Any] = {}

            def group(names: Sequence[str], metrics: Sequence[str]) -> ExtractorSuites:
                resolved = [auto_extractor(dataset) if n == "auto" else n for n in names]
                for name in resolved:
                    if name not in built:
                        built[name] = build_extractor(
                            name,
                            inception_weights=self.inception_weights,
                            extractor_weights=self.extractor_weights,
                            resize=self.resize,
                        )
                return ExtractorSuites(
                    [built[n] for n in resolved],
                    metrics,
                    seed=self.seed,
                    num_classes=model.num_classes if model.conditional else 0,
                    **self.metric_kwargs,
                )

            if self.metric_names:
                self.groups["val"] = group(self.extractor_names, self.metric_names)
            test_metrics = self._stage_names("test")[0]
            if test_metrics and self.test_overrides.get("metrics"):
                test_metrics = self.active_metrics(model.conditional, test_metrics)
            test_names = self.test_overrides.get("extractors") or self.extractor_names
            own_test = self.test_overrides.get("metrics") or self.test_overrides.get("extractors")
            if test_metrics:
                self.groups["test"] = (
                    group(test_names, test_metrics)
                    if own_test or "val" not in self.groups
                    else self.groups["val"]
                )
            self.suite = self.groups["val"].primary if "val" in self.groups else None

    def _stage_names(self, stage: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(image metrics, context metrics) evaluated at ``stage`` (test: ``metrics.test``)."""
        override = self.test_overrides.get("metrics") if stage == "test" else None
        if override:
            return split_context(validate_metric_names(override))
        return self.metric_names, self.context_names

    def _context(self, trainer: pl.Trainer, model: object, stage: str) -> MetricContext:
        """The context metrics' view of this evaluation: model, datamodule, split, options."""
        return MetricContext(
            model=model,
            datamodule=trainer.datamodule,
            stage=stage,
            split="test" if stage == "test" else "val",
            seed=self.seed,
            options=dict(self.metric_kwargs["options"]),
            rank=trainer.global_rank,
            world_size=trainer.world_size,
        )

    def active_metrics(
        self, conditional_model: bool, names: Sequence[str] | None = None
    ) -> tuple[str, ...]:
        """The configured metrics (or ``names``) plus, for a conditional model with
        ``conditional``, the label metrics; label metrics configured for an unconditional model
        raise ``ValueError``."""
        names = validate_metric_names(names) if names else self.metric_names
        if self.conditional and conditional_model:
            names = tuple(dict.fromkeys((*names, *CONDITIONAL_METRICS)))
        labelled = [n for n in names if METRICS[n].conditional]
        if labelled and not conditional_model:
            raise ValueError(
                f"metrics.metrics holds {labelled}, which need labels: the model is not "
                "class-conditional (model.conditional is False); remove them"
            )
        return names

    def declared_keys(self) -> set[str]:
        """Every ``<stage>/<key>`` this callback logs (val and test, and ``val/fid_best``), from
        the registry: what ``optimized_metric`` and checkpoint monitoring may name before the
        first evaluation. Call after ``setup`` for the label metrics of conditional models."""
        test_names = self.test_overrides.get("extractors") or self.extractor_names
        keys: set[str] = set()
        for stage, extractors in (("val", self.extractor_names), ("test", test_names)):
            image, context = self._stage_names(stage)
            keys |= {f"{stage}/{k}" for k in self._keys(extractors, image) if image}
            keys |= {f"{stage}/{k}" for k in metric_keys(context)}
        return keys | ({"val/fid_best"} if "fid" in self.metric_names else set())

    @staticmethod
    def _keys(extractors: Sequence[str], metrics: Sequence[str]) -> list[str]:
        """The keys ``ExtractorSuites`` logs for these extractor and metric names."""
        keys = []
        for index, name in enumerate(extractors):
            if index == 0:  # auto/primary: every metric, unsuffixed
                keys.extend(metric_keys(validate_metric_names(metrics)))
                continue
            keep, _ = usable_metrics(EXTRACTORS[name], validate_metric_names(metrics), False)
            keys.extend(ExtractorSuites.suffix(k, name, False) for k in metric_keys(keep))
        return keys

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
        if not self._ready:
            self.setup(trainer, pl_module, stage)
        model = require_generative(pl_module, "sample-quality metrics")
        key = "test" if stage == "test" else "val"
        results: dict[str, float] = {}
        self.protocol = {"dataset": getattr(trainer.datamodule, "name", None), "seed": self.seed}
        if key in self.groups:
            results.update(self._evaluate_images(trainer, pl_module, stage))
        context_names = self._stage_names(key)[1]
        if context_names:
            context = self._context(trainer, model, key)
            for name in context_names:
                metric = METRICS[name]
                out = metric.compute(context, {"context": context})
                results.update({k: float(v) for k, v in out.items() if k in metric.keys})
            self.protocol["context_metrics"] = {
                "metrics": list(context_names),
                "split": context.split,
                "options": context.options,
            }
        self.last_results = {f"{stage}/{k}": v for k, v in results.items()}
        for name, value in self.last_results.items():
            pl_module.log(name, value, sync_dist=False)
        data_protocol = getattr(trainer.datamodule, "protocol", None)
        if callable(data_protocol):
            self.protocol["data"] = data_protocol()
        if stage == "val" and "fid" in results:
            self.best_fid = min(self.best_fid, results["fid"])
            pl_module.log("val/fid_best", self.best_fid, sync_dist=False)
        self._write_wandb(trainer, stage)
        return self.last_results

    def _evaluate_images(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str
    ) -> dict[str, float]:
        """The image metrics: generate, add the reference, compute; fills ``self.protocol``."""
        group = self.groups["test" if stage == "test" else "val"].to(pl_module.device)
        group.reset()
        suite = group.primary
        overrides = self.test_overrides if stage == "test" else {}
        num_fake = int(overrides.get("num_fake", self.num_fake))
        num_real = int(overrides.get("num_real", self.num_real))
        model = require_generative(pl_module, "sample-quality metrics")
        rank, world = trainer.global_rank, trainer.world_size
        shape = add_generated(model, group, num_fake, self.seed, self.batch_size, rank, world)
        split = self.test_reference_split if stage == "test" else self.reference_split
        for member in group.suites.values():
            num_real_used = add_reference(
                trainer, member, split, num_real, shape, self.batch_size, self.cache
            )
        num_real = num_real_used
        results = group.compute()
        self.protocol = protocol_record(
            suite.extractor,
            num_real,
            num_fake,
            split,
            self.seed,
            dataset=getattr(trainer.datamodule, "name", None),
            settings=suite.settings(),
        )
        self.protocol["extractors"] = group.extractor_records()
        self.protocol["evaluation"] = (
            "test: metrics.test overrides (full evaluation)"
            if overrides
            else f"{stage}: the configured metrics"
        )
        if suite.needs_labels:
            self.protocol["conditional"] = conditional_record(suite, results, num_real, num_fake)
        return results

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
