"""The context metric of docs/extending_metrics.md, verbatim (run by
tests/test_context_metric_doc.py)."""

import torch

from genlab.metrics.context import MetricContext
from genlab.metrics.registry import register_metric


def check_encodes(context: MetricContext) -> None:
    """Called before training: refuse a configuration the metric cannot run on."""
    if not getattr(context.model, "can_encode", False):
        raise ValueError("metrics.metrics holds code_norm, which encodes data; use a VAE")


@register_metric("code_norm", keys=("code_norm",), needs=("context",), check=check_encodes)
def code_norm(context: MetricContext, state: dict) -> dict[str, float]:
    data = context.datamodule
    num = min(512, len(data.dataset(context.split)))  # real_images refuses more than the split
    images = data.real_images(context.split, num)
    model = context.model
    with torch.no_grad():
        codes = model.encode(images.to(model.device)).flatten(1)
    return {"code_norm": float(codes.norm(dim=1).mean())}
