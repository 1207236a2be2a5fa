"""All configured sample-quality metrics behind one extractor pass.

:class:`SampleQualityMetrics` runs the extractor once per batch and feeds the features to an
:class:`~genlab.metrics.fidelity.FID` (float64 sums) and to one
:class:`~genlab.metrics.fidelity.GatheredFeatures` shared by IS, KID and precision/recall, so the
gathered features are stored once. ``compute()`` syncs over DDP ranks and must run on every rank.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from genlab.metrics import functional as F
from genlab.metrics.extractors import ExtractorOutput, FeatureExtractor
from genlab.metrics.fidelity import FID, GatheredFeatures
from genlab.metrics.ppl import PerceptualPathLength, PPLSettings
from genlab.metrics.registry import (  # noqa: F401  (re-exported: the registry's public names)
    METRICS,
    SampleMetric,
    import_metric_modules,
    metric_keys,
    register_metric,
    validate_metric_names,
)


@register_metric("fid", keys=("fid",), needs=("fid",))
def _fid(suite: SampleQualityMetrics, state: dict[str, torch.Tensor]) -> dict[str, float]:
    return {"fid": float(suite.fid.compute())}


@register_metric("is", keys=("is_mean", "is_std"), needs=("fake_logits",))
def _inception_score(suite: SampleQualityMetrics, state: dict) -> dict[str, float]:
    mean, std = F.inception_score(state["fake_logits"], suite.is_splits, suite.seed)
    return {"is_mean": mean, "is_std": std}


@register_metric("kid", keys=("kid_mean", "kid_std"), needs=("fake_features", "real_features"))
def _kid(suite: SampleQualityMetrics, state: dict) -> dict[str, float]:
    mean, std = F.kernel_inception_distance(
        state["fake_features"],
        state["real_features"],
        suite.kid_subsets,
        suite.kid_subset_size,
        suite.kid_degree,
        suite.seed,
    )
    return {"kid_mean": mean, "kid_std": std}


@register_metric("pr", keys=("precision", "recall"), needs=("fake_features", "real_features"))
def _precision_recall(suite: SampleQualityMetrics, state: dict) -> dict[str, float]:
    precision, recall = F.precision_recall(
        state["fake_features"], state["real_features"], suite.pr_k, suite.pr_batch_size
    )
    return {"precision": precision, "recall": recall}


class SampleQualityMetrics(nn.Module):
    """Every configured sample metric over one extractor and one pass over the images.

    Args:
        extractor: the feature extractor (see :func:`genlab.metrics.extractors.build_extractor`).
        metrics: registered metric names (``genlab.metrics.registry.METRICS``).
        seed: seed of the IS shuffle and the KID subsets (torch-fidelity's ``rng_seed``).
        is_splits, kid_subsets, kid_subset_size, kid_degree, pr_k, pr_batch_size: metric settings
            (torch-fidelity defaults: 10, 100, 1000 capped at N, 3, 3).
        num_classes: K of a class-conditional model (the label metrics); 0 when unconditional.
        per_class_min_samples: per-class FID only for classes with this many real and fake.
        options: settings of further metrics (e.g. one defined outside genlab reads
            ``suite.options["my_setting"]``); recorded in the protocol. The perceptual path
            length reads ``ppl_*`` (``genlab.metrics.ppl.PPLSettings``).
        extractor_weights: ``metrics.extractor_weights`` (the PPL's ``lpips_vgg`` file).
    """

    def __init__(
        self,
        extractor: FeatureExtractor,
        metrics: Sequence[str] = ("fid", "is", "kid", "pr"),
        seed: int = F.TORCH_FIDELITY_DEFAULT_SEED,
        is_splits: int = 10,
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        kid_degree: int = 3,
        pr_k: int = 3,
        pr_batch_size: int = 1000,
        num_classes: int = 0,
        per_class_min_samples: int = 100,
        options: Mapping[str, Any] | None = None,
        extractor_weights: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.names = validate_metric_names(metrics)
        context = [n for n in self.names if METRICS[n].is_context]
        if context:
            raise ValueError(
                f"metrics {context} read the model and data (context metrics), not images; the "
                "metrics callback computes them (metrics.metrics), a sample suite cannot"
            )
        self.extractor = extractor
        self.seed, self.is_splits = seed, is_splits
        self.kid_subsets, self.kid_subset_size, self.kid_degree = (
            kid_subsets,
            kid_subset_size,
            kid_degree,
        )
        self.pr_k, self.pr_batch_size = pr_k, pr_batch_size
        self.num_classes, self.per_class_min_samples = int(num_classes), int(per_class_min_samples)
        self.options = dict(options or {})
        needs = set().union(*(METRICS[name].needs for name in self.names))
        self.fid = FID(num_features=extractor.num_features) if "fid" in needs else None
        self.ppl = None  # built here, so a missing LPIPS file fails before any compute
        if "ppl_distances" in needs:
            settings = PPLSettings.from_options(self.options)
            self.ppl = PerceptualPathLength(settings, extractor_weights=extractor_weights)
        keep = tuple(sorted(needs - {"fid", "ppl_distances"}))
        self.gathered = GatheredFeatures(keep=keep) if keep else None
        #: non-scalar outputs of the last ``compute()`` (per-class lists...), by metric name
        self.details: dict[str, dict[str, Any]] = {}

    @property
    def keys(self) -> tuple[str, ...]:
        """The scalar keys ``compute()`` returns (without stage), from the registry."""
        return metric_keys(self.names)

    @property
    def needs_labels(self) -> bool:
        """True when a configured metric reads labels (fake requested or real)."""
        return any(METRICS[name].conditional for name in self.names)

    @property
    def needs_model(self) -> bool:
        """True when a configured metric reads the model's latent paths (``ppl``)."""
        return any(METRICS[name].needs_model for name in self.names)

    def _metrics(self) -> list[nn.Module]:
        return [m for m in (self.fid, self.gathered, self.ppl) if m is not None]

    @property
    def path_samples(self) -> int:
        """Latent paths the path metrics want per evaluation (``ppl_num_samples``; 0: none)."""
        return self.ppl.settings.num_samples if self.ppl is not None else 0

    def update_paths(
        self, model: Any, num: int, generator: torch.Generator, batch_size: int = 100
    ) -> None:
        """Add ``num`` latent paths of ``model`` to the path metrics (``ppl``); no-op without."""
        if self.ppl is not None:
            self.ppl.update(model, num, generator, batch_size)

    def extract(self, images: torch.Tensor) -> ExtractorOutput:
        """Return the extractor's features and logits for uint8 or [0, 1] float images."""
        return self.extractor(images)

    def update(
        self,
        images: torch.Tensor | ExtractorOutput,
        real: bool,
        labels: torch.Tensor | None = None,
    ) -> None:
        """Add a batch of real or generated images (or an ``ExtractorOutput``) to every metric;
        ``labels`` (N,): the real images' labels or the labels the fakes were generated for."""
        out = images if isinstance(images, ExtractorOutput) else self.extract(images)
        if self.fid is not None:
            self.fid.update(out, real)
        if self.gathered is not None:
            self.gathered.update(out, real, labels)

    def reset(self) -> None:
        """Clear all states (call before each evaluation)."""
        for metric in self._metrics():
            metric.reset()

    def compute(self) -> dict[str, float]:
        """Return the configured scalar scores (``keys``) as floats, the same on every rank;
        other outputs go to ``details[name]``. Must run on every rank (DDP sync)."""
        state = self.gathered.compute() if self.gathered is not None else {}
        results: dict[str, float] = {}
        self.details = {}
        for name in self.names:
            metric = METRICS[name]
            out = metric.compute(self, state)
            results.update({k: float(v) for k, v in out.items() if k in metric.keys})
            extra = {k: v for k, v in out.items() if k not in metric.keys}
            if extra:
                self.details[name] = extra
        return results

    def settings(self) -> dict[str, object]:
        """Return the metric settings for the protocol record (names and their parameters)."""
        out: dict[str, object] = {
            "metrics": list(self.names),
            "feature_dim": self.extractor.num_features,
            "is_splits": self.is_splits,
            "kid_subsets": self.kid_subsets,
            "kid_subset_size": self.kid_subset_size,
            "kid_kernel": f"poly(degree={self.kid_degree}, gamma=1/D, coef0=1)",
            "pr_k": self.pr_k,
            "rng_seed": self.seed,
        }
        if self.needs_labels:
            out.update(
                num_classes=self.num_classes, per_class_min_samples=self.per_class_min_samples
            )
        out.update(self.options)
        if self.ppl is not None:
            out.update(self.ppl.record())
        return out


# the built-in metrics defined in their own modules register on import
from genlab.metrics import cmmd as _cmmd  # noqa: E402, F401
from genlab.metrics import conditional as _conditional  # noqa: E402, F401
from genlab.metrics import disentanglement_metrics as _disentanglement  # noqa: E402, F401
from genlab.metrics import infinity as _infinity  # noqa: E402, F401
from genlab.metrics import prdc as _prdc  # noqa: E402, F401
