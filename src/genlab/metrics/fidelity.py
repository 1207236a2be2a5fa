"""torchmetrics ``Metric``s for sample quality that sync across DDP ranks: FID, IS, KID, PR.

``update(images, real)`` takes uint8 (N, C, H, W) images, float images in [0, 1], or an
:class:`~genlab.metrics.extractors.ExtractorOutput` already computed (so one extractor pass can
feed several metrics). ``compute()`` syncs the states over all ranks and must be called on every
rank (torchmetrics' ``sync_on_compute``); every rank returns the same value.

Resize: features come from torch-fidelity's InceptionV3 with its TF1-compatible bilinear resize
to 299x299. torchmetrics' own ``FrechetInceptionDistance`` (>= 1.8) resizes with antialiasing by
default, which changes FID at non-299 resolutions; genlab follows torch-fidelity so its numbers
are comparable with published tables (and with ``torch_fidelity.calculate_metrics``).

State memory per metric (D feature size, K classes; inception D=2048, K=1008; digits D=128, K=10):

- FID: float64 sums, 2 * (D^2 + D) * 8 bytes whatever N: 67 MB for inception, 0.26 MB for digits;
  synced with a ``sum`` all-reduce.
- IS: the fake logits, N_fake * K * 4 bytes (50k inception: 202 MB), gathered on every rank.
- KID and PR: real and fake features, (N_real + N_fake) * D * 4 bytes (50k + 50k inception:
  819 MB), gathered on every rank. :class:`SampleQualityMetrics` stores them once for all three.

Gathered states are concatenated in rank order, so a rank-contiguous split of the images gives
the same order (hence the same IS/KID random subsets) as one process.
"""

from __future__ import annotations

from typing import Any

import torch
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat

from genlab.metrics import functional as F
from genlab.metrics.extractors import ExtractorOutput, FeatureExtractor

Images = torch.Tensor | ExtractorOutput


