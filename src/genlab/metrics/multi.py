"""Several extractors over one generation pass: ``metrics.extractors=[inception, dinov2_vitb14]``.

:class:`ExtractorSuites` holds one :class:`~genlab.metrics.collection.SampleQualityMetrics` per
extractor and gives every generated batch to each of them, so all requested metrics are computed
per extractor from the same images. Keys: the first extractor's are unchanged (``fid``,
``kid_mean``...), the others' carry the extractor's name (``fd_dinov2_vitl14`` is FD_DINOv2,
``fid_dinov2_vitb14``, ``cmmd_clip_vitl14``). Metrics an extractor cannot give are left out for
it and listed in ``skipped``: those reading logits on an extractor without classes (IS, IS∞ on
DINOv2/CLIP), and label metrics and model metrics (``ppl``, which reads no features) on every
extractor but the first. Reference features are cached
per extractor (the cache key holds its name, weights hash and resize mode).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from genlab.metrics.collection import SampleQualityMetrics
from genlab.metrics.extractors import ExtractorOutput, FeatureExtractor
from genlab.metrics.registry import METRICS, metric_keys


def usable_metrics(
    extractor: FeatureExtractor, names: Sequence[str], primary: bool
) -> tuple[tuple[str, ...], list[str]]:
    """Return (metrics ``extractor`` can compute, the skipped ones) of ``names``."""
    keep, skipped = [], []
    for name in names:
        metric = METRICS[name]
        no_logits = "fake_logits" in metric.needs and extractor.num_classes == 0
        if no_logits or ((metric.conditional or metric.needs_model) and not primary):
            skipped.append(name)
        else:
            keep.append(name)
    return tuple(keep), skipped


class ExtractorSuites(nn.Module):
    """One suite per extractor; the first is the primary (unsuffixed keys, label metrics).

    Args:
        extractors: the built extractors, primary first (names must differ).
        metrics: registered metric names requested for every extractor.
        suite_kwargs: the ``SampleQualityMetrics`` settings shared by all suites.
    """

    def __init__(
        self,
        extractors: Sequence[FeatureExtractor],
        metrics: Sequence[str],
        **suite_kwargs: Any,
    ) -> None:
        super().__init__()
        names = [e.name for e in extractors]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"metrics.extractors={names}: give at least one, each once")
        self.suites = nn.ModuleDict()
        self.skipped: dict[str, list[str]] = {}
        for index, extractor in enumerate(extractors):
            keep, skipped = usable_metrics(extractor, metrics, primary=index == 0)
            if not keep:
                raise ValueError(
                    f"extractor {extractor.name!r} can compute none of metrics.metrics="
                    f"{list(metrics)} (it has no class logits)"
                )
            self.suites[extractor.name] = SampleQualityMetrics(extractor, keep, **suite_kwargs)
            if skipped:
                self.skipped[extractor.name] = skipped

    @property
    def primary(self) -> SampleQualityMetrics:
        """The first extractor's suite."""
        return next(iter(self.suites.values()))

    @property
    def names(self) -> tuple[str, ...]:
        """Every metric name of every suite (for messages)."""
        return tuple(dict.fromkeys(n for s in self.suites.values() for n in s.names))

    @property
    def needs_labels(self) -> bool:
        """True when a suite's metric reads labels."""
        return any(s.needs_labels for s in self.suites.values())

    @property
    def needs_model(self) -> bool:
        """True when a suite's metric reads the model's latent paths (``ppl``)."""
        return any(s.needs_model for s in self.suites.values())

    @property
    def path_samples(self) -> int:
        """Latent paths the primary suite's path metrics want (0: none)."""
        return self.primary.path_samples

    def update_paths(
        self, model: Any, num: int, generator: torch.Generator, batch_size: int = 100
    ) -> None:
        """Add ``num`` latent paths of ``model`` to the primary suite's path metrics."""
        self.primary.update_paths(model, num, generator, batch_size)

    @staticmethod
    def suffix(key: str, extractor: str, primary: bool) -> str:
        """``key`` for the primary extractor, ``<key>_<extractor>`` for the others."""
        return key if primary else f"{key}_{extractor}"

    @property
    def keys(self) -> tuple[str, ...]:
        """Every scalar key ``compute()`` returns (without stage)."""
        return tuple(
            self.suffix(k, name, i == 0)
            for i, (name, suite) in enumerate(self.suites.items())
            for k in metric_keys(suite.names)
        )

    def update(
        self,
        images: torch.Tensor | ExtractorOutput,
        real: bool,
        labels: torch.Tensor | None = None,
    ) -> None:
        """Give a batch of images to every suite (each runs its own extractor)."""
        if isinstance(images, ExtractorOutput) and len(self.suites) > 1:
            raise ValueError("an ExtractorOutput belongs to one extractor; update a suite")
        for suite in self.suites.values():
            suite.update(images, real, labels)

    def reset(self) -> None:
        """Clear every suite's states."""
        for suite in self.suites.values():
            suite.reset()

    def compute(self) -> dict[str, float]:
        """Every suite's scalars under their (suffixed) keys; must run on every DDP rank."""
        out: dict[str, float] = {}
        for index, (name, suite) in enumerate(self.suites.items()):
            for key, value in suite.compute().items():
                out[self.suffix(key, name, index == 0)] = value
        return out

    def extractor_records(self) -> dict[str, dict[str, Any]]:
        """Per extractor: weights, resize, input size, metrics computed and skipped (protocol)."""
        return {
            name: {
                "feature_layers": s.extractor.feature_layers,
                "weights_path": s.extractor.weights_path,
                "weights_hash": s.extractor.weights_hash,
                "resize_mode": s.extractor.resize_mode,
                "input_size": s.extractor.input_size,
                "feature_dim": s.extractor.num_features,
                "metrics": list(s.names),
                "skipped": self.skipped.get(name, []),
                "details": dict(s.details),
            }
            for name, s in self.suites.items()
        }


def as_mapping(value: Mapping[str, str] | None) -> dict[str, str]:
    """A plain dict of ``metrics.extractor_weights`` (None -> {})."""
    return {str(k): str(v) for k, v in (value or {}).items()}
