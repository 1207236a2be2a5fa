"""Generator / discriminator shapes, ranges, size checks and spectral norm."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils import parametrize

from genlab.models.ema import ema_beta, ema_update
from genlab.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from genlab.nets.mlp2d import MLPDiscriminator2D, MLPGenerator2D
from genlab.nets.resnet import ResNetDiscriminator, ResNetGenerator


@pytest.mark.parametrize("size", [16, 28, 32, 64])
def test_dcgan_sizes(size):
    g = DCGANGenerator(latent_dim=8, image_size=size, channels=3, base_channels=8)
    d = DCGANDiscriminator(image_size=size, channels=3, base_channels=8)
    x = g(torch.randn(4, 8))
    assert x.shape == (4, 3, size, size) and g.data_shape == (3, size, size)
    assert x.min() >= -1 and x.max() <= 1
    assert d(x).shape == (4,)


def test_dcgan_unsupported_size_names_supported_ones():
    with pytest.raises(ValueError, match=r"image_size=24.*\[16, 28, 32, 64\]"):
        DCGANGenerator(image_size=24)
    with pytest.raises(ValueError, match="norm"):
        DCGANDiscriminator(image_size=32, norm="instance")


def test_dcgan_spectral_norm_option():
    d = DCGANDiscriminator(image_size=16, channels=1, base_channels=8, spectral_norm=True)
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(parametrize.is_parametrized(m, "weight") for m in convs)
    assert any("parametrizations.weight.original" in k for k in d.state_dict())
    assert d(torch.randn(2, 1, 16, 16)).shape == (2,)


def test_resnet_pair_32px():
    g = ResNetGenerator(latent_dim=16, image_size=32, channels=3, width=16)
    d = ResNetDiscriminator(image_size=32, channels=3, width=16)
    x = g(torch.randn(2, 16))
    assert x.shape == (2, 3, 32, 32) and d(x).shape == (2,)
    assert all(
        parametrize.is_parametrized(m, "weight")
        for m in d.modules()
        if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)
    )
    with pytest.raises(ValueError, match="image_size=28"):
        ResNetGenerator(image_size=28)


def test_mlp2d_pair():
    g, d = MLPGenerator2D(hidden=16, n_layers=2), MLPDiscriminator2D(hidden=16, maxout_pieces=3)
    pts = g(torch.randn(5, 2))
    assert pts.shape == (5, 2) and d(pts).shape == (5,)


def test_ema_beta_schedule_and_update():
    assert ema_beta(3, 0.999, start_step=10) == 0.0
    assert ema_beta(0, 0.999, rampup=True) == pytest.approx(0.1)
    assert ema_beta(10_000, 0.999, rampup=True) == 0.999
    ema, model = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    before = ema.weight.detach().clone()
    ema_update(ema, model, beta=0.75)
    assert torch.allclose(ema.weight, 0.75 * before + 0.25 * model.weight)
