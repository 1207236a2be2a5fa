"""All configured sample-quality metrics behind one extractor pass.

:class:`SampleQualityMetrics` runs the extractor once per batch and feeds the features to an
:class:`~genlab.metrics.fidelity.FID` (float64 sums) and to one
:class:`~genlab.metrics.fidelity.GatheredFeatures` shared by IS, KID and precision/recall, so the
gathered features are stored once. ``compute()`` syncs over DDP ranks and must run on every rank.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import torch
from torch import nn

from genlab.metrics import functional as F
from genlab.metrics.extractors import ExtractorOutput, FeatureExtractor
from genlab.metrics.fidelity import FID, GatheredFeatures


@dataclasses.dataclass(frozen=True)
class SampleMetric:
    """How to compute one sample metric from the suite's states.

    Attributes:
        keys: the result names it returns (logged as ``<stage>/<key>``).
        needs: the states it reads: ``fid`` (streamed float64 sums) and/or gathered
            ``real_features``, ``fake_features``, ``fake_logits``.
        compute: ``(suite, gathered_state) -> {key: float}``.
    """

    keys: tuple[str, ...]
    needs: frozenset[str]
    compute: Callable[[SampleQualityMetrics, dict[str, torch.Tensor]], dict[str, float]]


#: name -> SampleMetric (``metrics.metrics=[...]``); add one with ``register_metric``
METRICS: dict[str, SampleMetric] = {}


def register_metric(name: str, keys: Sequence[str], needs: Sequence[str]) -> Callable:
    """Decorator: register ``fn(suite, state) -> {key: float}`` as the sample metric ``name``."""

    def wrap(fn: Callable) -> Callable:
        METRICS[name] = SampleMetric(tuple(keys), frozenset(needs), fn)
        return fn

    return wrap


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


def validate_metric_names(metrics: Sequence[str]) -> tuple[str, ...]:
    """Return ``metrics`` as a tuple after checking each name is registered in ``METRICS``."""
    names = tuple(str(m).lower() for m in metrics)
    unknown = [m for m in names if m not in METRICS]
    if unknown or not names:
        raise ValueError(f"metrics.metrics={list(metrics)} is invalid; choose from {list(METRICS)}")
    return names


class SampleQualityMetrics(nn.Module):
    """FID / IS / KID / precision-recall over one extractor.

    Args:
        extractor: the feature extractor (see :func:`genlab.metrics.extractors.build_extractor`).
        metrics: subset of ("fid", "is", "kid", "pr").
        seed: seed of the IS shuffle and the KID subsets (torch-fidelity's ``rng_seed``).
        is_splits, kid_subsets, kid_subset_size, kid_degree, pr_k, pr_batch_size: metric settings
            (torch-fidelity defaults: 10, 100, 1000 capped at N, 3, 3).
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
    ) -> None:
        super().__init__()
        self.names = validate_metric_names(metrics)
        self.extractor = extractor
        self.seed, self.is_splits = seed, is_splits
        self.kid_subsets, self.kid_subset_size, self.kid_degree = (
            kid_subsets,
            kid_subset_size,
            kid_degree,
        )
        self.pr_k, self.pr_batch_size = pr_k, pr_batch_size
        needs = set().union(*(METRICS[name].needs for name in self.names))
        self.fid = FID(num_features=extractor.num_features) if "fid" in needs else None
        keep = tuple(sorted(needs - {"fid"}))
        self.gathered = GatheredFeatures(keep=keep) if keep else None

    def _metrics(self) -> list[nn.Module]:
        return [m for m in (self.fid, self.gathered) if m is not None]

    def extract(self, images: torch.Tensor) -> ExtractorOutput:
        """Return the extractor's features and logits for uint8 or [0, 1] float images."""
        return self.extractor(images)

    def update(self, images: torch.Tensor | ExtractorOutput, real: bool) -> None:
        """Add a batch of real or generated images (or an ``ExtractorOutput``) to every metric."""
        out = images if isinstance(images, ExtractorOutput) else self.extract(images)
        for metric in self._metrics():
            metric.update(out, real)

    def reset(self) -> None:
        """Clear all states (call before each evaluation)."""
        for metric in self._metrics():
            metric.reset()

    def compute(self) -> dict[str, float]:
        """Return the configured scores as floats, keys among ``fid``, ``is_mean``, ``is_std``,
        ``kid_mean``, ``kid_std``, ``precision``, ``recall`` (same value on every rank)."""
        state = self.gathered.compute() if self.gathered is not None else {}
        results: dict[str, float] = {}
        for name in self.names:
            results.update(METRICS[name].compute(self, state))
        return results

    def settings(self) -> dict[str, object]:
        """Return the metric settings for the protocol record (names and their parameters)."""
        return {
            "metrics": list(self.names),
            "feature_dim": self.extractor.num_features,
            "is_splits": self.is_splits,
            "kid_subsets": self.kid_subsets,
            "kid_subset_size": self.kid_subset_size,
            "kid_kernel": f"poly(degree={self.kid_degree}, gamma=1/D, coef0=1)",
            "pr_k": self.pr_k,
            "rng_seed": self.seed,
        }
