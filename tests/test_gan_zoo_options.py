"""GAN options of issue 17 on the core: the EMA half-life in images (StyleGAN2-ADA),
``model.truncation_psi`` and BigGAN's standing statistics before evaluation. Small nets, no
trainer: the G step's EMA update is called as the module calls it."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from torch import nn

from genlab.models.ema import EMASchedule
from genlab.models.ema_standing import standing_statistics
from genlab.models.gan import GAN
from genlab.nets.stylegan2 import StyleGAN2Generator
from genlab.objectives.gan_terms import AdversarialD, AdversarialG


class _G(nn.Module):
    def __init__(self, bn: bool = False) -> None:
        super().__init__()
        self.latent_dim, self.data_shape = 2, (2,)
        self.net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2) if bn else nn.Identity())

    def forward(self, z):
        return self.net(z)


OPT = partial(torch.optim.SGD, lr=0.1)


def _terms() -> dict:
    return {"d_terms": {"adv": AdversarialD()}, "g_terms": {"adv": AdversarialG()}}


def _gan(generator=None, **kw) -> GAN:
    d = nn.Linear(2, 1)
    d.data_shape = (2,)
    return GAN(generator or _G(), d, OPT, OPT, **_terms(), **kw)


def test_half_life_schedule_gives_the_official_beta():
    gan = _gan(ema_decay=None, ema_halflife_kimg=0.5, ema_halflife_rampup=0.05)
    sched = gan.ema
    # images_seen 64k: ramped half-life min(500, 0.05 * 64000 = 3200) = 500 images
    assert sched.beta(step=99, images_seen=64_000, batch_images=64) == 0.5 ** (64 / 500)
    assert sched.beta(step=0, images_seen=0, batch_images=64) == 0.0  # copies G at the start
    # the EMA copy follows beta exactly: ema <- beta ema + (1 - beta) G (tolerance 1e-6)
    with torch.no_grad():
        gan.generator_ema.net[0].weight.zero_()
        gan.generator.net[0].weight.fill_(1.0)
    sched.update(gan.generator_ema, gan.generator, 5, images_seen=1000, batch_images=50)
    beta = 0.5 ** (50 / 50)  # ramped half-life min(500, 0.05 * 1000) = 50 images
    assert torch.allclose(gan.generator_ema.net[0].weight, torch.full((2, 2), 1 - beta), atol=1e-6)


def test_half_life_excludes_a_decay_and_the_ramp_needs_a_half_life():
    with pytest.raises(ValueError, match="choose one"):
        EMASchedule.from_config(0.999, halflife_kimg=10.0)
    with pytest.raises(ValueError, match="needs model.ema_halflife_kimg"):
        EMASchedule.from_config(None, halflife_rampup=0.05)
    with pytest.raises(ValueError, match="ema_halflife_kimg"):
        _gan(ema_halflife_kimg=-1.0)


def test_truncation_psi_sets_the_style_generator_and_refuses_others():
    g = StyleGAN2Generator(4, 16, 1, w_dim=4, channel_base=64, channel_max=4, mapping_layers=1)
    d = nn.Linear(1, 1)
    d.data_shape = (1, 16, 16)
    gan = GAN(g, d, OPT, OPT, **_terms(), truncation_psi=0.5, ema_decay=0.9)
    assert gan.generator.truncation_psi == 0.5 and gan.generator_ema.truncation_psi == 0.5
    with pytest.raises(ValueError, match="no truncation trick"):
        _gan(truncation_psi=0.7)


def test_standing_statistics_are_the_cumulative_mean_over_the_batches():
    g = _G(bn=True)
    gen = torch.Generator().manual_seed(0)
    assert standing_statistics(g, num_batches=4, batch_size=16, noise=gen) == 1
    bn = g.net[1]
    gen.manual_seed(0)
    means = [g.net[0](torch.randn(16, 2, generator=gen)).mean(0) for _ in range(4)]
    # momentum None = cumulative average of the per-batch means (tolerance 1e-6)
    assert torch.allclose(bn.running_mean, torch.stack(means).mean(0), atol=1e-6)
    assert int(bn.num_batches_tracked) == 4 and bn.momentum == 0.1 and g.training
    assert standing_statistics(_G(bn=False), 4, 16) == 0  # no batch norm: nothing to do
