"""Unit tests of the VAE zoo's objectives on small tensors and a tiny stand-in model:
beta-TC-VAE's decomposition, MMD, MIWAE/CIWAE/PIWAE and DIP-VAE (issue 16)."""

from __future__ import annotations

import math

import pytest
import torch

from genlab.objectives.dip import DIPVAE, batch_covariance, dip_penalty
from genlab.objectives.miwae import CIWAE, MIWAE, PIWAE, iw_bound, miwae_bound
from genlab.objectives.mmd import WAE, InfoVAE, imq_kernel, mmd, rbf_kernel
from genlab.objectives.tcvae import (
    BetaTCVAE,
    log_importance_weight_matrix,
    log_normal_elementwise,
    tc_decomposition,
)
from genlab.utils.ranges import RangeError
from helpers.zoo_fake import FakeVAE, Gauss


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _batch(b: int = 8, seed: int = 1) -> torch.Tensor:
    return torch.bernoulli(torch.full((b, 1, 4, 4), 0.5), generator=_gen(seed))


# ----- beta-TC-VAE -----
def test_stratified_weights_rows_sum_to_one_and_own_example_gets_one_over_n():
    w = log_importance_weight_matrix(5, 100).exp()
    torch.testing.assert_close(w.sum(1), torch.ones(5, dtype=torch.float64), rtol=0, atol=1e-12)
    torch.testing.assert_close(w.diagonal(), torch.full((5,), 0.01, dtype=torch.float64))
    assert w[4, 0] == pytest.approx((100 - 4) / (100 * 4))  # the stratum weight wraps around


def test_tc_decomposition_on_a_data_independent_posterior():
    """q(z|x) = N(0, s^2 I) for every x: MI = TC = 0 and the dimension-wise KL is the whole KL,
    KL(N(0, s^2) || N(0, 1)) per dim. MSS with N = B is exact here (rows of weights sum to one);
    MWS is offset by log N in log q(z) (its weights sum to 1/N), so MI = log N and
    TC = (D - 1) log N exactly (Chen et al.'s normalizer log(B N))."""
    b, d, s = 400, 3, 0.5
    gen = _gen()
    mu, logvar = torch.zeros(b, d, dtype=torch.float64), torch.full((b, d), 2 * math.log(s))
    logvar = logvar.double()
    z = s * torch.randn(b, d, generator=gen, dtype=torch.float64)
    log_pz = -0.5 * (math.log(2 * math.pi) + z**2)
    mss = tc_decomposition(z, mu, logvar, log_pz, dataset_size=b, estimator="mss")
    torch.testing.assert_close(mss["mi"], torch.zeros_like(mss["mi"]), rtol=0, atol=1e-9)
    torch.testing.assert_close(mss["tc"], torch.zeros_like(mss["tc"]), rtol=0, atol=1e-9)
    kl_exact = d * (0.5 * (s**2 - 1) - math.log(s))
    se = mss["dim_kl"].std() / math.sqrt(b)
    assert abs(mss["dim_kl"].mean() - kl_exact) < 4 * se  # Monte Carlo: 4 standard errors
    n = 60000
    mws = tc_decomposition(z, mu, logvar, log_pz, dataset_size=n, estimator="mws")
    torch.testing.assert_close(mws["mi"], torch.full((b,), math.log(n), dtype=torch.float64))
    torch.testing.assert_close(mws["tc"], torch.full((b,), (d - 1) * math.log(n)).double())


@pytest.mark.parametrize("estimator", ["mss", "mws"])
def test_tc_parts_add_up_to_the_sampled_kl(estimator):
    """MI + TC + dimension-wise KL = log q(z_i|x_i) - log p(z_i) per example (to 1e-10)."""
    gen = _gen(3)
    mu = torch.randn(6, 4, generator=gen, dtype=torch.float64)
    logvar = 0.3 * torch.randn(6, 4, generator=gen, dtype=torch.float64)
    z = mu + (0.5 * logvar).exp() * torch.randn(6, 4, generator=gen, dtype=torch.float64)
    log_pz = -0.5 * (math.log(2 * math.pi) + z**2)
    parts = tc_decomposition(z, mu, logvar, log_pz, 100, estimator)
    kl = log_normal_elementwise(z, mu, logvar).sum(-1) - log_pz.sum(-1)
    torch.testing.assert_close(parts["mi"] + parts["tc"] + parts["dim_kl"], kl, atol=1e-10, rtol=0)


