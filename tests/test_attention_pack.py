"""SAGAN self-attention and PacGAN packing as options of the DCGAN, ResNet and StyleGAN2 nets."""

from __future__ import annotations

import pytest
import torch

from genlab.nets.attention import SelfAttention
from genlab.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from genlab.nets.pack import pack_input
from genlab.nets.resnet import ResNetDiscriminator, ResNetGenerator
from genlab.nets.stylegan2 import StyleGAN2Discriminator
from genlab.utils.ranges import RangeError


def test_self_attention_shape_and_gamma_zero_at_init():
    torch.manual_seed(0)
    att = SelfAttention(16)
    x = torch.randn(2, 16, 8, 8)
    assert float(att.gamma.detach()) == 0.0
    assert torch.equal(att(x), x)  # gamma = 0: the block starts as the identity
    with torch.no_grad():
        att.gamma.fill_(1.0)
    y = att(x)
    assert y.shape == x.shape and not torch.allclose(y, x)
    y.sum().backward()
    assert att.theta.weight.grad is not None and att.gamma.grad is not None


def test_attention_is_an_option_of_dcgan_and_resnet_nets():
    torch.manual_seed(0)
    z = torch.randn(2, 16)
    for G in (
        DCGANGenerator(16, 32, 3, base_channels=8, attention_res=16, spectral_norm=True),
        ResNetGenerator(16, 32, 3, width=16, attention_res=16, spectral_norm=True),
    ):
        assert sum(isinstance(m, SelfAttention) for m in G.modules()) == 1
        assert G(z).shape == (2, 3, 32, 32)
    for D in (
        DCGANDiscriminator(32, 3, base_channels=8, attention_res=16),
        ResNetDiscriminator(32, 3, width=16, attention_res=16),
    ):
        assert sum(isinstance(m, SelfAttention) for m in D.modules()) == 1
        assert D(torch.randn(2, 3, 32, 32)).shape == (2,)
    with pytest.raises(ValueError, match="allowed"):
        ResNetGenerator(16, 32, 3, width=16, attention_res=64)


def test_options_off_leave_the_state_dict_unchanged():
    torch.manual_seed(0)
    a = ResNetDiscriminator(32, 3, width=16).state_dict()
    torch.manual_seed(0)
    b = ResNetDiscriminator(32, 3, width=16, attention_res=None, pack=1).state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    "make",
    [
        lambda pack: DCGANDiscriminator(16, 3, base_channels=8, pack=pack),
        lambda pack: ResNetDiscriminator(16, 3, width=16, pack=pack),
        lambda pack: StyleGAN2Discriminator(16, 3, channel_base=128, channel_max=16, pack=pack),
    ],
)
def test_packing_changes_the_input_shape_and_nothing_else(make):
    """pack=2: the first layer takes 2C channels, D gives N/2 logits; every other parameter
    has the same shape, and D(pack) on x equals D(1 with 2C inputs) on the packed x."""
    torch.manual_seed(0)
    plain, packed = make(1), make(2)
    sp, sq = plain.state_dict(), packed.state_dict()
    assert sp.keys() == sq.keys()
    diff = [k for k in sp if sp[k].shape != sq[k].shape]
    assert len(diff) >= 1
    for k in diff:  # only the first layer's input side differs (x2)
        if sq[k].dim() == 1:  # spectral norm's right singular vector: length in * k * k
            assert k.endswith("_v") and sq[k].shape[0] == 2 * sp[k].shape[0]
        else:
            assert sq[k].shape[1] == 2 * sp[k].shape[1] and sq[k].shape[0] == sp[k].shape[0]
    x = torch.randn(4, 3, 16, 16)
    assert packed(x).shape == (2,)
    assert plain.data_shape == packed.data_shape == (3, 16, 16)
    with pytest.raises(ValueError, match="multiple of 2"):
        packed(torch.randn(3, 3, 16, 16))


def test_pack_input_stacks_consecutive_examples():
    x = torch.arange(4.0).view(4, 1, 1, 1)
    assert pack_input(x, 2).flatten().tolist() == [0.0, 1.0, 2.0, 3.0]
    assert pack_input(x, 2).shape == (2, 2, 1, 1)
    with pytest.raises(RangeError, match="pack"):
        DCGANDiscriminator(16, 3, pack=0)
