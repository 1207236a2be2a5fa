"""The protocol record: how a sample-quality score was computed, stored next to the score.

A number without its protocol is not comparable (torchmetrics changed its FID resize default in
1.8; evaluation flags move FID by 20%), so every run's W&B config and summary and
``genlab-eval``'s JSON carry this dict under ``metrics_protocol``.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from genlab.metrics.cache import METRICS_VERSION
from genlab.metrics.extractors import FeatureExtractor
from genlab.metrics.functional import kid_is_exact

UINT8_CONVERSION = "round(x * 255) of [0, 1] floats (genlab.utils.images.to_uint8)"


def library_versions() -> dict[str, str]:
    """Return the installed versions of torch, torch-fidelity, torchmetrics and genlab."""
    out = {}
    for dist in ("torch", "torch-fidelity", "torchmetrics", "genlab"):
        try:
            out[dist.replace("-", "_")] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist.replace("-", "_")] = "not installed"
    return out


def protocol_record(
    extractor: FeatureExtractor,
    num_real: int,
    num_fake: int,
    reference_split: str,
    seed: int,
    dataset: str | None = None,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the protocol dict for scores computed with ``extractor`` on the given samples.

    Args:
        extractor: the feature extractor used (name, weights path and hash, resize mode).
        num_real: number of real (reference) images; num_fake: number of generated images.
        reference_split: data split the real images came from (e.g. "train", "test").
        seed: seed of the generated noise and of IS/KID's random splits/subsets.
        dataset: dataset name, if known.
        settings: metric settings (``SampleQualityMetrics.settings()``); ``kid_subset_size`` is
            recorded as the effective value, capped at min(num_real, num_fake).

    Returns:
        a flat dict of str/int keys plus ``versions`` (library name -> version).
    """
    record: dict[str, Any] = {
        "extractor": extractor.name,
        "feature_layers": extractor.feature_layers,
        "weights_path": extractor.weights_path,
        "weights_hash": extractor.weights_hash,
        "resize_mode": extractor.resize_mode,  # metrics.resize (null: the extractor's default)
        "input_size": extractor.input_size,
        "uint8_conversion": UINT8_CONVERSION,
        "dataset": dataset,
        "reference_split": reference_split,
        "num_real": int(num_real),
        "num_fake": int(num_fake),
        "seed": int(seed),
        "metrics_version": METRICS_VERSION,
    }
    settings = dict(settings or {})
    if "kid_subset_size" in settings:
        requested = int(settings["kid_subset_size"])
        settings["kid_subset_size"] = min(requested, num_real, num_fake)
        settings["kid_evaluation"] = (
            "exact: one evaluation on the full sets (subset size >= N fake = N real)"
            if kid_is_exact(num_fake, num_real, requested)
            else f"{settings.get('kid_subsets')} random subsets (torch-fidelity's draws)"
        )
    record.update(settings)
    record["versions"] = library_versions()
    return record


def conditional_record(
    suite: Any, results: dict[str, float], num_real: int, num_fake: int
) -> dict[str, Any]:
    """Return the ``conditional`` part of the protocol: classifier, sample counts, the label
    distribution and every label metric's scalar and per-class values (``suite.details``)."""
    record: dict[str, Any] = {
        "classifier": suite.extractor.name,
        "num_fake": int(num_fake),
        "num_real": int(num_real),
        "conditional": True,
        "labels": f"uniform over {suite.num_classes}",
    }
    for name in ("class_acc", "fid_class_mean"):
        if name in results:
            record[name] = results[name]
    for details in suite.details.values():
        record.update(details)
    return record
