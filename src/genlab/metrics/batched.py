"""KID and precision/recall computed where the features are (e.g. the GPU), in bounded memory.

Same estimators, subsets and seeds as torch-fidelity (``metric_kid``, ``metric_prc``):
  * ``kid_batched``: the subsets are drawn with ``np.random.RandomState(seed).choice`` exactly
    as ``kid_features_to_metric`` draws them (fake rows, then real rows, per subset), and the
    unbiased MMD^2 with kernel (x.y / D + 1)^degree is computed for many subsets at once with
    batched matrix products in float32 (torch-fidelity's dtype), sums in float64.
  * ``precision_recall_blocks``: torch-fidelity's ``calculate_precision_recall_part`` with
    every distance block kept on the features' device (torch-fidelity moves each block to the
    CPU), so 50k-vs-50k runs on the GPU.
Memory: ``kid_batched`` holds ``3 * chunk * m^2`` kernel values (chunk = subsets per batch,
m = subset size), ``precision_recall_blocks`` one ``batch_size x N`` distance block.
"""

from __future__ import annotations

import numpy as np
import torch

KID_MEMORY_BYTES = 512 * 2**20  #: budget for one chunk of kernel matrices


def kid_subset_indices(n_fake: int, n_real: int, subsets: int, size: int, seed: int):
    """Return (fake_idx, real_idx), each int64 (subsets, size): torch-fidelity's draws."""
    rng = np.random.RandomState(seed)
    fake_idx, real_idx = [], []
    for _ in range(subsets):
        fake_idx.append(rng.choice(n_fake, size, replace=False))
        real_idx.append(rng.choice(n_real, size, replace=False))
    return torch.from_numpy(np.stack(fake_idx)), torch.from_numpy(np.stack(real_idx))


def mmd2_unbiased_poly(x: torch.Tensor, y: torch.Tensor, degree: int) -> torch.Tensor:
    """Unbiased MMD^2 per batch row for x, y (S, m, D) with the polynomial kernel; (S,) float64."""
    m, dim = x.shape[1], x.shape[2]

    def kernel_sum(a: torch.Tensor, b: torch.Tensor, drop_diagonal: bool) -> torch.Tensor:
        k = (torch.bmm(a, b.transpose(1, 2)) / dim + 1.0) ** degree
        total = k.double().sum(dim=(1, 2))
        if drop_diagonal:
            total = total - k.diagonal(dim1=1, dim2=2).double().sum(1)
        return total

    within = kernel_sum(x, x, True) + kernel_sum(y, y, True)
    return within / (m * (m - 1)) - 2.0 * kernel_sum(x, y, False) / (m * m)


def kid_batched(
    fake: torch.Tensor, real: torch.Tensor, subsets: int, size: int, degree: int, seed: int
) -> tuple[float, float]:
    """Return (mean, std) of the unbiased polynomial-kernel MMD^2 over ``subsets`` subsets of
    ``size`` rows (squared feature units), computed on the features' device."""
    fake, real = fake.float(), real.float()
    fake_idx, real_idx = kid_subset_indices(len(fake), len(real), subsets, size, seed)
    chunk = max(1, KID_MEMORY_BYTES // (3 * size * size * 4))
    values = []
    for start in range(0, subsets, chunk):
        f = fake[fake_idx[start : start + chunk].to(fake.device)]
        r = real[real_idx[start : start + chunk].to(real.device)]
        values.append(mmd2_unbiased_poly(f, r, degree))
    mmds = torch.cat(values)
    return float(mmds.mean()), float(mmds.std(unbiased=False))


def _cdist_blocks(rows: torch.Tensor, others: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Distances (len(rows), len(others)) computed in column blocks, on the inputs' device."""
    return torch.cat([torch.cdist(rows, block) for block in others.split(batch_size)], dim=1)


def _kth_radius(features: torch.Tensor, k: int, batch_size: int) -> torch.Tensor:
    """Distance of every row to its k-th nearest other row (the row itself is the 1st), (N,)."""
    return torch.cat(
        [
            _cdist_blocks(block, features, batch_size).kthvalue(k + 1).values
            for block in features.split(batch_size)
        ]
    )


def _coverage(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, bs: int) -> float:
    """Fraction of ``points`` inside at least one ball (centre, radius)."""
    inside = [(_cdist_blocks(block, centres, bs) <= radii).any(dim=1) for block in points.split(bs)]
    return torch.cat(inside).float().mean().item()


def precision_recall_blocks(
    fake: torch.Tensor, real: torch.Tensor, k: int = 3, batch_size: int = 1000
) -> tuple[float, float]:
    """Return (precision, recall) in [0, 1]: torch-fidelity's block algorithm on the device."""
    fake, real = fake.float(), real.float()
    recall = _coverage(real, fake, _kth_radius(fake, k, batch_size), batch_size)
    precision = _coverage(fake, real, _kth_radius(real, k, batch_size), batch_size)
    return precision, recall
