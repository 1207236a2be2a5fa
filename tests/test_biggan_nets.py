"""BigGAN nets (32 and 128 px): hierarchical z, shared embedding, conditional BN, projection D."""

from __future__ import annotations

import pytest
import torch

from genlab.nets.biggan import BigGANDiscriminator, BigGANGenerator, standing_statistics
from genlab.nets.biggan.layers import ConditionalBatchNorm
from genlab.utils.ranges import RangeError


def _nets():
    torch.manual_seed(0)
    return BigGANGenerator(10, 32, ch=4), BigGANDiscriminator(10, ch=4)


def test_shapes_and_hierarchical_latent():
    G, D = _nets()
    G.eval()
    z, y = torch.randn(4, 32), torch.tensor([0, 1, 2, 3])
    x = G(z, y)
    assert x.shape == (4, 3, 32, 32) and x.abs().max() <= 1.0
    assert D(x, y).shape == (4,)
    assert G.chunk == 8  # 32 / (1 linear + 3 blocks)
    z2 = z.clone()
    z2[:, -8:] += 1.0  # only the last block's chunk changes
    assert not torch.allclose(G(z2, y), x)
    assert not torch.allclose(G(z, y.flip(0)), x)  # labels condition the batch norms


def test_one_shared_embedding_feeds_every_conditional_bn():
    G, _ = _nets()
    assert sum(isinstance(m, torch.nn.Embedding) for m in G.modules()) == 1
    cbns = [m for m in G.modules() if isinstance(m, ConditionalBatchNorm)]
    assert len(cbns) == 6  # two per block
    shared_dim = G.shared.embedding_dim
    assert all(m.gain.in_features == shared_dim + G.chunk for m in cbns)


def test_projection_discriminator_uses_labels():
    _, D = _nets()
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    assert not torch.allclose(D(x, y), D(x, (y + 1) % 10))


def test_standing_statistics_recompute_batch_norm():
    G, _ = _nets()
    bn = G.out_bn
    bn.running_mean.fill_(123.0)
    standing_statistics(G, num_batches=2, batch_size=8)
    assert not G.training and bn.momentum == 0.1
    assert bn.running_mean.abs().max() < 100.0 and int(bn.num_batches_tracked) == 2


def test_ranges():
    with pytest.raises(ValueError, match="multiple of 4"):
        BigGANGenerator(10, 30, ch=4)
    with pytest.raises(RangeError, match="num_classes"):
        BigGANGenerator(0, 32, ch=4)
    with pytest.raises(ValueError, match="32 px"):
        BigGANDiscriminator(10, image_size=64, ch=4)


def test_128px_generator_follows_biggan_pytorch_g_arch_128():
    """ajbrock/BigGAN-PyTorch BigGAN.py G_arch[128]: 5 up blocks ch x [16, 16, 8, 4, 2] ->
    [16, 8, 4, 2, 1] from 4x4, z 120 in 6 chunks of 20, attention after the 64 px block."""
    torch.manual_seed(0)
    ch = 4  # the 64 px block has 2 ch = 8 channels: SelfAttention's minimum
    G = BigGANGenerator(5, latent_dim=120, image_size=128, ch=ch, attention_res=64).eval()
    widths = [(b.conv1.in_channels, b.conv2.out_channels) for b in G.blocks]
    assert widths == [(ch * a, ch * b) for a, b in [(16, 16), (16, 8), (8, 4), (4, 2), (2, 1)]]
    assert G.chunk == 20 and G.linear.in_features == 20 and G.width == 16 * ch
    assert list(G.attention) == ["64"]
    assert all(b.bn1.gain.in_features == G.shared.embedding_dim + 20 for b in G.blocks)
    z, y = torch.randn(2, 120), torch.tensor([0, 4])
    x = G(z, y)
    assert x.shape == (2, 3, 128, 128) and x.abs().max() <= 1.0
    D = BigGANDiscriminator(5, image_size=128, ch=8, attention_res=64)  # 8 channels at 64 px
    assert D(x, y).shape == (2,)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"image_size": 64}, "image_size must be one of"),
        ({"image_size": 128, "latent_dim": 128}, "multiple of 6"),
        ({"image_size": 32, "latent_dim": 30}, "multiple of 4"),
    ],
)
def test_generator_refuses_sizes_it_has_no_arch_for(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BigGANGenerator(5, **{"latent_dim": 120, "ch": 2, **kwargs})


def test_biggan128_config_builds_the_128px_nets(tmp_path):
    from hydra.utils import instantiate

    from helpers.config import compose_config

    overrides = ["model=biggan", "model/gan_nets=biggan128", "data=cifar10", "data.image_size=128",
                 "model.generator.ch=4", "model.discriminator.ch=8", "metrics=none"]  # fmt: skip
    cfg = compose_config(overrides, tmp_path)
    G, D = instantiate(cfg.model.generator), instantiate(cfg.model.discriminator)
    assert isinstance(G, BigGANGenerator) and G.chunk == 20 and list(G.attention) == ["64"]
    with torch.no_grad():
        x = G.eval()(torch.randn(2, 120), torch.tensor([1, 2]))
        assert x.shape == (2, 3, 128, 128) and D(x, torch.tensor([1, 2])).shape == (2,)
