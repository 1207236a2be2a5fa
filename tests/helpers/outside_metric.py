"""A sample metric defined outside ``src/`` (the worked example of docs/extending.md).

``feature_mean_gap``: the squared distance between the mean real and mean generated features,
``||mu_real - mu_fake||^2`` (squared feature units): the mean term of the Fréchet distance.
Registered on import; a run names this module in ``metrics.modules`` and the metric in
``metrics.metrics``, and logs ``val/feature_mean_gap`` / ``test/feature_mean_gap``.
"""

from __future__ import annotations

import torch

from genlab.metrics.registry import register_metric


@register_metric(
    "feature_mean_gap", keys=("feature_mean_gap",), needs=("real_features", "fake_features")
)
def feature_mean_gap(suite, state: dict[str, torch.Tensor]) -> dict[str, float]:
    """Return ``{"feature_mean_gap": ||mean(real) - mean(fake)||^2}`` from gathered (N, D)
    features (same value on every DDP rank: the state is already gathered)."""
    gap = state["real_features"].double().mean(0) - state["fake_features"].double().mean(0)
    return {"feature_mean_gap": float(gap.pow(2).sum())}
