"""docs/extending_metrics.md's context-metric example is real: it registers, its check refuses
a model that does not encode, and it computes the mean code norm of real images."""

from __future__ import annotations

import hydra
import pytest
import torch

from genlab.metrics.context import MetricContext
from genlab.metrics.registry import METRICS
from helpers import outside_context_metric
from helpers.config import TINY, compose_config


def test_doc_context_metric_registers_checks_and_computes(tmp_path):
    spec = METRICS["code_norm"]
    assert spec.is_context and spec.keys == ("code_norm",)
    cfg = compose_config([*TINY, "model=vae"], tmp_path)
    data = hydra.utils.instantiate(cfg.data)
    data.setup("fit")
    model = hydra.utils.instantiate(cfg.model).eval()
    context = MetricContext(model=model, datamodule=data, split="val")
    outside_context_metric.check_encodes(context)  # a VAE encodes: accepted
    got = outside_context_metric.code_norm(context, {})["code_norm"]
    images = data.real_images("val", 250)  # all of digits val
    with torch.no_grad():
        want = model.encode(images).flatten(1).norm(dim=1).mean().item()
    assert got == pytest.approx(want, rel=1e-6) and got > 0
    gan = hydra.utils.instantiate(compose_config([*TINY, "model=dcgan"], tmp_path).model)
    with pytest.raises(ValueError, match="code_norm"):
        outside_context_metric.check_encodes(MetricContext(model=gan, datamodule=data))
