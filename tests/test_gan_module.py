"""GAN LightningModule: every model config builds and trains, step counting, resume, noise."""

from __future__ import annotations

import copy

import hydra
import pytest
import pytorch_lightning as pl
import torch

from genlab.models.noise import D_STEP as NOISE_D
from genlab.models.noise import noise_seed
from helpers.config import compose_config
from helpers.trainers import bare_trainer as trainer

SMALL = {  # shrink the real configs so a few steps take well under a second each
    "dcgan": [
        "data=digits",
        "data.binarize=none",
        "data.image_size=16",
        "model.generator.base_channels=8",
        "model.discriminator.base_channels=8",
    ],
    "wgan_gp": [
        "data=digits",
        "data.binarize=none",
        "data.image_size=28",
        "model.generator.base_channels=8",
        "model.discriminator.base_channels=8",
    ],
    "sngan": [
        "data=digits",
        "data.binarize=none",
        "data.image_size=32",
        "model.generator.width=16",
        "model.discriminator.width=16",
    ],
    "gan_mlp": ["data=ring2d", "data.num_train=2048"],
}


def build(tmp_path, model: str, *overrides: str):
    cfg = compose_config(
        [f"model={model}", *SMALL[model], "data.batch_size=16", *overrides], tmp_path
    )
    return hydra.utils.instantiate(cfg.model), hydra.utils.instantiate(cfg.data)


class StepCounter(pl.Callback):
    """Counts real optimizer.step() calls with torch's step post-hooks."""

    def __init__(self) -> None:
        self.g = self.d = 0

    def on_train_start(self, trainer, pl_module):
        opt_g, opt_d = trainer.optimizers
        opt_g.register_step_post_hook(lambda *_: setattr(self, "g", self.g + 1))
        opt_d.register_step_post_hook(lambda *_: setattr(self, "d", self.d + 1))


@pytest.mark.parametrize("model", list(SMALL))
def test_model_config_trains(tmp_path, model):
    gan, dm = build(tmp_path, model)
    assert tuple(gan.data_shape) == tuple(dm.data_shape)
    g_before = [p.detach().clone() for p in gan.generator.parameters()]
    trainer(max_steps=2 * (gan.hparams.n_critic + 1)).fit(gan, dm)
    assert gan.g_steps == 2 and gan.d_steps == 2 * gan.hparams.n_critic
    assert any(
        not torch.equal(a, b) for a, b in zip(g_before, gan.generator.parameters(), strict=True)
    )
    out = gan.generate(gan.sample_noise(4, torch.Generator().manual_seed(0)))
    assert out.shape == (4, *dm.data_shape)
    if len(dm.data_shape) == 3:
        assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("n_critic", [1, 3])
def test_max_g_steps_counts_optimizer_steps(tmp_path, n_critic):
    gan, dm = build(tmp_path, "gan_mlp", f"model.n_critic={n_critic}", "model.max_g_steps=5")
    counter = StepCounter()
    t = trainer(callbacks=[counter])
    t.fit(gan, dm)
    assert (counter.g, counter.d) == (5, 5 * n_critic)
    assert (gan.g_steps, gan.d_steps) == (5, 5 * n_critic)
    assert t.global_step == 5 * (n_critic + 1)  # global_step counts every optimizer step


def test_trainer_max_steps_counts_d_plus_g(tmp_path):
    gan, dm = build(tmp_path, "gan_mlp", "model.n_critic=3", "model.max_g_steps=null")
    counter = StepCounter()
    trainer(max_steps=8, callbacks=[counter]).fit(gan, dm)
    assert (counter.d, counter.g) == (6, 2)


def test_unknown_loss_and_bad_config(tmp_path):
    with pytest.raises(Exception, match="allowed values"):  # hydra wraps the ValueError
        build(tmp_path, "gan_mlp", "model.loss=foo")
    with pytest.raises(Exception, match="model.d_terms.gp: .*batch norm"):
        build(tmp_path, "dcgan", "+model/d_terms=gp")


def snapshot(gan: pl.LightningModule, t: pl.Trainer) -> dict:
    """Deep copy (optimizer state tensors are updated in place) of everything a resume needs."""
    opt_g, opt_d = t.optimizers
    return copy.deepcopy(
        {
            "model": {k: v.detach().clone() for k, v in gan.state_dict().items()},
            "opt_g": opt_g.state_dict(),
            "opt_d": opt_d.state_dict(),
            "sched": [c.scheduler.state_dict() for c in t.lr_scheduler_configs],
            "steps": (gan.g_steps, gan.d_steps, t.global_step),
        }
    )


def assert_same(a, b):
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    else:
        assert a == b


def test_resume_restores_everything(tmp_path):
    sched = [
        "+model.scheduler_g._target_=torch.optim.lr_scheduler.StepLR",
        "+model.scheduler_g._partial_=true",
        "+model.scheduler_g.step_size=2",
        "+model.scheduler_g.gamma=0.5",
    ]
    gan, dm = build(tmp_path, "gan_mlp", "model.max_g_steps=5", *sched)
    first = trainer()
    first.fit(gan, dm)
    saved = snapshot(gan, first)
    assert "generator_ema.net.0.weight" in saved["model"] and saved["opt_g"]["state"]
    ckpt = tmp_path / "mid.ckpt"
    first.save_checkpoint(ckpt)

    class Capture(pl.Callback):
        def on_train_start(self, trainer, pl_module):
            self.state = snapshot(pl_module, trainer)

    torch.manual_seed(123)  # a fresh module with different weights
    fresh, dm2 = build(tmp_path, "gan_mlp", "model.max_g_steps=8", *sched)
    assert not torch.equal(fresh.generator.net[0].weight, gan.generator.net[0].weight)
    capture = Capture()
    trainer(callbacks=[capture]).fit(fresh, dm2, ckpt_path=ckpt)
    assert_same(saved, capture.state)  # G, D, EMA, both optimizers, scheduler, counters
    assert (fresh.g_steps, fresh.d_steps) == (8, 8)  # and training went on from there


def test_ema_follows_generator_and_is_used_for_samples(tmp_path):
    gan, dm = build(
        tmp_path, "gan_mlp", "model.max_g_steps=3", "model.ema_decay=0.5", "model.ema_rampup=false"
    )
    trainer().fit(gan, dm)
    z = gan.sample_noise(16, torch.Generator().manual_seed(1))
    assert not torch.allclose(gan.generate(z), gan.generate_raw(z))
    assert gan.has_ema and not any(p.requires_grad for p in gan.generator_ema.parameters())


def test_noise_seed_depends_on_rank_and_is_reproducible():
    a = noise_seed(42, 0, 7, NOISE_D)
    assert a == noise_seed(42, 0, 7, NOISE_D)
    assert (
        len(
            {
                a,
                noise_seed(42, 1, 7, NOISE_D),
                noise_seed(42, 0, 8, NOISE_D),
                noise_seed(43, 0, 7, NOISE_D),
                noise_seed(42, 0, 7, 1),
            }
        )
        == 5
    )
