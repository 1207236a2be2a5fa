"""KID and precision/recall on the features' device agree with torch-fidelity's own code."""

from __future__ import annotations

import pytest
import torch
from torch_fidelity.metric_kid import kid_features_to_metric
from torch_fidelity.metric_prc import calculate_precision_recall_part

from genlab.metrics import functional as F
from genlab.metrics.batched import kid_batched, precision_recall_blocks


def features(n: int, dim: int, shift: float, seed: int) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed)) + shift


def fidelity_kid(fake, real, subsets, size, seed=2020):
    out = kid_features_to_metric(
        fake,
        real,
        kid_subsets=subsets,
        kid_subset_size=size,
        kid_kernel="poly",
        kid_kernel_poly_degree=3,
        kid_kernel_poly_gamma=None,
        kid_kernel_poly_coef0=1,
        rng_seed=seed,
        verbose=False,
    )
    return out["kernel_inception_distance_mean"], out["kernel_inception_distance_std"]


@pytest.mark.parametrize("size", [40, 120])
def test_kid_batched_matches_torch_fidelity(size):
    fake, real = features(150, 256, 0.1, 0), features(120, 256, 0.0, 1)
    mean, std = kid_batched(fake, real, subsets=30, size=size, degree=3, seed=7)
    their_mean, their_std = fidelity_kid(fake, real, 30, size, seed=7)
    assert mean == pytest.approx(their_mean, rel=1e-4)
    assert std == pytest.approx(their_std, rel=1e-3, abs=1e-6)


@pytest.mark.parametrize("subset_size", [120, 1000])  # = N, and > N (capped: same subsets)
def test_kid_fast_path_equals_torch_fidelitys_subsets(subset_size):
    """subset size >= N (N fake = N real): one exact evaluation instead of the subsets.

    Tolerances: every torch-fidelity subset is the full set permuted, so its mean is the same
    MMD^2 summed in another order in float32: |diff| <= 1e-6 absolute (kernel values are O(1),
    float32 eps 1.2e-7; measured <= 7e-8). Its std is that rounding noise (measured ~1.2e-7),
    ours exactly 0: compared with an absolute tolerance of 1e-6, not relatively."""
    fake, real = features(120, 64, 0.2, 2), features(120, 64, 0.0, 3)
    mean, std = F.kernel_inception_distance(fake, real, subsets=10, subset_size=subset_size)
    their_mean, their_std = fidelity_kid(fake, real, 10, 120, seed=2020)
    assert mean == pytest.approx(their_mean, abs=1e-6) and abs(mean) > 1e-3
    assert std == 0.0 and their_std == pytest.approx(std, abs=1e-6)
    assert F.kid_is_exact(120, 120, subset_size) and not F.kid_is_exact(120, 121, 1000)


def test_kid_on_cpu_is_torch_fidelity_bit_for_bit():
    fake, real = features(80, 64, 0.1, 4), features(80, 64, 0.0, 5)
    assert F.kernel_inception_distance(fake, real, 20, 50) == fidelity_kid(fake, real, 20, 50)


@pytest.mark.parametrize("batch_size", [16, 1000])
def test_precision_recall_blocks_equal_torch_fidelity(batch_size):
    fake, real = features(90, 16, 0.3, 6), features(70, 16, 0.0, 7)
    ours = precision_recall_blocks(fake, real, k=3, batch_size=batch_size)
    assert ours == calculate_precision_recall_part(fake, real, 3, batch_size)
    assert F.precision_recall(fake, real, 3, batch_size) == ours


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_metrics_on_gpu_match_cpu():
    fake, real = features(300, 128, 0.1, 8), features(300, 128, 0.0, 9)
    cpu = F.kernel_inception_distance(fake, real, 20, 100)
    gpu = F.kernel_inception_distance(fake.cuda(), real.cuda(), 20, 100)
    assert gpu[0] == pytest.approx(cpu[0], rel=1e-3)
    assert F.precision_recall(fake.cuda(), real.cuda()) == F.precision_recall(fake, real)
