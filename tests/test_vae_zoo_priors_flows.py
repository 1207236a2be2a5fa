"""Unit tests of the VAE zoo's priors (VampPrior, mixture of Gaussians) and flow posteriors
(IAF, planar, radial) on small tensors (issue 16)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from genlab.nets.made import MADE
from genlab.objectives.flows import IAF, Planar, Radial
from genlab.objectives.priors_zoo import MixtureOfGaussians, VampPrior
from genlab.utils.ranges import RangeError
from helpers.zoo_fake import FakeVAE


def _normal_pdf(z, mu, var):
    """Product over dims of N(z_d; mu_d, var_d), written out."""
    return torch.prod(torch.exp(-((z - mu) ** 2) / (2 * var)) / torch.sqrt(2 * math.pi * var))


def test_vampprior_log_prob_by_hand_for_two_pseudo_inputs():
    """log p(z) = log(0.5 q(z|u_1) + 0.5 q(z|u_2)) with q from the model's own encoder."""
    torch.manual_seed(0)
    prior = VampPrior(latent_dim=3, data_shape=(1, 4, 4), num_components=2, init_std=0.3)
    model = FakeVAE(prior=prior).double()
    z = torch.randn(5, 3, dtype=torch.float64)
    u = F.hardtanh(prior.pseudo_inputs, 0.0, 1.0)
    mu, logvar = model.encoder(u)
    for i in range(5):
        dens = 0.5 * _normal_pdf(z[i], mu[0], logvar[0].exp())
        dens = dens + 0.5 * _normal_pdf(z[i], mu[1], logvar[1].exp())
        got = prior.log_prob(z[i : i + 1]).detach().item()
        assert got == pytest.approx(math.log(dens.item()), rel=1e-5)
    assert prior.log_prob(z.expand(2, 5, 3)).shape == (2, 5)


def test_vampprior_is_learned_through_the_pseudo_inputs_and_samples():
    torch.manual_seed(0)
    prior = VampPrior(latent_dim=3, data_shape=(1, 4, 4), num_components=4)
    model = FakeVAE(prior=prior)
    prior.log_prob(torch.randn(6, 3)).sum().backward()
    assert prior.pseudo_inputs.grad is not None and prior.pseudo_inputs.grad.abs().sum() > 0
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    s1, s2 = prior.sample(7, generator=g1), prior.sample(7, generator=g2)
    assert s1.shape == (7, 3) and torch.equal(s1, s2)
    # the encoder is the model's, not a copy: no encoder weights inside the prior's state
    assert set(prior.state_dict()) == {"pseudo_inputs"}
    assert model.prior is prior and VampPrior.standard_normal is False
    with pytest.raises(RangeError, match="num_components"):
        VampPrior(3, (1, 4, 4), num_components=0)


def test_mixture_of_gaussians_matches_torch_distributions():
    torch.manual_seed(0)
    prior = MixtureOfGaussians(latent_dim=2, num_components=3)
    with torch.no_grad():
        prior.logvars.normal_(0, 0.3)
        prior.logits.normal_()
    mix = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(logits=prior.logits),
        torch.distributions.Independent(
            torch.distributions.Normal(prior.means, (0.5 * prior.logvars).exp()), 1
        ),
    )
    z = torch.randn(10, 2)
    torch.testing.assert_close(prior.log_prob(z), mix.log_prob(z), rtol=1e-5, atol=1e-6)
    assert prior.sample(4, torch.Generator().manual_seed(0)).shape == (4, 2)


def _flows():
    torch.manual_seed(0)
    planar, radial = Planar(4, num_flows=3), Radial(4, num_flows=3)
    with torch.no_grad():  # away from the identity so the test has something to check
        for p in (*planar.parameters(), *radial.parameters()):
            p.normal_(0, 0.8)
    return {
        "iaf_gated": IAF(4, num_blocks=2, hidden_dims=[16, 16]),
        "iaf_affine": IAF(4, num_blocks=2, hidden_dims=[16], update="affine"),
        "iaf_context": IAF(4, num_blocks=2, hidden_dims=[16], context_dim=3),
        "planar": planar,
        "radial": radial,
    }


@pytest.mark.parametrize("name", list(_flows()))
def test_flow_log_det_equals_autograd_jacobian(name):
    """sum_t log|det dz_t/dz_{t-1}| equals log|det J| of the whole map from autograd (1e-6)."""
    flow = _flows()[name].double()
    h = torch.randn(1, 3, dtype=torch.float64) if name == "iaf_context" else None
    for seed in range(3):
        z0 = torch.randn(1, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        jac = torch.autograd.functional.jacobian(lambda v: flow.transform(v, h)[0], z0)
        _, log_det = flow.transform(z0, h)
        want = torch.linalg.slogdet(jac.reshape(4, 4))[1]
        torch.testing.assert_close(log_det[0], want, rtol=1e-6, atol=1e-8)


def test_made_is_autoregressive():
    """Output d depends on inputs < d only: the Jacobian of m and s is strictly lower triangular."""
    made = MADE(5, [20, 20]).double()
    z = torch.randn(1, 5, dtype=torch.float64)
    for out in range(2):
        jac = torch.autograd.functional.jacobian(lambda v, o=out: made(v)[o], z).reshape(5, 5)
        assert torch.all(jac.triu() == 0)
        assert jac.tril(-1).abs().sum() > 0


def test_flow_posterior_log_q_is_base_minus_log_det():
    torch.manual_seed(0)
    flow = IAF(3, num_blocks=1, hidden_dims=[8])
    mu, logvar = torch.randn(2, 3), torch.randn(2, 3) * 0.1
    q = flow((mu, logvar))
    z, log_q = q.rsample(4, generator=torch.Generator().manual_seed(0))
    eps = torch.randn((4, 2, 3), generator=torch.Generator().manual_seed(0))
    z0 = mu + (0.5 * logvar).exp() * eps
    base = torch.distributions.Normal(mu, (0.5 * logvar).exp()).log_prob(z0).sum(-1)
    zt, log_det = flow.transform(z0.reshape(-1, 3), None)
    torch.testing.assert_close(z, zt.reshape(4, 2, 3))
    torch.testing.assert_close(log_q, base - log_det.reshape(4, 2), rtol=1e-5, atol=1e-5)
    assert q.analytic_kl(None) is None and q.mean.shape == (2, 3)


def test_planar_constraint_keeps_the_map_invertible():
    flow = Planar(3, num_flows=5)
    with torch.no_grad():
        flow.u.normal_(0, 5)
        flow.w.normal_(0, 5)
    assert torch.all((flow.w * flow.u_hat()).sum(-1) >= -1 - 1e-6)
