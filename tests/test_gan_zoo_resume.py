"""Resume through the trainer restores the GAN zoo's new state (issue 17): ADA's p and its
adjustment sums, the half-life EMA generator and its image counter, the path-length mean, and
BigGAN's standing statistics in the EMA generator. A run that stops after epoch 1 (its
last.ckpt, what a SIGKILL in epoch 2 leaves) and is resumed for epoch 2 must end with the same
tensors as the uninterrupted 2-epoch run. Tolerance: 1e-6 absolute + 1e-5 relative per element
(the same ops in the same order; float32 reductions may split differently between processes).
"""

from __future__ import annotations

import pytest
import torch

from helpers.runs import straight_stopped_resumed

FAST = ["metrics=none", "logger=csv", "test=false", "seed=3", "data.binarize=none"]
STYLEGAN2_ADA = [
    "model=stylegan2", "model/augment=ada", "data.image_size=16",
    "model.augment.p=0.3", "model.augment.adjust_images=2000",  # p moves 32*4/2000 per update
    "model.ema_halflife_kimg=0.5", "model.ema_halflife_rampup=0.05",
    "model.generator.latent_dim=8", "model.generator.w_dim=8", "model.generator.mapping_layers=1",
    "model.generator.channel_base=64", "model.generator.channel_max=8",
    "model.discriminator.channel_base=64", "model.discriminator.channel_max=8",
]  # fmt: skip
BIGGAN = [
    "model=biggan", "data.image_size=32", "model.n_critic=1", "model.ema_start_step=0",
    "model.standing_stats=3", "model.generator.ch=2", "model.discriminator.ch=2",
    "model.generator.shared_dim=4", "model.generator.latent_dim=8",
]  # fmt: skip
ATOL, RTOL = 1e-6, 1e-5


def _resumed_and_straight(tiny_cfg, overrides) -> tuple[dict, dict]:
    straight, _, resumed = straight_stopped_resumed(tiny_cfg, [*FAST, *overrides])
    return straight, resumed


def _same(a: dict, b: dict, keys: list[str]) -> None:
    for key in keys:
        va, vb = a["state_dict"][key], b["state_dict"][key]
        assert torch.allclose(va.double(), vb.double(), atol=ATOL, rtol=RTOL), key


@pytest.mark.slow
def test_resume_restores_ada_p_half_life_ema_and_path_length_mean(tiny_cfg):
    a, c = _resumed_and_straight(tiny_cfg, STYLEGAN2_ADA)
    assert a["gan_steps"] == c["gan_steps"] == {"g_steps": 6, "d_steps": 6, "g_images": 192}
    sd = a["state_dict"]
    assert abs(float(sd["augment.p"]) - 0.3) > 0.05 and float(sd["g_terms.pl.pl_mean"]) > 0.0
    ema = sorted(k for k in sd if k.startswith("generator_ema."))
    assert not torch.equal(sd["generator_ema.synthesis.b4.conv1.weight"],
                           sd["generator.synthesis.b4.conv1.weight"])  # fmt: skip
    _same(a, c, ["augment.p", "augment.sign_sum", "augment.count", "augment.steps",
                 "g_terms.pl.pl_mean", "generator.mapping.w_avg", *ema])  # fmt: skip


@pytest.mark.slow
def test_resume_restores_biggan_standing_statistics(tiny_cfg):
    a, c = _resumed_and_straight(tiny_cfg, BIGGAN)
    sd = a["state_dict"]
    # the EMA generator's batch norms hold standing statistics (3 cumulative batches), not G's
    assert int(sd["generator_ema.out_bn.num_batches_tracked"]) == 3
    assert not torch.equal(sd["generator_ema.out_bn.running_mean"],
                           sd["generator.out_bn.running_mean"])  # fmt: skip
    bn = sorted(k for k in sd if k.startswith("generator_ema.") and "running_" in k)
    assert bn
    _same(a, c, bn)
