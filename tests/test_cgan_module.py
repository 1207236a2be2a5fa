"""Class-conditional GANs and the DiffAugment / LeCam / ACGAN terms in the GAN module."""

from __future__ import annotations

import hydra
import pytest
import pytorch_lightning as pl
import torch

import genlab.objectives.augment as augment
import genlab.objectives.gan_regularizers as regularizers
from helpers.config import compose_config
from helpers.trainers import bare_trainer as trainer

SMALL = {
    "dcgan_cond": [
        "data.image_size=16",
        "model.generator.base_channels=8",
        "model.discriminator.base_channels=8",
    ],
    "acgan": [
        "data.image_size=16",
        "model.generator.base_channels=8",
        "model.discriminator.base_channels=8",
    ],
    "sngan_cond": [
        "data.image_size=16",
        "model.generator.width=16",
        "model.discriminator.width=16",
        "model.n_critic=1",
    ],
}
SMALL["dcgan"] = SMALL["dcgan_cond"]


def build(tmp_path, model: str, *overrides: str):
    cfg = compose_config(
        [
            f"model={model}",
            "data=digits",
            "data.binarize=none",
            "data.batch_size=16",
            *SMALL[model],
            *overrides,
        ],
        tmp_path,
    )
    return hydra.utils.instantiate(cfg.model), hydra.utils.instantiate(cfg.data)


@pytest.mark.parametrize("model", ["dcgan_cond", "acgan", "sngan_cond"])
def test_conditional_gan_trains_and_generates_the_requested_labels(tmp_path, model):
    gan, dm = build(tmp_path, model, "model.max_g_steps=2")
    assert gan.conditional and gan.num_classes == 10
    trainer().fit(gan, dm)
    assert gan.g_steps == 2
    z = gan.sample_noise(1, torch.Generator().manual_seed(0)).repeat(2, 1)
    a, b = gan.generate(z, torch.tensor([1, 2]))
    assert not torch.allclose(a, b)  # the label changes the sample
    labels = gan.sample_labels(1000, torch.Generator().manual_seed(0))
    assert labels.dtype == torch.int64 and set(labels.tolist()) == set(range(10))
    with pytest.raises(ValueError, match="needs labels"):
        gan.generate(z)


def test_diffaugment_reaches_every_d_input_in_d_and_g_steps(tmp_path, monkeypatch):
    gan, dm = build(
        tmp_path,
        "dcgan_cond",
        "model.max_g_steps=1",
        "model/augment=diffaugment",
        "model.augment.policy=[translation,cutout]",
    )
    augmented, seen = [], []
    real_augment = augment.diff_augment

    def spy(x, policy, generator=None):
        assert tuple(policy) == ("translation", "cutout")
        out = real_augment(x, policy, generator)
        augmented.append(out)
        return out

    monkeypatch.setattr(augment, "diff_augment", spy)
    gan.discriminator.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    trainer().fit(gan, dm)
    # D step: real and fake; G step: fake -> three augmented D inputs, exactly what D saw
    assert len(augmented) == 3 and len(seen) == 3
    for out, x in zip(augmented, seen, strict=True):
        assert out is x
    assert augmented[2].requires_grad  # G step: the gradient flows through the augmentation
    assert (augmented[0] == 0).any()  # cutout zeroed some pixels (-1 is black in [-1, 1])


def test_no_diffaugment_means_no_augmentation(tmp_path, monkeypatch):
    gan, dm = build(tmp_path, "dcgan", "model.max_g_steps=1")
    monkeypatch.setattr(augment, "diff_augment", lambda *a, **k: pytest.fail("augmented"))
    trainer().fit(gan, dm)


def test_acgan_ce_uses_the_batch_labels_for_real_and_fake(tmp_path, monkeypatch):
    gan, dm = build(tmp_path, "acgan", "model.max_g_steps=1")
    calls = {}
    real_d, real_g = regularizers.acgan_d_loss, regularizers.acgan_g_loss

    def spy_d(real_logits, real_y, fake_logits, fake_y):
        calls["d"] = (real_y.clone(), fake_y.clone())
        return real_d(real_logits, real_y, fake_logits, fake_y)

    def spy_g(fake_logits, fake_y):
        calls["g"] = fake_y.clone()
        return real_g(fake_logits, fake_y)

    monkeypatch.setattr(regularizers, "acgan_d_loss", spy_d)
    monkeypatch.setattr(regularizers, "acgan_g_loss", spy_g)
    batches = []

    class Grab(pl.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            batches.append(batch[1].clone())

    trainer(callbacks=[Grab()]).fit(gan, dm)
    real_y, fake_y = calls["d"]
    # real: the data's labels; fake: the labels G was given, which are the batch's labels
    # (the GAN draws fakes with the real batch's labels, so class frequencies follow the data)
    assert torch.equal(real_y, batches[0]) and torch.equal(fake_y, batches[0])
    assert torch.equal(calls["g"], batches[0])


def test_bad_conditional_configs_fail_before_training(tmp_path):
    with pytest.raises(Exception, match="model.d_terms.acgan: .*aux_classifier"):
        build(tmp_path, "dcgan_cond", "+model/d_terms=acgan")
    with pytest.raises(Exception, match="num_classes"):
        build(tmp_path, "dcgan_cond", "model.generator.num_classes=5")
    with pytest.raises(Exception, match="model.augment.policy.*allowed"):
        build(tmp_path, "dcgan", "model/augment=diffaugment", "model.augment.policy=flip")


def test_resume_restores_lecam_anchors(tmp_path):
    lecam = ["+model/d_terms=lecam", "model.d_terms.lecam.weight=0.5"]
    gan, dm = build(tmp_path, "dcgan_cond", "model.max_g_steps=3", *lecam)
    first = trainer()
    first.fit(gan, dm)
    saved = {k: v.clone() for k, v in gan.d_terms.lecam.state_dict().items()}
    assert int(saved["num_updates"]) == 3 and saved["ema_real"] != 0
    ckpt = tmp_path / "mid.ckpt"
    first.save_checkpoint(ckpt)
    assert "d_terms.lecam.ema_real" in torch.load(ckpt, weights_only=True)["state_dict"]

    restored = {}

    class Capture(pl.Callback):
        def on_train_start(self, trainer, pl_module):
            restored.update({k: v.clone() for k, v in pl_module.d_terms.lecam.state_dict().items()})

    fresh, dm2 = build(tmp_path, "dcgan_cond", "model.max_g_steps=4", *lecam)
    assert int(fresh.d_terms.lecam.num_updates) == 0
    trainer(callbacks=[Capture()]).fit(fresh, dm2, ckpt_path=ckpt)
    assert restored.keys() == saved.keys()
    for key in saved:
        assert torch.equal(restored[key], saved[key]), key
    assert int(fresh.d_terms.lecam.num_updates) == 4  # and it went on updating
