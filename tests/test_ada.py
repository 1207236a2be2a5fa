"""ADA: every op differentiable and identity at p = 0; p moves toward the target."""

from __future__ import annotations

import pytest
import torch

from genlab.objectives.ada import ADA, adjusted_p
from genlab.objectives.ada_ops import BGC, augment
from genlab.utils.ranges import RangeError


def _images(ch: int = 3) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return (torch.rand(4, ch, 16, 16, generator=g) * 2 - 1).requires_grad_(True)


@pytest.mark.parametrize("op", BGC)
def test_each_op_is_identity_at_p0_and_differentiable(op):
    x = _images()
    g = torch.Generator().manual_seed(1)
    same = augment(x, torch.tensor(0.0), (op,), g)  # the op runs (no p = 0 shortcut here)
    torch.testing.assert_close(same, x, atol=1e-5, rtol=0)  # grid_sample rounding: 1e-5
    out = augment(x, torch.tensor(1.0), (op,), torch.Generator().manual_seed(2))
    assert out.shape == x.shape
    assert not torch.allclose(out, x, atol=1e-3), f"{op} did nothing at p = 1"
    (grad,) = torch.autograd.grad((out * torch.randn_like(out)).sum(), x)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_pixel_blitting_is_exact():
    """x-flip at p = 1 with a draw of 1 flips exactly; integer ops land on pixel centres."""
    x = _images().detach()
    out = augment(x, torch.tensor(1.0), ("xflip",), torch.Generator().manual_seed(0))
    for i in range(4):
        assert torch.allclose(out[i], x[i], atol=1e-5) or torch.allclose(
            out[i], x[i].flip(-1), atol=1e-5
        )
    out = augment(x, torch.tensor(1.0), ("rotate90",), torch.Generator().manual_seed(0))
    for i in range(4):
        assert any(torch.allclose(out[i], x[i].rot90(k, (1, 2)), atol=1e-5) for k in range(4))


def test_grey_images_and_full_pipeline():
    x = _images(1)
    ada = ADA(p=0.5)
    out = ada(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert ADA(p=0.0)(x) is x  # p = 0: the inputs themselves


def test_adjusted_p_direction():
    assert adjusted_p(0.1, 0.9, 0.6, 256, 500_000) == pytest.approx(0.1 + 256 / 500_000)
    assert adjusted_p(0.1, 0.2, 0.6, 256, 500_000) == pytest.approx(0.1 - 256 / 500_000)
    assert adjusted_p(0.0, -1.0, 0.6, 256, 500_000) == 0.0  # clamped at 0


def test_p_follows_a_hand_made_rt_sequence():
    """Overfitting D (all real logits > 0: r_t = 1 > 0.6) raises p by 4*8/1000 per interval of
    4 steps of 8 images; then r_t = -1 < 0.6 lowers it again; log values follow."""
    ada = ADA(p=0.0, target=0.6, adjust_images=1000, interval=4)
    pos, neg = torch.ones(8), -torch.ones(8)
    for step in range(1, 9):
        out = ada.observe(pos)
        expected = 0.032 * (step // 4)
        assert float(out["ada_p"]) == pytest.approx(expected, abs=1e-6)
    assert float(ada.rt) == 1.0
    for _ in range(4):
        out = ada.observe(neg)
    assert float(out["ada_p"]) == pytest.approx(0.032, abs=1e-6)
    assert float(out["ada_rt"]) == -1.0
    mixed = torch.tensor([1.0, 1.0, 1.0, -1.0])  # r_t = 0.5 < 0.6: p goes down
    for _ in range(4):
        ada.observe(mixed)
    assert float(ada.p) == pytest.approx(0.032 - 16 / 1000, abs=1e-6)


def test_state_is_in_the_state_dict_and_fixed_p():
    ada = ADA(p=0.0, adjust_images=100, interval=2)
    ada.observe(torch.ones(10))
    ada.observe(torch.ones(10))
    ada.observe(torch.ones(3))
    state = ada.state_dict()
    assert {"p", "sign_sum", "count", "steps", "rt"} <= set(state)
    other = ADA(p=0.0, adjust_images=100, interval=2)
    other.load_state_dict(state)
    for k, v in state.items():
        assert torch.equal(other.state_dict()[k], v)
    fixed = ADA(p=0.3, target=None)
    for _ in range(8):
        fixed.observe(torch.ones(4))
    assert float(fixed.p) == pytest.approx(0.3)


def test_ranges():
    with pytest.raises(RangeError, match="target"):
        ADA(target=1.5)
    with pytest.raises(RangeError, match="interval"):
        ADA(interval=0)
    with pytest.raises(ValueError, match="unknown"):
        ADA(ops=["cutout"])
