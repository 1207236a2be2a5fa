"""ACGAN loss, LeCam term, DiffAugment and the conditional sample metrics."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from genlab.metrics.conditional import class_accuracy, per_class_fid
from genlab.metrics.functional import fid_from_features
from genlab.objectives.acgan import acgan_d_loss, acgan_g_loss
from genlab.objectives.diffaugment import cutout, diff_augment, parse_policy, translation
from genlab.objectives.gan_regularizers import LeCamTerm
from genlab.objectives.gan_terms import DStep


def test_acgan_loss_is_cross_entropy_on_the_right_labels():
    real_logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    fake_logits = torch.tensor([[0.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    real_y, fake_y = torch.tensor([0, 2]), torch.tensor([1, 0])

    def ce(logits, y):  # -log softmax by hand
        return -(logits[range(len(y)), y] - logits.exp().sum(1).log()).mean()

    expected_d = ce(real_logits, real_y) + ce(fake_logits, fake_y)
    assert torch.allclose(acgan_d_loss(real_logits, real_y, fake_logits, fake_y), expected_d)
    assert torch.allclose(acgan_g_loss(fake_logits, fake_y), ce(fake_logits, fake_y))
    # the wrong labels give a different (larger) loss
    assert acgan_g_loss(fake_logits, torch.tensor([2, 0])) > acgan_g_loss(fake_logits, fake_y)


def dstep(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> DStep:
    """A D step that holds only logits (all LeCam reads)."""
    x = torch.zeros(len(real_logits), 2)
    return DStep(x, x, None, real_logits, fake_logits, None, None, 0, noise=None, critic=None)


def lecam(term: LeCamTerm, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return term(None, dstep(real, fake))["loss"]


def test_lecam_value_and_anchors_by_hand():
    term = LeCamTerm(weight=0.3, decay=0.5)
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([-2.0, 0.0])  # means 2 and -1
    value = lecam(term, real, fake)
    # one update: ema = 0.5 * 0 + 0.5 * mean; debiased by 1 - 0.5 -> the batch means
    assert torch.allclose(term.ema_real, torch.tensor(1.0))
    assert torch.allclose(term.ema_fake, torch.tensor(-0.5))
    a_r, a_f = term.anchors
    assert torch.allclose(a_r, torch.tensor(2.0)) and torch.allclose(a_f, torch.tensor(-1.0))
    # relu(real - a_F)^2 = [4, 16] -> 10; relu(a_R - fake)^2 = [16, 4] -> 10
    assert torch.allclose(value, torch.tensor(20.0))
    # second update with means 0 and 0: ema_real = 0.5, debias 1 - 0.25 -> 2/3
    lecam(term, torch.zeros(2), torch.zeros(2))
    assert torch.allclose(term.anchors[0], torch.tensor(0.5 / 0.75))
    assert int(term.num_updates) == 2
    # eval mode: no update
    term.eval()
    lecam(term, torch.ones(2), torch.ones(2))
    assert int(term.num_updates) == 2
    assert {"ema_real", "ema_fake", "num_updates"} == set(term.state_dict())


def test_lecam_gradient_flows_to_logits_only():
    term = LeCamTerm(decay=0.9)
    real = torch.tensor([5.0, 5.0], requires_grad=True)
    fake = torch.tensor([-5.0, -5.0], requires_grad=True)
    term.update(torch.zeros(2), torch.zeros(2))
    lecam(term, real, fake).backward()
    assert real.grad.abs().sum() > 0 and fake.grad.abs().sum() > 0


def test_diffaugment_is_differentiable_and_reproducible():
    x = torch.rand(4, 3, 8, 8, requires_grad=True)
    out = diff_augment(x * 2 - 1, "color,translation,cutout", torch.Generator().manual_seed(1))
    out.square().sum().backward()
    assert out.shape == x.shape and x.grad is not None and x.grad.abs().sum() > 0
    again = diff_augment(x * 2 - 1, "color,translation,cutout", torch.Generator().manual_seed(1))
    assert torch.equal(out, again)
    assert torch.equal(diff_augment(x, None), x) and parse_policy("") == ()


def test_diffaugment_transforms_by_hand():
    x = torch.arange(1.0, 17.0).view(1, 1, 4, 4).repeat(16, 1, 1, 1)
    shifted = translation(x, torch.Generator().manual_seed(0), ratio=0.25)  # shifts in {-1,0,1}
    for img in shifted[:, 0]:  # every output is x shifted by (dy, dx), zero filled
        ok = any(
            torch.equal(img, F.pad(x[0, 0], (1, 1, 1, 1))[1 - dy : 5 - dy, 1 - dx : 5 - dx])
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
        )
        assert ok
    cut = cutout(x, torch.Generator().manual_seed(0), ratio=0.5)  # 2x2 square, maybe clipped
    zeros = (cut == 0).sum(dim=(1, 2, 3))
    assert ((zeros >= 1) & (zeros <= 4)).all() and (zeros == 4).any()
    kept = cut != 0
    assert torch.equal(cut[kept], x[kept])


def test_diffaugment_rejects_unknown_transform():
    with pytest.raises(ValueError, match="model.augment.policy.*allowed"):
        parse_policy("color,flip")


def test_class_accuracy_per_class():
    logits = torch.tensor([[5.0, 0, 0], [5.0, 0, 0], [0, 5.0, 0], [0, 0, 5.0]])
    out = class_accuracy(logits, torch.tensor([0, 1, 1, 2]), num_classes=4)
    assert out["acc"] == pytest.approx(0.75)
    assert out["acc_per_class"][:3] == [1.0, 0.5, 1.0] and math.isnan(out["acc_per_class"][3])
    assert out["count_per_class"] == [1, 2, 1, 0]


def test_per_class_fid_groups_by_label_and_skips_small_classes():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(60, 2, generator=g)
    fake = torch.randn(60, 2, generator=g) + 1.0
    real_y = torch.tensor([0] * 30 + [1] * 30)
    fake_y = torch.tensor([0] * 30 + [1] * 25 + [2] * 5)
    out = per_class_fid(real, real_y, fake, fake_y, num_classes=3, min_samples=10)
    assert out["fid_per_class"][0] == pytest.approx(fid_from_features(real[:30], fake[:30]))
    assert out["fid_per_class"][1] == pytest.approx(fid_from_features(real[30:], fake[30:55]))
    assert math.isnan(out["fid_per_class"][2]) and out["fid_classes_computed"] == 2
