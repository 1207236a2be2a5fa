"""Class-conditional nets: projection head, conditional batch norm, conditional DCGAN/ResNet."""

from __future__ import annotations

import pytest
import torch

from genlab.nets.dcgan_cond import CondDCGANDiscriminator, CondDCGANGenerator
from genlab.nets.projection import ConditionalBatchNorm2d, ConditionalHead
from genlab.nets.resnet_cond import CondResNetDiscriminator, CondResNetGenerator


def test_projection_is_unconditional_head_plus_inner_product():
    head = ConditionalHead(num_features=3, num_classes=2, projection=True, aux_classifier=False)
    with torch.no_grad():
        head.linear.weight.copy_(torch.tensor([[1.0, -1.0, 2.0]]))
        head.linear.bias.fill_(0.5)
        head.embed.weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, -1.0]]))
    h = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    logits, class_logits = head(h, torch.tensor([0, 1]))
    # psi(h) = 1 - 2 + 6 + 0.5 = 5.5; <e0, h> = 1; <e1, h> = 4 - 3 = 1 -> both 6.5 ...
    assert class_logits is None
    assert torch.allclose(logits, torch.tensor([5.5 + 1.0, 5.5 + 1.0]))
    h2 = torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])  # psi = -1 + 0.5 = -0.5
    logits2, _ = head(h2, torch.tensor([0, 1]))
    assert torch.allclose(logits2, torch.tensor([-0.5 + 0.0, -0.5 + 2.0]))


def test_projection_needs_labels_and_checks_range():
    head = ConditionalHead(4, 3, projection=True, aux_classifier=False)
    with pytest.raises(ValueError, match="needs labels"):
        head(torch.randn(2, 4))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        head(torch.randn(2, 4), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="num_classes"):
        ConditionalHead(4, 0, projection=True, aux_classifier=False)


@pytest.mark.parametrize(
    "make",
    [
        lambda: CondDCGANDiscriminator(10, image_size=16, channels=1, base_channels=8, norm="none"),
        lambda: CondResNetDiscriminator(10, image_size=16, channels=1, width=16),
    ],
)
def test_changing_the_label_changes_d(make):
    torch.manual_seed(0)
    d = make().eval()  # eval: spectral norm's power iteration does not move between calls
    x = torch.randn(1, 1, 16, 16).repeat(2, 1, 1, 1)
    out = d(x, torch.tensor([3, 7]))
    assert out.shape == (2,)
    assert not torch.allclose(out[0], out[1])
    # same image, same label -> same logit; the label enters only through the projection
    assert torch.allclose(d(x, torch.tensor([3, 3]))[1], out[0])


def test_cbn_uses_per_class_parameters():
    cbn = ConditionalBatchNorm2d(num_features=2, num_classes=3)
    with torch.no_grad():
        cbn.gamma.weight.copy_(torch.tensor([[1.0, 1.0], [2.0, 3.0], [0.0, 0.0]]))
        cbn.beta.weight.copy_(torch.tensor([[0.0, 0.0], [1.0, -1.0], [5.0, 6.0]]))
    cbn.eval()  # running stats mean 0, var 1: x_hat = x / sqrt(1 + eps)
    x = torch.randn(3, 2, 2, 2)
    out = cbn(x, torch.tensor([0, 1, 2]))
    x_hat = x / (1 + cbn.bn.eps) ** 0.5
    assert torch.allclose(out[0], x_hat[0], atol=1e-6)
    assert torch.allclose(out[1, 0], 2 * x_hat[1, 0] + 1, atol=1e-6)
    assert torch.allclose(out[1, 1], 3 * x_hat[1, 1] - 1, atol=1e-6)
    assert torch.allclose(out[2], torch.tensor([5.0, 6.0])[:, None, None].expand(2, 2, 2))
    # the gradient reaches only the used class's parameters
    cbn(x[:1], torch.tensor([1])).sum().backward()
    assert cbn.gamma.weight.grad[1].abs().sum() > 0
    assert cbn.gamma.weight.grad[[0, 2]].abs().sum() == 0


@pytest.mark.parametrize("size", [16, 28, 32, 64])
def test_cond_dcgan_pair(size):
    g = CondDCGANGenerator(10, latent_dim=8, image_size=size, channels=1, base_channels=8)
    d = CondDCGANDiscriminator(10, size, 1, 8, spectral_norm=True, aux_classifier=True)
    y = torch.arange(4) % 10
    x = g(torch.randn(4, 8), y)
    logits, cls = d.forward_with_aux(x, y)
    assert x.shape == (4, 1, size, size) and x.abs().max() <= 1
    assert logits.shape == (4,) and cls.shape == (4, 10)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) and m.affine for m in g.modules())


@pytest.mark.parametrize("size", [16, 32, 64])
def test_cond_resnet_pair(size):
    g = CondResNetGenerator(10, latent_dim=8, image_size=size, channels=3, width=16)
    d = CondResNetDiscriminator(10, size, 3, width=16)
    y = torch.tensor([0, 9])
    x = g(torch.randn(2, 8), y)
    assert x.shape == (2, 3, size, size)
    assert d(x, y).shape == (2,)


def test_generator_label_changes_output_and_is_required():
    torch.manual_seed(0)
    g = CondDCGANGenerator(10, latent_dim=8, image_size=16, channels=1, base_channels=8)
    with torch.no_grad():
        for m in g.modules():
            if isinstance(m, ConditionalBatchNorm2d):
                m.gamma.weight.normal_(1.0, 0.5)
    g.eval()
    z = torch.randn(1, 8).repeat(2, 1)
    x = g(z, torch.tensor([1, 2]))
    assert not torch.allclose(x[0], x[1])
    with pytest.raises(ValueError, match="needs labels"):
        g(z)


def test_concat_labels_feeds_one_hot_with_z():
    torch.manual_seed(0)
    g = CondDCGANGenerator(10, latent_dim=8, image_size=16, channels=1, base_channels=8)
    gc = CondDCGANGenerator(
        10, latent_dim=8, image_size=16, channels=1, base_channels=8, concat_labels=True
    )
    assert gc.latent_dim == 8 and gc.net[0].in_channels == 18  # z (8) + one-hot (10)
    g.eval(), gc.eval()
    z = torch.randn(1, 8).repeat(2, 1)
    y = torch.tensor([1, 2])
    # at initialisation CBN is plain BN (gamma 1, beta 0): only the one-hot path sees the label
    assert torch.allclose(g(z, y)[0], g(z, y)[1])
    assert not torch.allclose(gc(z, y)[0], gc(z, y)[1])
