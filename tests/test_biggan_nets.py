"""BigGAN 32 px nets: hierarchical z, shared embedding, conditional BN, projection D."""

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
