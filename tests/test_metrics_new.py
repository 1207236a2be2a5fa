"""CMMD vs a direct NumPy implementation, FID∞ on Gaussians with a known Fréchet distance, IS∞,
fd, and the tiny DINOv2/CLIP extractors through their local-weights path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genlab.metrics import functional as F
from genlab.metrics.cmmd import cmmd
from genlab.metrics.collection import SampleQualityMetrics
from genlab.metrics.extractors import ExtractorOutput, build_extractor
from genlab.metrics.infinity import fid_infinity, is_infinity
from helpers.vit import save_tiny_clip, save_tiny_dino


def numpy_cmmd(x: np.ndarray, y: np.ndarray, unbiased: bool) -> float:
    """The estimator written out pair by pair (Gretton et al. 2012 Eq. 3 / Eq. 5), σ=10, ×1000."""

    def k(a, b):
        return np.exp(-((a[:, None, :] - b[None, :, :]) ** 2).sum(-1) / (2 * 10.0**2))

    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    n, m = len(x), len(y)
    if unbiased:
        within = (kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (
            m * (m - 1)
        )
    else:
        within = kxx.mean() + kyy.mean()
    return 1000.0 * (within - 2 * kxy.mean())


@pytest.mark.parametrize("estimator", ["biased", "unbiased"])
def test_cmmd_equals_numpy(estimator):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 6)) * 3, rng.normal(size=(33, 6)) * 3 + 0.5
    got = cmmd(torch.from_numpy(x), torch.from_numpy(y), estimator=estimator, batch_size=7)
    # float64 both ways, different summation order: rel 1e-9
    assert got == pytest.approx(numpy_cmmd(x, y, estimator == "unbiased"), rel=1e-9)
    assert got > 0 or estimator == "unbiased"  # the V-statistic is >= 0, the U-statistic not


def test_fid_infinity_closer_to_truth_than_fid_at_largest_n():
    """N(0, I) vs N(m, s² I) in D=16: FD = |m|² + D (1 - s)²; FID at N is biased up by ~D/N."""
    dim, n = 16, 2000
    gen = torch.Generator().manual_seed(0)
    mean_shift, scale = 0.3, 1.5
    true_fd = dim * mean_shift**2 + dim * (1 - scale) ** 2
    fake = torch.randn(n, dim, generator=gen, dtype=torch.float64) * scale + mean_shift
    mu_r, sigma_r = torch.zeros(dim, dtype=torch.float64), torch.eye(dim, dtype=torch.float64)
    fid_inf, sizes, values = fid_infinity(fake, mu_r, sigma_r, points=15, min_fraction=0.1, seed=1)
    fid_n = F.frechet_distance(fake.mean(0), torch.cov(fake.T), mu_r, sigma_r)
    assert sizes[0] == 200 and sizes[-1] == n and values[-1] == pytest.approx(fid_n, rel=1e-9)
    assert abs(fid_inf - true_fd) < abs(fid_n - true_fd)  # the point of FID∞
    assert values[0] > values[-1]  # smaller subsets: larger bias


def test_is_infinity_and_suite_keys():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(300, 10, generator=gen) * 2
    value, sizes, values = is_infinity(logits, points=5, min_fraction=0.2, seed=3)
    assert len(sizes) == 5 and min(values) >= 1.0 and np.isfinite(value)
    real, fake = torch.randn(300, 8, generator=gen), torch.randn(300, 8, generator=gen) + 0.2
    suite = SampleQualityMetrics(
        _FeatureOnly(8), ("fid", "fd", "fid_inf", "is_inf", "cmmd"), options={"infinity_points": 4}
    )
    suite.update(ExtractorOutput(real, torch.zeros(300, 10)), real=True)
    suite.update(ExtractorOutput(fake, logits), real=False)
    out = suite.compute()
    assert set(out) == {"fid", "fd", "fid_inf", "is_inf", "cmmd"}
    assert out["fd"] == out["fid"] and len(suite.details["fid_inf"]["fid_inf_sizes"]) == 4


class _FeatureOnly(torch.nn.Module):
    name, num_features, num_classes = "features", 0, 10
    resize_mode, input_size = "none", 0

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.num_features = dim


def test_vit_extractors_local_weights(tmp_path):
    dino_path, clip_path = save_tiny_dino(tmp_path / "d.pt"), save_tiny_clip(tmp_path / "c.pt")
    weights = {"dinov2_tiny": str(dino_path), "clip_tiny": str(clip_path)}
    dino = build_extractor("dinov2_tiny", extractor_weights=weights)
    clip = build_extractor("clip_tiny", extractor_weights=weights, resize="dgm_eval")
    x = (torch.rand(3, 1, 20, 20, generator=torch.Generator().manual_seed(0)) * 255).byte()
    out_d, out_c = dino(x), clip(x)
    assert out_d.features.shape == (3, 24) and out_d.logits.shape == (3, 0)
    torch.testing.assert_close(out_c.features.norm(dim=1), torch.ones(3))  # unit embeddings
    assert dino.resize_mode == "dgm_eval" and clip.resize_mode == "dgm_eval"
    assert len(dino.weights_hash) == 12 and dino.weights_path == str(dino_path.resolve())
    again = build_extractor("dinov2_tiny", extractor_weights=weights)
    assert torch.equal(again(x).features, out_d.features)  # the file, not a fresh init
    with pytest.raises(FileNotFoundError, match="metrics.extractor_weights.dinov2_tiny"):
        build_extractor("dinov2_tiny", extractor_weights={"dinov2_tiny": str(tmp_path / "no")})
