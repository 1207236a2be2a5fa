"""Closed-form and invariance checks of FID, IS, KID and precision/recall (no Inception)."""

from __future__ import annotations

import pytest
import torch

from genlab.metrics import functional as F
from genlab.metrics.collection import SampleQualityMetrics
from genlab.metrics.extractors import DigitsClassifierExtractor, ExtractorOutput, images_to_uint8
from genlab.metrics.fidelity import FID, KID, InceptionScore, PrecisionRecall
from helpers.metrics_fakes import smooth_images


@pytest.fixture(scope="module")
def digits_extractor():
    return DigitsClassifierExtractor()


def test_frechet_distance_closed_form_gaussians():
    """Same covariance: FID = ||mu1 - mu2||^2; diagonal covariances: + sum (sqrt a - sqrt b)^2."""
    gen = torch.Generator().manual_seed(0)
    mu1 = torch.randn(6, generator=gen, dtype=torch.float64)
    mu2 = torch.randn(6, generator=gen, dtype=torch.float64)
    a = torch.rand(6, generator=gen, dtype=torch.float64) + 0.5
    b = torch.rand(6, generator=gen, dtype=torch.float64) + 0.5
    shift = float((mu1 - mu2).square().sum())
    assert F.frechet_distance(mu1, torch.diag(a), mu2, torch.diag(a)) == pytest.approx(
        shift, rel=1e-9
    )
    expected = shift + float((a.sqrt() - b.sqrt()).square().sum())
    assert F.frechet_distance(mu1, torch.diag(a), mu2, torch.diag(b)) == pytest.approx(
        expected, rel=1e-9
    )


def test_fid_on_shifted_gaussian_features_equals_squared_shift():
    """Features x and x + delta have identical sample covariances: FID = ||delta||^2."""
    gen = torch.Generator().manual_seed(1)
    cov_root = torch.randn(16, 16, generator=gen) / 4
    x = torch.randn(4000, 16, generator=gen) @ cov_root.T + 3.0
    delta = torch.randn(16, generator=gen)
    value = F.fid_from_features(x, x + delta)
    assert value == pytest.approx(float(delta.square().sum()), rel=1e-6)
    # independent samples from N(mu, S) and N(mu + delta, S): converges to ||delta||^2
    y = torch.randn(4000, 16, generator=gen) @ cov_root.T + 3.0 + delta
    assert F.fid_from_features(x, y) == pytest.approx(float(delta.square().sum()), rel=0.05)


def test_fid_metric_matches_features_function_and_sums_in_float64():
    gen = torch.Generator().manual_seed(2)
    real, fake = (
        torch.randn(300, 12, generator=gen),
        torch.randn(200, 12, generator=gen) * 1.5 + 0.3,
    )
    metric = FID(num_features=12)
    for chunk in real.split(64):
        metric.update(ExtractorOutput(chunk, chunk[:, :0]), real=True)
    for chunk in fake.split(50):
        metric.update(ExtractorOutput(chunk, chunk[:, :0]), real=False)
    assert metric.real_outer.dtype == torch.float64
    assert float(metric.compute()) == pytest.approx(F.fid_from_features(fake, real), rel=1e-9)


def test_fid_of_set_with_itself_is_zero_and_fid_is_symmetric(digits_extractor):
    a = smooth_images(120, 1, 28, seed=3)
    b = smooth_images(120, 1, 28, seed=4, gamma=2.0)
    same = FID(digits_extractor)
    same.update(a, real=True)
    same.update(a, real=False)
    assert abs(float(same.compute())) < 1e-6
    ab, ba = FID(digits_extractor), FID(digits_extractor)
    ab.update(a, real=True)
    ab.update(b, real=False)
    ba.update(b, real=True)
    ba.update(a, real=False)
    assert float(ab.compute()) > 1e-2
    assert float(ab.compute()) == pytest.approx(float(ba.compute()), rel=1e-9)


def test_inception_score_of_confident_balanced_logits_is_num_classes():
    logits = 50.0 * torch.nn.functional.one_hot(torch.arange(400) % 8, 8).float()
    mean, std = F.inception_score(logits, splits=1)
    assert mean == pytest.approx(8.0, rel=1e-6) and std == 0.0
    uniform_mean, _ = F.inception_score(torch.zeros(100, 8), splits=10)
    assert uniform_mean == pytest.approx(1.0, abs=1e-9)
    metric = InceptionScore(splits=1)
    metric.update(ExtractorOutput(torch.zeros(400, 3), logits), real=False)
    metric.update(ExtractorOutput(torch.zeros(5, 3), torch.zeros(5, 8)), real=True)  # ignored
    assert float(metric.compute()[0]) == pytest.approx(8.0, rel=1e-6)


def test_kid_near_zero_for_same_distribution_and_positive_for_shift():
    gen = torch.Generator().manual_seed(5)
    x, y = torch.randn(300, 10, generator=gen), torch.randn(300, 10, generator=gen)
    same, _ = F.kernel_inception_distance(x, y, subsets=20, subset_size=100)
    shifted, _ = F.kernel_inception_distance(x + 1.0, y, subsets=20, subset_size=100)
    assert abs(same) < 0.05 * shifted and shifted > 0
    metric = KID(subsets=20, subset_size=5000)  # capped at N: no error
    metric.update(ExtractorOutput(y, y), real=True)
    metric.update(ExtractorOutput(x + 1.0, x), real=False)
    assert float(metric.compute()[0]) == pytest.approx(
        F.kernel_inception_distance(x + 1.0, y, subsets=20, subset_size=300)[0]
    )


def test_precision_recall_identical_and_disjoint_sets():
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(200, 5, generator=gen)
    assert F.precision_recall(x, x.clone()) == (1.0, 1.0)
    assert F.precision_recall(x + 100.0, x) == (0.0, 0.0)
    # a fake set covering only half of the real modes: high precision, recall about one half
    modes = torch.cat([torch.randn(100, 5, generator=gen), torch.randn(100, 5, generator=gen) + 20])
    fake = torch.randn(100, 5, generator=gen)
    metric = PrecisionRecall()
    metric.update(ExtractorOutput(modes, modes), real=True)
    metric.update(ExtractorOutput(fake, fake), real=False)
    precision, recall = (float(v) for v in metric.compute())
    assert precision > 0.9 and 0.3 < recall < 0.6


def test_uint8_and_float_inputs_agree_and_bad_ranges_fail(digits_extractor):
    images = smooth_images(20, 1, 28, seed=7)
    from_float = digits_extractor(images).features
    from_uint8 = digits_extractor(images_to_uint8(images)).features
    torch.testing.assert_close(from_float, from_uint8)
    with pytest.raises(ValueError, match="to_unit_range"):
        digits_extractor(images * 2 - 1)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        digits_extractor(images[0])


def test_suite_rejects_unknown_metric_and_reports_all_keys(digits_extractor):
    with pytest.raises(ValueError, match="choose from"):
        SampleQualityMetrics(digits_extractor, metrics=["fid", "lpips"])
    suite = SampleQualityMetrics(digits_extractor, kid_subsets=5)
    suite.update(smooth_images(40, 1, 28, seed=8), real=True)
    suite.update(smooth_images(40, 1, 32, seed=9, gamma=2.0), real=False)
    results = suite.compute()
    assert set(results) == {
        "fid",
        "is_mean",
        "is_std",
        "kid_mean",
        "kid_std",
        "precision",
        "recall",
    }
    assert all(isinstance(v, float) for v in results.values())
