"""Precision/recall/density/coverage (``prdc``) against the official ``prdc`` package."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from prdc import compute_prdc

from genlab.metrics.collection import SampleQualityMetrics
from genlab.metrics.extractors import DigitsClassifierExtractor, ExtractorOutput
from genlab.metrics.prdc import prdc


def features(n: int, dim: int, shift: float, seed: int) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed)) + shift


@pytest.mark.parametrize("k,batch_size", [(5, 1000), (3, 17)])
def test_prdc_equals_the_prdc_package(k, batch_size):
    """Tolerance: prdc computes float32 distances (sklearn), genlab float64, so a sample within
    float32 rounding of a ball's radius may flip: at most one sample per set, 1/N absolute."""
    real, fake = features(150, 32, 0.0, 0), features(130, 32, 0.4, 1)
    ours = prdc(real, fake, k=k, batch_size=batch_size)
    theirs = compute_prdc(real.numpy(), fake.numpy(), nearest_k=k)
    for key in ("precision", "recall", "density", "coverage"):
        assert ours[key] == pytest.approx(float(theirs[key]), abs=1 / 130), key
    assert 0 < ours["coverage"] < 1 and ours["density"] > 0  # neither trivially 0 nor 1
    shifted = prdc(real, fake + 10.0, k=k)  # far away: no fake near any real
    assert shifted["precision"] == shifted["coverage"] == shifted["density"] == 0.0
    same = prdc(real, real.clone(), k=k)
    assert same["coverage"] == 1.0 and same["density"] == pytest.approx(
        float(compute_prdc(real.numpy(), real.numpy(), k)["density"]), abs=1 / 150
    )


def test_prdc_is_a_registered_metric_with_k_from_options():
    real, fake = features(60, 128, 0.0, 2), features(50, 128, 0.3, 3)
    suite = SampleQualityMetrics(
        DigitsClassifierExtractor(), ["prdc"], options={"prdc_k": 4}, pr_batch_size=16
    )
    suite.update(ExtractorOutput(real, real[:, :0]), real=True)
    suite.update(ExtractorOutput(fake, fake[:, :10]), real=False)
    got = suite.compute()
    expected = prdc(real, fake, k=4)
    assert got == {f"prdc_{k}" if k in ("precision", "recall") else k: v
                   for k, v in expected.items()}  # fmt: skip
    assert suite.details["prdc"]["prdc_k"] == 4 and suite.settings()["prdc_k"] == 4
    assert np.isfinite(list(got.values())).all()
