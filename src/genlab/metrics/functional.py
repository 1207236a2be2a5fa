"""Sample-quality scores as pure functions of features: FID, IS, KID, precision/recall.

The arithmetic is torch-fidelity's own (``metric_fid``, ``metric_isc``, ``metric_kid``,
``metric_prc``), called rather than re-implemented, so that given the same features genlab's
numbers are torch-fidelity's, including its random subsets: IS shuffles the logits with
``np.random.RandomState(seed).permutation`` and KID draws each subset with
``RandomState(seed).choice`` from input1 (generated) then input2 (real). Feature order therefore
matters: pass features in the order the images were given.

Units: FID and KID are in squared feature units (Inception pool features for ``inception``);
IS is a perplexity-like ratio in [1, num_classes]; precision and recall are fractions in [0, 1].
"""

from __future__ import annotations

import numpy as np
import torch
from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric
from torch_fidelity.metric_isc import (
    KEY_METRIC_ISC_MEAN,
    KEY_METRIC_ISC_STD,
    isc_features_to_metric,
)
from torch_fidelity.metric_kid import (
    KEY_METRIC_KID_MEAN,
    KEY_METRIC_KID_STD,
    kid_features_to_metric,
)

from genlab.metrics.batched import kid_batched, mmd2_unbiased_poly, precision_recall_blocks

TORCH_FIDELITY_DEFAULT_SEED = 2020
#: one exact KID evaluation when subset size >= N (benchmarks switch it off to time the old path)
KID_FAST_PATH = True


def statistics_from_sums(
    total: torch.Tensor, outer: torch.Tensor, count: int | torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (mean (D,), unbiased covariance (D, D)) in float64 from running sums.

    Args:
        total: sum of the feature vectors, (D,).
        outer: sum of their outer products x x^T, (D, D).
        count: number of vectors (at least 2).
    """
    n = int(count)
    if n < 2:
        raise ValueError(f"FID needs at least 2 samples per set, got {n}")
    mean = total.double() / n
    cov = (outer.double() - n * torch.outer(mean, mean)) / (n - 1)
    return mean, cov


def frechet_distance(
    mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor
) -> float:
    """Return ||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)) computed in float64 (a float).

    Uses torch-fidelity's ``fid_statistics_to_metric`` (trace of the matrix square root from the
    eigenvalues of S1 S2, as in the TTUR reference code).
    """

    def stats(mu: torch.Tensor, sigma: torch.Tensor) -> dict[str, np.ndarray]:
        return {
            "mu": mu.detach().double().cpu().numpy(),
            "sigma": sigma.detach().double().cpu().numpy(),
        }

    return float(
        fid_statistics_to_metric(stats(mu1, sigma1), stats(mu2, sigma2), False)[KEY_METRIC_FID]
    )


def fid_from_features(features1: torch.Tensor, features2: torch.Tensor) -> float:
    """Return the Fréchet distance between Gaussians fitted to two (N, D) feature sets (a float)."""
    f1, f2 = features1.double(), features2.double()
    mu1, sigma1 = statistics_from_sums(f1.sum(0), f1.T @ f1, len(f1))
    mu2, sigma2 = statistics_from_sums(f2.sum(0), f2.T @ f2, len(f2))
    return frechet_distance(mu1, sigma1, mu2, sigma2)


def inception_score(
    logits: torch.Tensor, splits: int = 10, seed: int = TORCH_FIDELITY_DEFAULT_SEED
) -> tuple[float, float]:
    """Return (mean, std) over ``splits`` of exp(E_x KL(p(y|x) || p(y))) from (N, K) logits.

    The logits are shuffled with ``RandomState(seed)`` first, exactly as torch-fidelity does.
    """
    if len(logits) < splits:
        raise ValueError(
            f"Inception Score needs at least splits={splits} samples, got {len(logits)}"
        )
    out = isc_features_to_metric(logits.detach().float().cpu(), splits, True, seed)
    return out[KEY_METRIC_ISC_MEAN], out[KEY_METRIC_ISC_STD]


def kernel_inception_distance(
    fake: torch.Tensor,
    real: torch.Tensor,
    subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    seed: int = TORCH_FIDELITY_DEFAULT_SEED,
    batched: bool | None = None,
) -> tuple[float, float]:
    """Return (mean, std) of the unbiased MMD^2 with kernel (x.y / D + 1)^degree over subsets.

    ``subset_size`` is capped at min(len(fake), len(real)); torch-fidelity would raise instead.
    Fast path: when ``subset_size >= N`` with N generated = N real images, every subset is the
    whole set in another order and the unbiased MMD^2 does not depend on the order, so one exact
    evaluation (:func:`kid_exact`) is every subset's value: std 0 (torch-fidelity's 100 subsets
    give the same mean up to float32 rounding and a std of float32 noise); ~7.6 s -> ~0.02 s
    per evaluation at N = 1,000 digits features on this CPU.
    Each subset draws ``subset_size`` fake rows, then real rows, without replacement.
    ``batched``: compute on the features' device with batched matrix products
    (``genlab.metrics.batched.kid_batched``: same subsets, float32 kernels, float64 sums);
    None = batched when the features are on an accelerator, torch-fidelity's own NumPy loop
    for CPU features (bit-for-bit torch-fidelity's numbers).
    """
    size = min(subset_size, len(fake), len(real))
    if size < 2:
        raise ValueError(f"KID needs at least 2 samples per set, got {len(fake)} and {len(real)}")
    if kid_is_exact(len(fake), len(real), subset_size) and KID_FAST_PATH:
        return kid_exact(fake.detach(), real.detach().to(fake.device), degree), 0.0
    if batched is None:
        batched = fake.device.type != "cpu"
    if batched:
        return kid_batched(
            fake.detach(), real.detach().to(fake.device), subsets, size, degree, seed
        )
    out = kid_features_to_metric(
        fake.detach().float().cpu(),
        real.detach().float().cpu(),
        kid_subsets=subsets,
        kid_subset_size=size,
        kid_kernel="poly",
        kid_kernel_poly_degree=degree,
        rng_seed=seed,
        verbose=False,
    )
    return out[KEY_METRIC_KID_MEAN], out[KEY_METRIC_KID_STD]


def kid_is_exact(num_fake: int, num_real: int, subset_size: int) -> bool:
    """True when KID's subsets are all the full sets (subset size >= N fake = N real)."""
    return num_fake == num_real and subset_size >= num_fake


def kid_exact(fake: torch.Tensor, real: torch.Tensor, degree: int = 3) -> float:
    """Unbiased polynomial-kernel MMD^2 of the full sets (N, D) (squared feature units):
    float32 kernels as torch-fidelity, float64 sums (``genlab.metrics.batched``)."""
    return float(mmd2_unbiased_poly(fake.float()[None], real.float()[None], degree)[0])


def precision_recall(
    fake: torch.Tensor, real: torch.Tensor, k: int = 3, batch_size: int = 1000
) -> tuple[float, float]:
    """Return improved (precision, recall) of Kynkäänniemi et al. 2019 with k-NN radii.

    Precision: fraction of fake samples inside some real sample's k-NN ball; recall: fraction of
    real samples inside some fake sample's ball. Distances are computed in row blocks of
    ``batch_size`` (memory ~ batch_size x N x 4 bytes) on the features' device, with
    torch-fidelity's block algorithm (``calculate_precision_recall_part``).
    """
    if min(len(fake), len(real)) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} samples per set")
    return precision_recall_blocks(fake.detach(), real.detach().to(fake.device), k, batch_size)