def test_beta_tc_vae_with_unit_weights_is_the_elbo():
    torch.manual_seed(0)
    model = FakeVAE()
    x = _batch()
    q = model.posterior_of(x)
    out = BetaTCVAE(alpha=1, beta=1, gamma=1, dataset_size=50)(model, x, None, q, _gen())
    torch.testing.assert_close(out["loss"], -out["elbo"], rtol=1e-5, atol=1e-5)
    out6 = BetaTCVAE(beta=6, dataset_size=50)(model, x, None, q, _gen())
    torch.testing.assert_close(out6["loss"], -out["elbo"] + 5 * out["tc"], rtol=1e-5, atol=1e-5)


def test_beta_tc_vae_refuses_bad_values():
    with pytest.raises(RangeError, match="beta"):
        BetaTCVAE(beta=-1)
    with pytest.raises(RangeError, match="dataset_size"):
        BetaTCVAE(dataset_size=2.5)
    with pytest.raises(ValueError, match="estimator"):
        BetaTCVAE(estimator="mcmc")


# ----- MMD -----
def test_kernels_by_hand():
    a, b = torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 1.0]])  # ||a - b||^2 = 2, D = 2
    assert rbf_kernel(a, b, bandwidth=1.0).item() == pytest.approx(math.exp(-2 / 4))
    assert imq_kernel(a, b, 1.0, scales=[1.0, 2.0]).item() == pytest.approx(4 / 6 + 8 / 10)


@pytest.mark.parametrize("kernel", ["rbf", "imq"])
def test_mmd_identical_and_shifted_samples(kernel):
    """mmd(a, a) lies in [-2 k(0) / n, 0] (U-statistic within terms, V-statistic cross term);
    two independent samples of N(0, I) give |MMD| < 0.01 at n = 400, a shift by 1 gives > 0.05."""
    gen = _gen(5)
    a = torch.randn(400, 4, generator=gen, dtype=torch.float64)
    b = torch.randn(400, 4, generator=gen, dtype=torch.float64)
    k0 = 1.0 if kernel == "rbf" else 7.0  # IMQ: one unit per default scale
    same = mmd(a, a, kernel).item()
    assert -2 * k0 / 400 - 1e-12 <= same <= 1e-12
    assert abs(mmd(a, b, kernel).item()) < 0.01 * k0
    assert mmd(a, b + 1.0, kernel).item() > 0.05 * k0


def test_info_vae_loss_combines_kl_and_mmd():
    torch.manual_seed(0)
    model, x = FakeVAE(), _batch()
    q = model.posterior_of(x)
    out = InfoVAE(alpha=0.5, lbd=2.0, kernel="rbf")(model, x, None, q, _gen())
    expected = -out["recon"] + 0.5 * out["kl"] + 1.5 * out["mmd"]
    torch.testing.assert_close(out["loss"], expected)
    with pytest.raises(ValueError, match="alpha \\+ lbd - 1"):
        InfoVAE(alpha=0.0, lbd=0.5)


def test_wae_deterministic_encoder_ignores_the_posterior_noise():
    torch.manual_seed(0)
    model, x = FakeVAE(), _batch()
    q = model.posterior_of(x)
    wae = WAE(reg_weight=0.0, deterministic=True)
    c1, c2 = wae(model, x, None, q, _gen(1))["cost"], wae(model, x, None, q, _gen(2))["cost"]
    torch.testing.assert_close(c1, c2, rtol=0, atol=0)
    mean = torch.sigmoid(model.decoder(q.mean))
    torch.testing.assert_close(c1, (x - mean).pow(2).flatten(1).sum(1))
    random = WAE(reg_weight=0.0, deterministic=False)
    assert not torch.equal(random(model, x, None, q, _gen(1))["cost"], c1)


