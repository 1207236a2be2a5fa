"""Mixed precision (bf16 on CPU, fp16 where a GPU is) and ``model.compile`` for every model."""

from __future__ import annotations

import hydra
import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.plugins.precision import MixedPrecision

from genlab.objectives.gan_terms import DStep, apply_terms

SMALL_GAN = [
    "data.image_size=16",
    "model.generator.base_channels=8",
    "model.discriminator.base_channels=8",
]
MODELS = {
    "vae": ["model=vae", "data.image_size=16"],
    "iwae": ["model=iwae", "data.image_size=16", "model.objective.k=4"],
    "dcgan": ["model=dcgan", *SMALL_GAN],
    "wgan_gp": ["model=wgan_gp", *SMALL_GAN],
    "r1": ["model=dcgan", "+model/d_terms=r1", *SMALL_GAN],
}


def build(tiny_cfg, name: str, *extra: str):
    """Return (model, a fixed batch of 16 training images in [0, 1]) for MODELS[name]."""
    cfg = tiny_cfg(*MODELS[name], *extra)
    torch.manual_seed(0)
    datamodule = hydra.utils.instantiate(cfg.data)
    model = hydra.utils.instantiate(cfg.model)
    return model, datamodule.real_images("train", 16), cfg


def objective(model, x: torch.Tensor) -> torch.Tensor:
    """The training loss on ``x`` with fixed noise: VAE objective, or the GAN's D loss (all its
    D terms: adversarial loss + penalties)."""
    torch.manual_seed(1)
    if hasattr(model, "encoder"):
        return model.step(x)["loss"].mean()
    real = x * 2.0 - 1.0
    fake = model._g(model.generator, torch.randn(len(x), model.latent_dim), None).detach()
    critic = lambda v: model._d(v, None)  # noqa: E731
    step = DStep(real, fake, None, critic(real), critic(fake), None, None, index=0,
                 noise=lambda s: torch.Generator().manual_seed(2), critic=critic)  # fmt: skip
    return apply_terms(model.d_terms, model, step, "d_")[0]


@pytest.mark.parametrize("name", list(MODELS))
def test_bf16_autocast_loss_is_finite_and_close_to_fp32(tiny_cfg, name):
    """Same weights, batch and noise: the bf16-autocast loss is float32, finite, within 3% of
    fp32, and its backward (a double backward for the penalties) gives finite gradients."""
    model, x, _ = build(tiny_cfg, name)
    model.train()
    fp32 = objective(model, x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        bf16 = objective(model, x)
    assert bf16.dtype == torch.float32 and torch.isfinite(bf16)
    assert bf16.item() == pytest.approx(fp32.item(), rel=3e-2, abs=1e-2)
    model.zero_grad()
    bf16.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("name", ["iwae", "wgan_gp"])
def test_bf16_mixed_trainer_runs(tiny_cfg, name):
    """trainer.precision=bf16-mixed through genlab's training steps (automatic optimization
    with the IW bound; manual optimization with the gradient penalty)."""
    model, _, cfg = build(tiny_cfg, name)
    datamodule = hydra.utils.instantiate(cfg.data)
    trainer = pl.Trainer(
        accelerator="cpu",
        precision="bf16-mixed",
        max_steps=4,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
    )
    trainer.fit(model, datamodule=datamodule)
    key = "train/loss" if name == "iwae" else "train/d_loss"
    value = trainer.callback_metrics[key]
    assert torch.isfinite(value) and trainer.global_step == 4


def first_d_grad_norm(tiny_cfg, **trainer_kwargs) -> float:
    """``train/grad_norm_d`` of the first D step of WGAN-GP (measured before clipping)."""
    model, _, cfg = build(tiny_cfg, "wgan_gp", "model.grad_clip_d=1.0")
    trainer = pl.Trainer(
        accelerator="cpu",
        max_steps=2,  # one D step and one G step
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
        **trainer_kwargs,
    )
    trainer.fit(model, datamodule=hydra.utils.instantiate(cfg.data))
    return float(trainer.callback_metrics["train/grad_norm_d"])


def test_fp16_scaler_with_manual_optimization_unscales_before_clipping(tiny_cfg):
    """16-mixed with a GradScaler (CPU autocast fp16 here; on a GPU the same plugin): the
    scaler goes through manual_backward / opt.step, and the gradient norm measured before
    clipping is the true one (as in fp32), not the scaled one (1024 times larger)."""
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    plugin = MixedPrecision("16-mixed", "cpu", scaler=scaler)
    fp16 = first_d_grad_norm(tiny_cfg, plugins=[plugin])
    fp32 = first_d_grad_norm(tiny_cfg)
    assert fp16 == pytest.approx(fp32, rel=5e-2)
    assert scaler.get_scale() == 1024.0  # used by Lightning, no overflow skipped the steps


@pytest.mark.skipif(not torch.cuda.is_available(), reason="fp16 autocast needs a CUDA device")
@pytest.mark.parametrize("name", ["vae", "wgan_gp"])
def test_fp16_mixed_on_gpu(tiny_cfg, name):
    model, _, cfg = build(tiny_cfg, name)
    datamodule = hydra.utils.instantiate(cfg.data)
    trainer = pl.Trainer(
        accelerator="gpu",
        devices=1,
        precision="16-mixed",
        max_steps=4,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        log_every_n_steps=1,
    )
    trainer.fit(model, datamodule=datamodule)
    key = "train/loss" if name == "vae" else "train/d_loss"
    assert torch.isfinite(trainer.callback_metrics[key])


def test_compile_option_compiles_nets_in_place(tiny_cfg):
    """model.compile=true compiles the nets, not the module; state-dict keys are unchanged, and
    D stays eager when a penalty needs a double backward."""
    plain, _, _ = build(tiny_cfg, "vae")
    vae, _, _ = build(tiny_cfg, "vae", "model.compile=true")
    assert vae.encoder._compiled_call_impl is not None
    assert vae.decoder._compiled_call_impl is not None
    assert getattr(vae, "_compiled_call_impl", None) is None
    assert list(vae.state_dict()) == list(plain.state_dict())
    gan, _, _ = build(tiny_cfg, "wgan_gp", "model.compile=max-autotune")
    assert gan.generator._compiled_call_impl is not None
    assert gan.discriminator._compiled_call_impl is None
    with pytest.raises(Exception, match="model.compile='fast' is not allowed"):
        build(tiny_cfg, "vae", "model.compile=fast")


@pytest.mark.slow
def test_compiled_tiny_model_trains(tiny_cfg):
    """model.compile=true: a tiny VAE trains end to end through genlab-train (inductor on CPU)."""
    from genlab.train import train

    cfg = tiny_cfg(
        "model=vae",
        "data.image_size=8",
        "model.compile=true",
        "trainer.max_epochs=1",
        "metrics=none",
        "callbacks=none",
        "logger=csv",
        "test=false",
    )
    metrics = train(cfg)
    assert torch.isfinite(torch.tensor(metrics["val/elbo"]))
