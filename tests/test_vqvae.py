"""VQ-VAE end to end: training writes images/history/checkpoints, eval, resume restores codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate

from genlab.contract import GenerativeModel
from genlab.eval import evaluate
from genlab.train import train
from helpers.config import compose_config
from helpers.wandb_offline import read_offline_run

VQ = ["model=vqvae", "metrics=none", "model.quantizer.num_codes=32"]


@pytest.mark.slow  # 51 s on the shared 2-core machine under load ~10 (2026-12-02)
def test_vqvae_run_writes_images_history_and_checkpoints(tiny_cfg, tmp_path):
    cfg = tiny_cfg(*VQ)
    metrics = train(cfg)
    run = Path(cfg.paths.output_dir)
    for name in ("samples", "reconstructions", "interpolations", "codebook_usage"):
        assert list((run / "images" / name).glob("epoch_*.png")), name
    assert not (run / "images" / "traversals").exists()  # spatial latents: no traversals
    ckpt = run / "checkpoints" / "last.ckpt"
    assert ckpt.is_file()
    (wandb_dir,) = list((run / "wandb").glob("offline-run-*"))
    history = read_offline_run(wandb_dir).history
    for key in ("val/recon_bpd", "val/perplexity", "val/codes_used", "train/restarts"):
        assert any(key in row for row in history), key
    assert 0 < metrics["test/recon_bpd"] < metrics["test/bpd"]
    assert 1 <= metrics["test/perplexity"] <= metrics["test/codes_used"] <= 32
    # genlab-eval on the checkpoint reports the same family of numbers
    eval_cfg = compose_config([f"ckpt_path={ckpt}", "metrics=none"], tmp_path, "eval")
    eval_cfg.trainer.enable_progress_bar = False
    evaluated = evaluate(eval_cfg)
    assert evaluated["test/recon_bpd"] > 0 and evaluated["test/perplexity"] >= 1
    written = json.loads(ckpt.with_suffix(".eval.json").read_text())
    assert written["metrics"]["test/codes_used"] == evaluated["test/codes_used"]
    # the VAE-only iw_samples override is refused with the fix, not a TypeError
    bad = compose_config([f"ckpt_path={ckpt}", "metrics=none", "iw_samples=10"], tmp_path, "eval")
    with pytest.raises(ValueError, match="drop iw_samples"):
        evaluate(bad)


def _trainer(max_epochs: int, callbacks=()) -> pl.Trainer:
    return pl.Trainer(
        max_epochs=max_epochs,
        limit_train_batches=3,
        limit_val_batches=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=list(callbacks),
    )


def test_resume_restores_the_codebook_ema_state(tiny_cfg, tmp_path):
    cfg = tiny_cfg(*VQ)
    torch.manual_seed(0)
    model, dm = instantiate(cfg.model), instantiate(cfg.data)
    first = _trainer(1)
    first.fit(model, dm)
    saved = {k: v.detach().clone() for k, v in model.quantizer.state_dict().items()}
    assert int(saved["restarts"]) > 0  # training moved the EMA state away from its init
    assert not torch.equal(saved["cluster_size"], torch.ones(32))
    ckpt = tmp_path / "mid.ckpt"
    first.save_checkpoint(ckpt)

    class Capture(pl.Callback):
        def on_train_start(self, trainer, pl_module):
            self.state = {
                k: v.detach().clone() for k, v in pl_module.quantizer.state_dict().items()
            }

    torch.manual_seed(1)
    fresh = instantiate(cfg.model)
    assert not torch.equal(fresh.quantizer.embed_sum, saved["embed_sum"])
    capture = Capture()
    _trainer(2, [capture]).fit(fresh, instantiate(cfg.data), ckpt_path=ckpt)
    assert capture.state.keys() == saved.keys()
    for key, value in saved.items():
        assert torch.equal(capture.state[key], value), key


def test_uniform_prior_sampler_and_contract(tiny_cfg):
    cfg = tiny_cfg(*VQ)
    model = instantiate(cfg.model)
    assert isinstance(model, GenerativeModel) and model.prior == "uniform"
    assert model.latent_shape == (16, 7, 7) and model.data_shape == (1, 28, 28)
    assert model.can_encode and not model.conditional and model.sample_labels(3) is None
    z = model.sample_noise(5, torch.Generator().manual_seed(0))
    assert z.shape == (5, 16, 7, 7)
    codes = model.quantizer.embedding.detach()
    # every position of a sample is one of the K codes
    flat = z.permute(0, 2, 3, 1).reshape(-1, 16)
    assert (flat[:, None] == codes[None]).all(-1).any(-1).all()
    model.eval()
    x = torch.rand(2, 1, 28, 28)
    images = model.generate(model.encode(x))
    assert images.shape == (2, 1, 28, 28) and images.min() >= 0 and images.max() <= 1
    assert torch.equal(model.reconstruct(x), images)