# ----- MIWAE / CIWAE / PIWAE -----
def test_miwae_bound_by_hand():
    log_w = torch.tensor([[0.0, 1.0], [2.0, 3.0], [-1.0, 0.5], [4.0, -2.0]])  # (M K, B), M=K=2
    want0 = 0.5 * (iw_bound(torch.tensor([0.0, 2.0])) + iw_bound(torch.tensor([-1.0, 4.0])))
    want1 = 0.5 * (iw_bound(torch.tensor([1.0, 3.0])) + iw_bound(torch.tensor([0.5, -2.0])))
    torch.testing.assert_close(miwae_bound(log_w, 2, 2), torch.stack([want0, want1]))
    torch.testing.assert_close(miwae_bound(log_w, 1, 4), iw_bound(log_w))  # M = 1: IWAE
    torch.testing.assert_close(miwae_bound(log_w, 4, 1), log_w.mean(0))  # K = 1: mean ELBO


def test_miwae_and_ciwae_on_the_model():
    torch.manual_seed(0)
    model, x = FakeVAE(), _batch()
    q = model.posterior_of(x)
    log_w = model.log_weights(x, None, q, 6, generator=_gen())
    out = MIWAE(m=2, k=3)(model, x, None, q, _gen())
    torch.testing.assert_close(out["loss"], -miwae_bound(log_w, 2, 3))
    for beta, want in ((0.0, iw_bound(log_w)), (1.0, log_w.mean(0))):
        c = CIWAE(k=6, beta=beta)(model, x, None, q, _gen())
        torch.testing.assert_close(c["ciwae"], want)


def test_piwae_gradient_paths():
    """The encoder gets exactly MIWAE(M, K)'s gradient, the decoder IWAE(M K)'s (same noise)."""
    torch.manual_seed(0)
    model, x = FakeVAE(), _batch()

    def grads(loss_fn):
        model.zero_grad()
        q = model.posterior_of(x)
        loss_fn(q).mean().backward()
        enc = [p.grad.clone() for p in model.encoder.parameters()]
        dec = [p.grad.clone() for p in model.decoder.parameters()]
        return enc, dec

    piwae = PIWAE(m=2, k=3)
    enc_p, dec_p = grads(lambda q: piwae(model, x, None, q, _gen())["loss"])
    enc_m, _ = grads(lambda q: MIWAE(2, 3)(model, x, None, q, _gen())["loss"])
    _, dec_i = grads(lambda q: -iw_bound(model.log_weights(x, None, q, 6, generator=_gen())))
    for a, b in zip(enc_p + dec_p, enc_m + dec_i, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


# ----- DIP-VAE -----
def test_dip_covariance_and_penalty_by_hand():
    mu = torch.tensor([[1.0, 0.0], [-1.0, 2.0], [0.0, 1.0]])
    torch.testing.assert_close(batch_covariance(mu), torch.cov(mu.T, correction=0))
    cov = torch.tensor([[2.0, 0.5], [0.5, 1.0]])
    assert dip_penalty(cov, 10.0, 100.0).item() == pytest.approx(10 * 0.5 + 100 * 1.0)


def test_dip_vae_i_and_ii():
    torch.manual_seed(0)
    model, x = FakeVAE(), _batch()
    q = model.posterior_of(x)
    one = DIPVAE("i", 2.0, 3.0)(model, x, None, q, _gen())
    two = DIPVAE("ii", 2.0, 3.0)(model, x, None, q, _gen())
    cov2 = batch_covariance(q.mean) + q.logvar.exp().mean(0).diag_embed()
    torch.testing.assert_close(two["dip"], dip_penalty(cov2, 2.0, 3.0))
    torch.testing.assert_close(one["loss"], -one["elbo"] + one["dip"])
    assert Gauss  # the posterior type the fake model uses
