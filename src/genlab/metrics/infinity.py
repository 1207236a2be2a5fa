"""FID∞ and IS∞ (Chong & Forsyth 2020, "Effectively Unbiased FID and Inception Score and where to
find them", CVPR; official code mchong6/FID_IS_infinity, ``score_infinity.py``) and ``fd``.

FID computed from N generated samples is biased upwards by a term linear in 1/N. Like the
official ``calculate_FID_infinity``, FID is computed on ``points`` subsets of the generated
features with sizes evenly spaced from ``min_fraction * N`` to N (official: 5,000 to 50,000 of
50,000, so ``min_fraction`` 0.1, 15 points; each subset a fresh shuffle), against the reference
Gaussian of all real features; a least-squares line in 1/N is extrapolated to 1/N = 0. IS∞ does
the same with the Inception Score of one split per subset. The shuffles use
``np.random.RandomState(seed)`` (the official code uses NumPy's global RNG), so every DDP rank
(holding the same gathered features) gets the same value.

Settings (``metrics.options``): ``infinity_points`` (15), ``infinity_min_fraction`` (0.1).
Keys: ``fid_inf`` (squared feature units), ``is_inf`` (ratio); the subset sizes and the values at
each size go to the protocol record. ``fd``: the Fréchet distance of the extractor's features
under the name used for non-Inception features (FD_DINOv2 = ``fd`` with ``dinov2_vitl14``).
"""

from __future__ import annotations

import numpy as np
import torch

from genlab.metrics import functional as F
from genlab.metrics.registry import register_metric

DEFAULT_POINTS, DEFAULT_MIN_FRACTION = 15, 0.1


def subset_sizes(num: int, points: int, min_fraction: float) -> np.ndarray:
    """Evenly spaced subset sizes from ``min_fraction * num`` (at least 2) to ``num``, int."""
    low = max(2, int(round(min_fraction * num)))
    return np.unique(np.linspace(low, num, points).astype(np.int64))


def extrapolate(sizes: np.ndarray, values: np.ndarray) -> float:
    """Intercept at 1/N = 0 of the least-squares line through (1/N, value)."""
    slope, intercept = np.polyfit(1.0 / sizes.astype(np.float64), values.astype(np.float64), 1)
    return float(intercept)


def fid_infinity(
    fake: torch.Tensor,
    mu_real: torch.Tensor,
    sigma_real: torch.Tensor,
    points: int = DEFAULT_POINTS,
    min_fraction: float = DEFAULT_MIN_FRACTION,
    seed: int = F.TORCH_FIDELITY_DEFAULT_SEED,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Return (FID∞, subset sizes, FID at each size) of fake features (N, D) against the real
    Gaussian (mu_real (D,), sigma_real (D, D)); FID in squared feature units."""
    fake = fake.detach().double()
    sizes = subset_sizes(len(fake), points, min_fraction)
    rng = np.random.RandomState(seed)
    values = []
    for size in sizes:
        rows = fake[torch.from_numpy(rng.permutation(len(fake))[:size]).to(fake.device)]
        mu, sigma = F.statistics_from_sums(rows.sum(0), rows.T @ rows, len(rows))
        values.append(F.frechet_distance(mu, sigma, mu_real, sigma_real))
    values = np.asarray(values)
    return extrapolate(sizes, values), sizes, values


def is_infinity(
    logits: torch.Tensor,
    points: int = DEFAULT_POINTS,
    min_fraction: float = DEFAULT_MIN_FRACTION,
    seed: int = F.TORCH_FIDELITY_DEFAULT_SEED,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Return (IS∞, subset sizes, IS at each size) from fake logits (N, K), one split each."""
    sizes = subset_sizes(len(logits), points, min_fraction)
    rng = np.random.RandomState(seed)
    values = []
    for size in sizes:
        rows = logits[torch.from_numpy(rng.permutation(len(logits))[:size]).to(logits.device)]
        values.append(F.inception_score(rows, splits=1, seed=seed)[0])
    values = np.asarray(values)
    return extrapolate(sizes, values), sizes, values


def _settings(suite) -> tuple[int, float]:
    options = suite.options
    return (
        int(options.get("infinity_points", DEFAULT_POINTS)),
        float(options.get("infinity_min_fraction", DEFAULT_MIN_FRACTION)),
    )


@register_metric("fd", keys=("fd",), needs=("fid",))
def _fd(suite, state: dict) -> dict[str, float]:
    return {"fd": float(suite.fid.compute())}


@register_metric("fid_inf", keys=("fid_inf",), needs=("fid", "fake_features"))
def _fid_inf(suite, state: dict) -> dict:
    fid = suite.fid
    with fid.sync_context():  # the reference sums of every DDP rank (local states outside)
        mu, sigma = F.statistics_from_sums(fid.real_sum, fid.real_outer, fid.real_count)
    points, fraction = _settings(suite)
    fake = state["fake_features"]
    value, sizes, values = fid_infinity(fake, mu, sigma, points, fraction, suite.seed)
    return {"fid_inf": value, "fid_inf_sizes": sizes.tolist(), "fid_inf_values": values.tolist()}


@register_metric("is_inf", keys=("is_inf",), needs=("fake_logits",))
def _is_inf(suite, state: dict) -> dict:
    points, fraction = _settings(suite)
    value, sizes, values = is_infinity(state["fake_logits"], points, fraction, suite.seed)
    return {"is_inf": value, "is_inf_sizes": sizes.tolist(), "is_inf_values": values.tolist()}
