"""StyleGAN2 nets: demodulation, equalized-lr scales, mapping, truncation, mixing, shapes."""

from __future__ import annotations

import math

import pytest
import torch

from genlab.nets.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator
from genlab.nets.stylegan2.discriminator import MinibatchStdLayer
from genlab.nets.stylegan2.layers import EqualConv2d, EqualLinear, modulated_conv2d
from genlab.nets.stylegan2.mapping import MappingNetwork
from genlab.utils.ranges import RangeError

TINY = dict(w_dim=32, channel_base=256, channel_max=32, mapping_layers=2)


def test_demodulation_gives_unit_variance_output_maps():
    """Karras et al. 2020 eq. 3: for iid unit-variance inputs each output map has std 1,
    whatever the weights and styles (no padding, so no border pixels)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 16, 96, 96, generator=g)
    weight = torch.randn(8, 16, 3, 3, generator=g) * 5.0
    styles = torch.rand(4, 16, generator=g) * 3.0 + 0.1
    out = modulated_conv2d(x, weight, styles, demodulate=True, padding=0)
    var = out.var(dim=(2, 3))  # (N, O): one variance per example and output map
    # 94x94 outputs per map, 3x3-correlated: std error of a variance ~ 0.05; tolerance 0.15
    assert torch.allclose(var, torch.ones_like(var), atol=0.15), var
    assert abs(var.mean().item() - 1.0) < 0.03  # mean over 32 maps: tolerance 0.03
    plain = modulated_conv2d(x, weight, styles, demodulate=False)
    assert plain.var().item() > 10.0  # without demodulation the scale follows the weights


def test_equalized_lr_mapping_parameter_scales():
    """Mapping layers store N(0, 1/lr_mul^2) weights and use weight * lr_mul / sqrt(fan_in):
    stored std 100 at lr_mul 0.01, effective std 1/sqrt(fan_in); biases used times lr_mul."""
    torch.manual_seed(0)
    net = MappingNetwork(z_dim=256, w_dim=256, num_layers=8, lr_multiplier=0.01)
    for i in range(8):
        fc = getattr(net, f"fc{i}")
        assert fc.weight.std().item() == pytest.approx(100.0, rel=0.01)  # 65k draws: 1 %
        assert fc.weight_gain == pytest.approx(0.01 / math.sqrt(256), rel=1e-12)
        assert fc.bias_gain == 0.01
        effective = fc.weight * fc.weight_gain
        assert effective.std().item() == pytest.approx(1 / math.sqrt(256), rel=0.02)
    # the gradient w.r.t. the stored weight is the effective one's times weight_gain, so Adam's
    # normalised step moves the effective weight lr_mul / sqrt(fan_in) times lr
    fc = EqualLinear(4, 3, lr_multiplier=0.01)
    x = torch.randn(5, 4)
    fc(x).sum().backward()
    expected = torch.ones(5, 3).T @ x * fc.weight_gain
    torch.testing.assert_close(fc.weight.grad, expected, rtol=1e-5, atol=1e-7)


def test_equalized_lr_conv_scale():
    """Convolutions: stored N(0, 1), used times 1/sqrt(c_in k^2) (He init at run time)."""
    torch.manual_seed(0)
    conv = EqualConv2d(64, 64, 3)
    assert conv.weight.std().item() == pytest.approx(1.0, rel=0.02)  # 36,864 draws: 2 %
    assert conv.weight_gain == pytest.approx(1 / math.sqrt(64 * 9), rel=1e-12)


def test_mapping_tracks_w_avg_and_truncation_pulls_to_it():
    torch.manual_seed(0)
    G = StyleGAN2Generator(32, 16, 3, **TINY)
    z = torch.randn(8, 32)
    G.train()
    G(z)
    assert G.mapping.w_avg.abs().sum() > 0  # updated in training mode
    G.eval()
    G.truncation_psi = 0.0
    ws = G.styles(z)
    assert torch.allclose(ws, G.mapping.w_avg.expand_as(ws), atol=1e-6)
    G.truncation_psi = 1.0
    assert not torch.allclose(G.styles(z), ws)


def test_style_mixing_in_training_only():
    torch.manual_seed(0)
    G = StyleGAN2Generator(32, 16, 3, style_mixing_prob=1.0, **TINY)
    z = torch.randn(3, 32)
    G.train()
    ws = G.styles(z)
    assert not torch.allclose(ws[:, 0], ws[:, -1])  # a cutoff in [1, num_ws): last is mixed
    G.eval()
    ws = G.styles(z)
    assert torch.equal(ws[:, 0], ws[:, -1])  # no mixing when sampling


@pytest.mark.parametrize("size", [16, 32, 64])
def test_shapes_and_noise_strength_zero_at_init(size):
    torch.manual_seed(0)
    G = StyleGAN2Generator(32, size, 1, **TINY)
    D = StyleGAN2Discriminator(size, 1, channel_base=256, channel_max=32)
    x = G(torch.randn(4, 32))
    assert x.shape == (4, 1, size, size) and G.data_shape == D.data_shape
    assert D(x).shape == (4,)
    strengths = [p for n, p in G.named_parameters() if n.endswith("noise_strength")]
    assert strengths and all(float(s.detach()) == 0.0 for s in strengths)
    assert G.num_ws == 2 * int(math.log2(size)) - 2


def test_resnet_and_orig_and_conditional_discriminator():
    torch.manual_seed(0)
    x, y = torch.randn(4, 3, 16, 16), torch.tensor([0, 1, 2, 3])
    for arch in ("resnet", "orig"):
        D = StyleGAN2Discriminator(16, 3, architecture=arch, channel_base=256, channel_max=32)
        assert hasattr(D.b16, "skip") == (arch == "resnet")
        assert D(x).shape == (4,)
    Dc = StyleGAN2Discriminator(16, 3, num_classes=4, channel_base=256, channel_max=32)
    assert not torch.allclose(Dc(x, y), Dc(x, y.flip(0)))
    Gc = StyleGAN2Generator(32, 16, 3, num_classes=4, **TINY)
    assert Gc(torch.randn(4, 32), y).shape == (4, 3, 16, 16)


def test_minibatch_std_appends_group_std():
    x = torch.zeros(4, 2, 3, 3)
    x[1] = 2.0  # groups of 2: examples (0, 2) and (1, 3) -> std over {0, 0}=0 and {2, 0}=1
    y = MinibatchStdLayer(group_size=2)(x)
    assert y.shape == (4, 3, 3, 3)
    # group members are i and i + N/G: example 1 pairs with 3 -> std 1; example 0 with 2 -> 0
    assert y[1, 2].allclose(torch.ones(3, 3), atol=1e-3)
    assert y[0, 2].allclose(torch.zeros(3, 3), atol=1e-3)
    assert MinibatchStdLayer(4)(torch.randn(6, 2, 4, 4)).shape == (6, 3, 4, 4)  # 6 % 4 != 0


def test_ranges_are_declared():
    with pytest.raises(RangeError, match="style_mixing_prob"):
        StyleGAN2Generator(32, 16, 3, style_mixing_prob=1.5, **TINY)
    with pytest.raises(RangeError, match="lr_multiplier"):
        MappingNetwork(8, 8, lr_multiplier=0.0)
    with pytest.raises(ValueError, match="image_size"):
        StyleGAN2Generator(32, 28, 3, **TINY)
