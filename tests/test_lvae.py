"""Ladder VAE (issue 16): the IW-NLL is exact on a linear-Gaussian ladder whose posterior is
exact, is <= -ELBO within Monte Carlo error on a random model, and KL warm-up ramps beta."""

from __future__ import annotations

import functools
import math

import torch

from genlab.models.vae import VAE
from genlab.nets.ladder import LadderDecoder, LadderEncoder
from genlab.objectives import bounds
from genlab.objectives.ladder import LadderPosterior, LadderPrior, WarmupELBO
from genlab.objectives.likelihoods import Bernoulli


def _inv_softplus(v: torch.Tensor) -> torch.Tensor:
    return torch.log(torch.expm1(v - 1e-6))


def test_iw_nll_is_the_exact_log_px_on_a_linear_gaussian_ladder():
    """z_2 ~ N(0, 1), z_1 | z_2 ~ N(a z_2 + b, s1^2), x | z_1 ~ N(c z_1 + e, sx^2) per dim.
    With the bottom-up estimates set to the likelihood's factor in z_1 (mu_hat_1 = (x - e)/c,
    var_hat_1 = sx^2/c^2) and to the exact p(z_2 | x) at the top, precision-weighted merging
    gives the exact posterior, so every importance weight equals p(x): log w = log p(x)
    sample by sample (tolerance 1e-4 nats per dimension: float32)."""
    n, a, b, s1, c, e, sx = 3, 0.8, 0.3, 0.5, 1.5, -0.2, 0.4
    prior = LadderPrior([n, n], hidden=0)
    with torch.no_grad():
        lin = prior.top_down[0]  # z_2 -> (mu, pre-var) of z_1
        lin.weight.zero_()
        lin.weight[:n, :n] = a * torch.eye(n)
        lin.bias[:n] = b
        lin.bias[n:] = _inv_softplus(torch.tensor(s1**2))
    owner = torch.nn.Module()
    owner.prior = prior
    family = LadderPosterior()
    family.bind(owner)
    x = torch.randn(5, n) * 2
    var_x = c**2 * (a**2 + s1**2) + sx**2  # marginal variance of x
    prec2 = 1 + (c * a) ** 2 / (c**2 * s1**2 + sx**2)
    mu2 = (c * a * (x - c * b - e) / (c**2 * s1**2 + sx**2)) / prec2
    mu_hat = torch.cat([(x - e) / c, mu2], -1)
    var_hat = torch.cat([torch.full_like(x, sx**2 / c**2), torch.full_like(x, 1 / prec2)], -1)
    q = family((mu_hat, _inv_softplus(var_hat)))
    z, log_q = q.rsample(200, generator=torch.Generator().manual_seed(0))
    log_px_z = bounds.log_normal_diag(x, c * z[..., :n] + e, torch.full_like(x, sx**2).log())
    log_w = log_px_z + prior.log_prob(z) - log_q
    exact = bounds.log_normal_diag(
        x, torch.full_like(x, c * b + e), torch.full_like(x, var_x).log()
    )
    assert torch.allclose(log_w, exact.expand_as(log_w), atol=1e-4 * n)
    assert torch.allclose(bounds.iw_bound(log_w), exact, atol=1e-4 * n)


def _lvae() -> VAE:
    sizes = [4, 3, 2]
    return VAE(
        LadderEncoder(1, 8, sizes, [32, 16, 8]),
        LadderDecoder(sizes, 1, 8, [32]),
        Bernoulli(),
        functools.partial(torch.optim.Adam, lr=1e-3),
        latent_dim=9,
        objective=WarmupELBO(warmup_steps=10),
        prior=LadderPrior(sizes, hidden=8),
        posterior=LadderPosterior(),
    )


def test_iw_nll_is_at_most_minus_the_elbo_within_monte_carlo_error():
    """-ELBO is estimated with 400 samples per example; the IW-NLL (K = 400) must not exceed
    it by more than 3 standard errors of that estimate."""
    torch.manual_seed(0)
    model = _lvae().eval()
    x = torch.bernoulli(torch.full((6, 1, 8, 8), 0.3))
    with torch.no_grad():
        log_w = model.log_weights(x, None, model.posterior_of(x), 400)
        neg_elbo, se = -log_w.mean(0), log_w.std(0) / math.sqrt(400)
        nll = model.iw_nll(x, num_samples=400, chunk=100)
    assert (nll <= neg_elbo + 3 * se).all()
    assert (nll < neg_elbo).any()  # a random q is not the posterior: a strictly tighter bound


def test_kl_warm_up_ramps_beta_and_the_prior_samples_top_down():
    model = _lvae()
    objective = model.objective
    assert [objective.weight(t) for t in (0, 5, 10, 50)] == [0.0, 0.5, 1.0, 1.0]
    x = torch.bernoulli(torch.full((4, 1, 8, 8), 0.3))
    terms = model.step(x)  # global_step 0 in training mode: beta = 0, loss = -recon
    assert float(terms["kl_weight"]) == 0.0
    assert torch.allclose(terms["loss"], -terms["recon"])
    model.eval()
    terms = model.step(x)  # evaluation: beta = 1
    assert torch.allclose(terms["loss"], -terms["elbo"])
    z = model.sample_noise(5, torch.Generator().manual_seed(0))
    assert z.shape == (5, 9) and torch.isfinite(model.prior.log_prob(z)).all()