class _ExtractorMetric(Metric):
    """Base: holds an optional extractor and turns images into features."""

    full_state_update = False
    is_differentiable = False

    def __init__(self, extractor: FeatureExtractor | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.extractor = extractor

    def _extract(self, images: Images) -> ExtractorOutput:
        if isinstance(images, ExtractorOutput):
            return images
        if self.extractor is None:
            raise ValueError(
                f"{type(self).__name__} was built without an extractor: pass extractor=... or "
                "update with an ExtractorOutput"
            )
        return self.extractor(images)


class FID(_ExtractorMetric):
    """Fréchet Inception Distance from float64 running sums (memory independent of N).

    Args:
        extractor: feature extractor; may be None when updating with ``ExtractorOutput``.
        num_features: feature size D (defaults to ``extractor.num_features``).
    """

    higher_is_better = False

    def __init__(
        self,
        extractor: FeatureExtractor | None = None,
        num_features: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(extractor, **kwargs)
        dim = num_features or (extractor.num_features if extractor is not None else 0)
        if dim <= 0:
            raise ValueError("FID needs num_features or an extractor to know the feature size")
        for side in ("real", "fake"):
            self.add_state(f"{side}_sum", torch.zeros(dim, dtype=torch.float64), "sum")
            self.add_state(f"{side}_outer", torch.zeros(dim, dim, dtype=torch.float64), "sum")
            self.add_state(f"{side}_count", torch.zeros((), dtype=torch.long), "sum")

    def update(self, images: Images, real: bool) -> None:
        """Add a batch of real or generated images (or their features) to the sums."""
        feats = self._extract(images).features.to(self.device, torch.float64)
        side = "real" if real else "fake"
        getattr(self, f"{side}_sum").add_(feats.sum(0))
        getattr(self, f"{side}_outer").add_(feats.T @ feats)
        getattr(self, f"{side}_count").add_(len(feats))

    def compute(self) -> torch.Tensor:
        """Return FID (float64 scalar tensor, squared feature units) between real and fake."""
        mu_r, sigma_r = F.statistics_from_sums(self.real_sum, self.real_outer, self.real_count)
        mu_f, sigma_f = F.statistics_from_sums(self.fake_sum, self.fake_outer, self.fake_count)
        return torch.tensor(F.frechet_distance(mu_f, sigma_f, mu_r, sigma_r), dtype=torch.float64)


class GatheredFeatures(_ExtractorMetric):
    """Keeps real/fake features, fake logits and labels; ``compute()`` returns them gathered.

    Args:
        extractor: feature extractor; may be None when updating with ``ExtractorOutput``.
        keep: which of ``STATES`` to keep: ``real_features``, ``fake_features``,
            ``fake_logits`` (float32), ``real_labels`` (the real images' labels) and
            ``fake_labels`` (the labels the fakes were generated for), int64.
    """

    STATES = ("real_features", "fake_features", "fake_logits", "real_labels", "fake_labels")

    def __init__(
        self,
        extractor: FeatureExtractor | None = None,
        keep: tuple[str, ...] = STATES[:3],
        **kwargs: Any,
    ) -> None:
        super().__init__(extractor, **kwargs)
        unknown = set(keep) - set(self.STATES)
        if unknown:
            raise ValueError(f"unknown states {sorted(unknown)}; allowed: {self.STATES}")
        self.keep = tuple(keep)
        for name in self.keep:
            self.add_state(name, [], dist_reduce_fx="cat")

    def update(self, images: Images, real: bool, labels: torch.Tensor | None = None) -> None:
        """Append the batch's features (and fake logits, and ``labels`` (N,)) to the kept lists."""
        out = self._extract(images)
        side = "real" if real else "fake"
        pairs = [(f"{side}_features", out.features.float())]
        if not real:
            pairs.append(("fake_logits", out.logits.float()))
        if labels is not None:
            if len(labels) != len(out.features):
                raise ValueError(f"{len(labels)} labels for {len(out.features)} {side} images")
            pairs.append((f"{side}_labels", labels.long()))
        for name, value in pairs:
            if name in self.keep:
                getattr(self, name).append(value.detach().to(self.device))

    def compute(self) -> dict[str, torch.Tensor]:
        """Return the kept states, concatenated over batches and ranks (rank order)."""
        out = {}
        for name in self.keep:
            value = getattr(self, name)
            if isinstance(value, list) and not value:
                hint = " (label metrics need a conditional model)" if "labels" in name else ""
                raise ValueError(f"no {name.replace('_', ' ')} were given to update(){hint}")
            out[name] = dim_zero_cat(value)
        return out


class InceptionScore(GatheredFeatures):
    """Inception Score of the generated images (real images passed to ``update`` are ignored).

    Args:
        splits: number of splits (torch-fidelity's ``isc_splits``, default 10).
        seed: seed of the shuffle before splitting (torch-fidelity's ``rng_seed``).
    """

    higher_is_better = True

    def __init__(self, extractor=None, splits: int = 10, seed: int = 2020, **kwargs: Any) -> None:
        super().__init__(extractor, keep=("fake_logits",), **kwargs)
        self.splits, self.seed = splits, seed

    def compute(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (mean, std) of the Inception Score over splits, as float64 tensors."""
        logits = super().compute()["fake_logits"]
        return tuple(
            torch.tensor(v, dtype=torch.float64)
            for v in F.inception_score(logits, self.splits, self.seed)
        )


class KID(GatheredFeatures):
    """Kernel Inception Distance: polynomial-kernel unbiased MMD^2 over random subsets.

    Args:
        subsets: number of subsets (default 100); subset_size: default 1000, capped at N;
        degree: polynomial kernel degree (3); seed: torch-fidelity's ``rng_seed``.
    """

    higher_is_better = False

    def __init__(
        self,
        extractor=None,
        subsets: int = 100,
        subset_size: int = 1000,
        degree: int = 3,
        seed: int = 2020,
        **kwargs: Any,
    ) -> None:
        super().__init__(extractor, keep=("real_features", "fake_features"), **kwargs)
        self.subsets, self.subset_size, self.degree, self.seed = subsets, subset_size, degree, seed

    def compute(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (mean, std) of KID over subsets, float64 tensors in squared feature units."""
        s = super().compute()
        values = F.kernel_inception_distance(
            s["fake_features"],
            s["real_features"],
            self.subsets,
            self.subset_size,
            self.degree,
            self.seed,
        )
        return tuple(torch.tensor(v, dtype=torch.float64) for v in values)


class PrecisionRecall(GatheredFeatures):
    """Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN radii (k=3).

    Args:
        k: neighbourhood size; batch_size: rows per distance block (memory ~ batch_size * N * 4 B).
    """

    higher_is_better = True

    def __init__(self, extractor=None, k: int = 3, batch_size: int = 1000, **kwargs: Any) -> None:
        super().__init__(extractor, keep=("real_features", "fake_features"), **kwargs)
        self.k, self.batch_size = k, batch_size

    def compute(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (precision, recall) as float64 tensors, fractions in [0, 1]."""
        s = super().compute()
        values = F.precision_recall(s["fake_features"], s["real_features"], self.k, self.batch_size)
        return tuple(torch.tensor(v, dtype=torch.float64) for v in values)
