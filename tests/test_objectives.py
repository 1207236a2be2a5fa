"""Bounds and likelihoods against closed forms."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from genlab.models.vae import VAE
from genlab.objectives import bounds
from genlab.objectives.likelihoods import Bernoulli, DiscretizedLogistic, Likelihood


def test_bits_per_dim_discrete_and_continuous():
    nll = torch.tensor([784 * math.log(2.0)])  # one bit per dimension
    assert bounds.bits_per_dim(nll, 784).item() == pytest.approx(1.0)
    # continuous density: + log(256) nats per dimension = + 8 bits per dimension
    assert bounds.bits_per_dim(nll, 784, discrete=False).item() == pytest.approx(9.0)


def test_gaussian_kl_matches_monte_carlo():
    torch.manual_seed(0)
    mu, logvar = torch.randn(1, 3), torch.randn(1, 3) * 0.3
    z = mu + (0.5 * logvar).exp() * torch.randn(200_000, 3)
    mc = (bounds.log_normal_diag(z, mu, logvar) - bounds.log_standard_normal(z)).mean()
    analytic = bounds.gaussian_kl_per_dim(mu, logvar).sum()
    assert mc.item() == pytest.approx(analytic.item(), abs=0.02)


def test_iw_bound_is_logmeanexp():
    log_w = torch.log(torch.tensor([[1.0], [3.0]]))
    assert bounds.iw_bound(log_w).item() == pytest.approx(math.log(2.0))


def test_bernoulli_log_prob_formula():
    logits = torch.tensor([[[[0.3, -1.2]]]])
    x = torch.tensor([[[[1.0, 0.0]]]])
    p = torch.sigmoid(logits)
    expected = (x * p.log() + (1 - x) * (1 - p).log()).sum()
    assert Bernoulli().log_prob(logits, x).item() == pytest.approx(expected.item(), rel=1e-6)


def test_discretized_logistic_is_a_distribution_over_256_levels():
    likelihood = DiscretizedLogistic()
    params = torch.tensor([0.2, -1.5]).view(1, 2, 1, 1)  # (mean logit, log scale)
    levels = torch.arange(256.0).view(256, 1, 1, 1) / 255.0
    total = likelihood.log_prob(params.expand(256, 2, 1, 1), levels).exp().sum()
    assert total.item() == pytest.approx(1.0, abs=1e-4)


class _LinearGaussian(Likelihood):
    """p(x | z) = N(x; decoder(z), sigma^2 I) with identity mean map (test-only)."""

    discrete = False

    def __init__(self, sigma: float) -> None:
        super().__init__()
        self.sigma = sigma

    def log_prob(self, params, x):
        return torch.distributions.Normal(params, self.sigma).log_prob(x).flatten(1).sum(1)

    def mean(self, params):
        return params


class _LinearEncoder(nn.Module):
    def __init__(self, a: torch.Tensor, c: torch.Tensor, logvar: torch.Tensor, dim: int):
        super().__init__()
        self.a, self.c, self.logvar = a, c, logvar
        self.data_shape = (1, 1, dim)

    def forward(self, x):
        mu = x.flatten(1) @ self.a.T + self.c
        return mu, self.logvar.expand_as(mu)


class _LinearDecoder(nn.Module):
    def __init__(self, w: torch.Tensor, b: torch.Tensor, dim: int):
        super().__init__()
        self.w, self.b = w, b
        self.data_shape = (1, 1, dim)

    def forward(self, z):
        return (z @ self.w.T + self.b).view(-1, 1, 1, self.b.numel())


def _linear_gaussian_vae(exact: bool):
    """A VAE whose marginal p(x) = N(b, W W^T + s^2 I) is known in closed form."""
    gen = torch.Generator().manual_seed(0)
    x_dim, z_dim, sigma = 4, 2, 0.5
    # orthogonal columns make the true posterior covariance diagonal, as the encoder's is
    q, _ = torch.linalg.qr(torch.randn(x_dim, z_dim, generator=gen))
    w, b = q * torch.tensor([1.5, 0.8]), torch.randn(x_dim, generator=gen)
    post_cov = torch.linalg.inv(torch.eye(z_dim) + w.T @ w / sigma**2)
    a = post_cov @ w.T / sigma**2  # exact posterior mean: a (x - b)
    logvar = torch.log(torch.diagonal(post_cov))
    if not exact:  # a mis-specified encoder: the bound is strict and tightens with K
        a, logvar = a * 0.7, logvar + 0.5
    enc = _LinearEncoder(a, -(a @ b), logvar, x_dim)
    vae = VAE(enc, _LinearDecoder(w, b, x_dim), _LinearGaussian(sigma), torch.optim.Adam, z_dim)
    marginal = torch.distributions.MultivariateNormal(b, w @ w.T + sigma**2 * torch.eye(x_dim))
    x = marginal.sample((8,)).view(8, 1, 1, x_dim)
    return vae, x, marginal.log_prob(x.flatten(1))


def test_iw_nll_converges_to_exact_log_likelihood_linear_gaussian():
    torch.manual_seed(1)
    vae, x, log_px = _linear_gaussian_vae(exact=False)
    nll_small = vae.iw_nll(x, num_samples=1, chunk=1)
    nll_big = vae.iw_nll(x, num_samples=20_000, chunk=2_000)
    elbo = vae.step(x)["elbo"]
    # the bound: -NLL_K <= log p(x); with K = 20000 it reaches the exact value
    assert torch.allclose(-nll_big, log_px, atol=0.02)
    assert (nll_big.mean() <= -elbo.mean() + 0.05).item()
    assert (nll_big.mean() < nll_small.mean()).item()


def test_iw_nll_is_exact_for_the_true_posterior():
    """With q = p(z | x) every importance weight equals p(x): any K gives log p(x)."""
    torch.manual_seed(2)
    vae, x, log_px = _linear_gaussian_vae(exact=True)
    assert torch.allclose(-vae.iw_nll(x, num_samples=3, chunk=2), log_px, atol=1e-4)
