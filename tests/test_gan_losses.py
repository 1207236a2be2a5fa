"""GAN losses against their formulas on hand-made logits; penalties on hand-computed critics."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from genlab.objectives import gan_losses as L
from genlab.objectives.penalties import gradient_penalty, r1_penalty

REAL = torch.tensor([2.0, -1.0, 0.5])
FAKE = torch.tensor([-3.0, 0.0, 1.5])


def sp(x: float) -> float:
    return math.log1p(math.exp(x))


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def test_logistic_d_loss_formula():
    want = mean([sp(-r) for r in REAL.tolist()]) + mean([sp(f) for f in FAKE.tolist()])
    assert L.logistic_d_loss(REAL, FAKE).item() == pytest.approx(want, rel=1e-6)
    # = binary cross-entropy with labels 1 (real) and 0 (fake)
    bce = nn.functional.binary_cross_entropy_with_logits
    want_bce = bce(REAL, torch.ones(3)) + bce(FAKE, torch.zeros(3))
    assert L.logistic_d_loss(REAL, FAKE).item() == pytest.approx(want_bce.item(), rel=1e-6)


def test_non_saturating_and_minimax_g_losses():
    ns = mean([-math.log(1 / (1 + math.exp(-f))) for f in FAKE.tolist()])
    mm = mean([math.log(1 - 1 / (1 + math.exp(-f))) for f in FAKE.tolist()])
    assert L.non_saturating_g_loss(FAKE).item() == pytest.approx(ns, rel=1e-6)
    assert L.minimax_g_loss(FAKE).item() == pytest.approx(mm, rel=1e-6)


def test_hinge_losses():
    d = mean([max(0, 1 - r) for r in REAL.tolist()]) + mean([max(0, 1 + f) for f in FAKE.tolist()])
    assert L.hinge_d_loss(REAL, FAKE).item() == pytest.approx(d)  # (0+2+0.5)/3 + (0+1+2.5)/3
    assert L.get_loss("hinge").g_loss(FAKE).item() == pytest.approx(-mean(FAKE.tolist()))


def test_wasserstein_losses():
    assert L.wasserstein_d_loss(REAL, FAKE).item() == pytest.approx(
        mean(FAKE.tolist()) - mean(REAL.tolist())
    )
    assert L.get_loss("wasserstein").g_loss(FAKE).item() == pytest.approx(-mean(FAKE.tolist()))


def test_least_squares_losses():
    d = 0.5 * mean([(r - 1) ** 2 for r in REAL.tolist()]) + 0.5 * mean(
        [f**2 for f in FAKE.tolist()]
    )
    g = 0.5 * mean([(f - 1) ** 2 for f in FAKE.tolist()])
    assert L.least_squares_d_loss(REAL, FAKE).item() == pytest.approx(d)
    assert L.least_squares_g_loss(FAKE).item() == pytest.approx(g)


def test_registry_and_unknown_name():
    assert set(L.LOSSES) == {"non_saturating", "minimax", "hinge", "wasserstein", "least_squares"}
    with pytest.raises(ValueError, match="allowed values.*hinge"):
        L.get_loss("hingee")


def test_d_output_mean_probability_vs_raw():
    logits = torch.tensor([0.0, 0.0])
    assert L.d_output_mean(logits, L.get_loss("non_saturating")).item() == 0.5
    assert L.d_output_mean(torch.tensor([1.0, 3.0]), L.get_loss("hinge")).item() == 2.0


def linear_critic(weight: list[float]) -> nn.Linear:
    critic = nn.Linear(len(weight), 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([weight]))
        critic.bias.fill_(0.7)
    return critic


def test_gradient_penalty_linear_critic():
    # D(x) = w.x + b has gradient w everywhere: penalty (||w|| - 1)^2 = (5 - 1)^2 = 16.
    critic = linear_critic([3.0, 4.0])
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    gp = gradient_penalty(critic, real, fake)
    assert gp.item() == pytest.approx(16.0, rel=1e-5)
    gp.backward()  # differentiable w.r.t. the critic: d/dw (||w|| - 1)^2 = 2 (5 - 1) w / 5
    assert torch.allclose(critic.weight.grad, torch.tensor([[4.8, 6.4]]), rtol=1e-4)


def test_gradient_penalty_quadratic_critic_uses_interpolates():
    # D(x) = 0.5 ||x||^2: grad at x_hat is x_hat. With real = 2 u and fake = 0 for a unit u,
    # x_hat = 2 eps u, so the penalty is E[(2 eps - 1)^2] with eps ~ U(0, 1) -> 1/3.
    def critic(x):
        return 0.5 * x.pow(2).sum(dim=1)

    u = torch.nn.functional.normalize(torch.randn(20000, 3), dim=1)
    gen = torch.Generator().manual_seed(0)
    gp = gradient_penalty(critic, 2 * u, torch.zeros_like(u), generator=gen)
    assert gp.item() == pytest.approx(1 / 3, abs=0.01)


def test_gradient_penalty_shape_mismatch():
    with pytest.raises(ValueError, match="same shape|one shape"):
        gradient_penalty(linear_critic([1.0, 0.0]), torch.zeros(2, 2), torch.zeros(3, 2))


def test_r1_penalty_linear_critic():
    critic = linear_critic([3.0, 4.0])
    assert r1_penalty(critic, torch.randn(5, 2)).item() == pytest.approx(25.0, rel=1e-5)
