"""Path length, orthogonal regularization and the half-life EMA (GAN zoo terms)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from genlab.models.ema_halflife import HalfLifeEMA
from genlab.nets.stylegan2 import StyleGAN2Generator
from genlab.objectives.orthogonal import OrthogonalRegularization, orthogonal_penalty
from genlab.objectives.path_length import PathLength, path_lengths
from genlab.utils.ranges import RangeError


def _gstep(z):
    return SimpleNamespace(z=z, labels=None, noise=lambda s: torch.Generator().manual_seed(s))


def test_orthogonal_penalty_by_hand_on_2x2():
    """W = [[1, 2], [3, 4]]: W W^T = [[5, 11], [11, 25]]; off-diagonal squares 2 * 121."""
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    pen = orthogonal_penalty(w)
    assert pen.item() == 242.0
    pen.backward()
    # d/dW ||W W^T ⊙ (1 - I)||^2 = 4 (W W^T ⊙ (1 - I)) W = 4 [[0, 11], [11, 0]] W
    off = torch.tensor([[0.0, 11.0], [11.0, 0.0]])
    torch.testing.assert_close(w.grad, 4 * off @ w.detach())
    assert orthogonal_penalty(torch.eye(3) * 7).item() == 0.0  # orthogonal rows: no penalty


def test_orthogonal_term_sums_generator_matrices_and_skips_shared():
    net = torch.nn.Module()
    net.lin = torch.nn.Linear(2, 2, bias=True)
    net.shared = torch.nn.Embedding(3, 2)
    with torch.no_grad():
        net.lin.weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    term = OrthogonalRegularization(weight=1e-4)
    out = term(SimpleNamespace(generator=net), None)
    assert out["loss"].item() == 242.0  # the bias (1-D) and the shared embedding are left out
    assert term.weight == 1e-4 and term.every == 1


def test_path_lengths_match_a_jacobian_by_hand():
    """On a linear 'synthesis' img = A w the length is ||A^T y|| / sqrt(HW) averaged per style."""
    torch.manual_seed(0)
    A = torch.randn(1 * 2 * 2, 3)

    class Lin(torch.nn.Module):
        def styles(self, z, labels):
            return z.view(-1, 1, 3).repeat(1, 2, 1)  # two identical styles per example

        def synthesis(self, ws):
            return (ws.sum(dim=1) @ A.T).view(-1, 1, 2, 2)

    z = torch.randn(5, 3, requires_grad=True)
    y = torch.randn(5, 1, 2, 2)
    got = path_lengths(Lin(), z, None, y)
    grad_w = (y.view(5, 4) / math.sqrt(4)) @ A  # d(img . y)/d(each style) = A^T y / sqrt(HW)
    expected = grad_w.square().sum(dim=1).sqrt()  # mean over the 2 styles of equal squares
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_path_length_term_updates_pl_mean_and_reaches_g():
    torch.manual_seed(0)
    G = StyleGAN2Generator(16, 16, 1, w_dim=16, channel_base=128, channel_max=16,
                           mapping_layers=2, style_mixing_prob=0.0)  # fmt: skip
    term = PathLength(weight=2.0, every=4, decay=0.01)
    out = term(SimpleNamespace(generator=G), _gstep(torch.randn(8, 16)))
    assert out["loss"].item() > 0
    assert float(term.pl_mean) == pytest.approx(0.01 * out["pl_length"].item(), rel=1e-5)
    out["loss"].backward()
    assert G.mapping.fc0.weight.grad is not None and G.mapping.fc0.weight.grad.abs().sum() > 0
    assert "pl_mean" in term.state_dict()
    with pytest.raises(ValueError, match="style-based"):
        term(SimpleNamespace(generator=torch.nn.Linear(2, 2)), _gstep(torch.randn(2, 2)))


def test_half_life_ema_beta():
    ema = HalfLifeEMA(half_life_images=10_000)
    # after 10k images in batches of 64 the old weights count one half
    assert ema.beta(1e6, 64) ** (10_000 / 64) == pytest.approx(0.5, rel=1e-9)
    ramp = HalfLifeEMA(half_life_images=500_000, rampup=0.05)
    assert ramp.beta(64_000, 64) == pytest.approx(0.5 ** (64 / 3200), rel=1e-12)  # 0.05 * 64k
    assert ramp.beta(0, 64) == 0.0  # at the start the EMA copies G
    with pytest.raises(RangeError, match="half_life_images"):
        HalfLifeEMA(0)
