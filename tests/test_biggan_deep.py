"""BigGAN-deep 128 px generator and the 128 px projection D, from the gan_nets config."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate

from genlab.nets.biggan import BigGANDiscriminator
from genlab.nets.biggan.deep import BigGANDeepGenerator, DeepGBlock
from genlab.nets.biggan.layers import ConditionalBatchNorm
from helpers.config import compose_config

OVERRIDES = ["model=biggan", "model/gan_nets=biggan_deep128", "data=cifar10", "data.image_size=128",
             "model.generator.ch=4", "model.discriminator.ch=8", "metrics=none"]  # fmt: skip


def test_config_builds_128px_nets_that_sample_and_score(tmp_path) -> None:
    cfg = compose_config(OVERRIDES, tmp_path)
    G, D = instantiate(cfg.model.generator), instantiate(cfg.model.discriminator)
    assert isinstance(G, BigGANDeepGenerator) and isinstance(D, BigGANDiscriminator)
    G.eval()
    z, y = torch.randn(2, 128), torch.tensor([3, 7])
    with torch.no_grad():
        x = G(z, y)
        assert x.shape == (2, 3, 128, 128) and x.abs().max() <= 1.0
        assert D(x, y).shape == (2,)
        assert not torch.allclose(G(z, y.flip(0)), x)  # labels condition the batch norms


@pytest.mark.slow  # 10 s here under load ~14, most of it importing the GAN LightningModule
def test_config_builds_the_biggan_model_with_deep_nets(tmp_path) -> None:
    model = instantiate(compose_config(OVERRIDES, tmp_path).model)
    assert isinstance(model.generator, BigGANDeepGenerator)
    assert isinstance(model.discriminator, BigGANDiscriminator)


def test_whole_z_and_embedding_condition_every_batch_norm() -> None:
    torch.manual_seed(0)
    G = BigGANDeepGenerator(10, ch=4)
    cbns = [m for m in G.modules() if isinstance(m, ConditionalBatchNorm)]
    assert len(cbns) == 4 * 10  # 5 resolutions x 2 blocks x 4 cBN
    assert all(m.gain.in_features == 128 + 128 for m in cbns)  # [z, embedding], no chunks
    blocks = [m for m in G.modules() if isinstance(m, DeepGBlock)]
    assert [b.up for b in blocks] == [False, True] * 5
    assert list(G.attention) == ["64"]


def test_block_shortcut_keeps_the_first_channels_and_upsamples() -> None:
    block = DeepGBlock(16, 8, cond_dim=4, up=True, bottleneck=4).eval()
    assert block.conv0.out_channels == 4 and block.conv3.out_channels == 8
    for conv in (block.conv0, block.conv1, block.conv2, block.conv3):
        conv.weight.data.zero_()  # residual branch off: the output is the shortcut
        conv.bias.data.zero_()
    x = torch.randn(2, 16, 4, 4)
    out = block(x, torch.randn(2, 4))
    assert torch.equal(out, torch.nn.functional.interpolate(x[:, :8], scale_factor=2))


def test_bad_sizes_are_refused_naming_the_allowed() -> None:
    with pytest.raises(ValueError, match=r"allowed: \[128\]"):
        BigGANDeepGenerator(10, image_size=64, ch=4)
    with pytest.raises(ValueError, match="32 px or 128 px"):
        BigGANDiscriminator(10, image_size=64, ch=2)
    with pytest.raises(ValueError, match="drops channels"):
        DeepGBlock(8, 16, cond_dim=4, up=False, bottleneck=4)
    with pytest.raises(ValueError, match="bottleneck=16 leaves no channels"):
        BigGANDeepGenerator(10, ch=4, bottleneck=16)
