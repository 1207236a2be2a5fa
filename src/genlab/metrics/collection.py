"""All configured sample-quality metrics behind one extractor pass.

:class:`SampleQualityMetrics` runs the extractor once per batch and feeds the features to an
:class:`~genlab.metrics.fidelity.FID` (float64 sums) and to one
:class:`~genlab.metrics.fidelity.GatheredFeatures` shared by IS, KID and precision/recall, so the
gathered features are stored once. ``compute()`` syncs over DDP ranks and must run on every rank.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from genlab.metrics import functional as F
from genlab.metrics.extractors import ExtractorOutput, FeatureExtractor
from genlab.metrics.fidelity import FID, GatheredFeatures

METRICS = ("fid", "is", "kid", "pr")
RESULT_KEYS = {
    "fid": ("fid",),
    "is": ("is_mean", "is_std"),
    "kid": ("kid_mean", "kid_std"),
    "pr": ("precision", "recall"),
}


def validate_metric_names(metrics: Sequence[str]) -> tuple[str, ...]:
    """Return ``metrics`` as a tuple after checking each name is one of fid, is, kid, pr."""
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
        metrics: Sequence[str] = METRICS,
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
        self.fid = FID(num_features=extractor.num_features) if "fid" in self.names else None
        keep = (("fake_logits",) if "is" in self.names else ()) + (
            ("real_features", "fake_features") if {"kid", "pr"} & set(self.names) else ()
        )
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
        results: dict[str, float] = {}
        if self.fid is not None:
            results["fid"] = float(self.fid.compute())
        if self.gathered is None:
            return results
        state = self.gathered.compute()
        if "is" in self.names:
            mean, std = F.inception_score(state["fake_logits"], self.is_splits, self.seed)
            results.update(is_mean=mean, is_std=std)
        if "kid" in self.names:
            mean, std = F.kernel_inception_distance(
                state["fake_features"],
                state["real_features"],
                self.kid_subsets,
                self.kid_subset_size,
                self.kid_degree,
                self.seed,
            )
            results.update(kid_mean=mean, kid_std=std)
        if "pr" in self.names:
            precision, recall = F.precision_recall(
                state["fake_features"], state["real_features"], self.pr_k, self.pr_batch_size
            )
            results.update(precision=precision, recall=recall)
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
