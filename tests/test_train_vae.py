"""The VAE family end to end through the composed Hydra config (tiny CPU runs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from genlab.eval import evaluate
from genlab.train import train
from helpers.config import compose_config
from helpers.wandb_offline import read_offline_run


def _no_interpolations(value) -> bool:
    if isinstance(value, dict):
        return all(_no_interpolations(v) for v in value.values())
    if isinstance(value, list):
        return all(_no_interpolations(v) for v in value)
    return not (isinstance(value, str) and "${" in value)


@pytest.mark.parametrize("model", ["vae", "beta_vae", "iwae"])
def test_tiny_training_run_leaves_a_complete_run_folder(tiny_cfg, tmp_path, model):
    cfg = tiny_cfg(f"model={model}", "model.test_iw_samples=50")
    metrics = train(cfg)
    run = Path(cfg.paths.output_dir)
    assert (run / ".hydra" / "resolved_config.yaml").is_file()
    assert (run / "checkpoints" / "last.ckpt").is_file()
    for name in ("samples", "reconstructions", "interpolations"):
        assert list((run / "images" / name).glob("epoch_*.png")), name
    assert "val/elbo" in (run / "csv" / "metrics.csv").read_text().splitlines()[0]
    assert json.loads((run / "metrics.json").read_text())["test/nll_iw"] > 0
    # W&B: one offline run whose history holds val/elbo and whose config is fully resolved
    (wandb_dir,) = list((run / "wandb").glob("offline-run-*"))
    logged = read_offline_run(wandb_dir)
    assert any("val/elbo" in row for row in logged.history)
    assert logged.config["model"]["objective"] == OmegaConf.to_container(cfg.model.objective)
    assert _no_interpolations(logged.config)
    assert metrics["val/elbo"] < 0 and metrics["test/nll_iw"] > 0


def test_iwae_trains_the_importance_weighted_bound(tiny_cfg):
    metrics = train(tiny_cfg("model=iwae", "model.objective.k=3", "test=false"))
    assert "train/iw_bound" in metrics or "val/iw_bound" in metrics


def test_wrong_image_size_fails_before_training_naming_both_sizes(tiny_cfg):
    cfg = tiny_cfg("model/net=conv", "model.encoder.image_size=32", "model.decoder.image_size=32")
    with pytest.raises(ValueError, match=r"1x32x32.*1x28x28"):
        train(cfg)
    assert not (Path(cfg.paths.output_dir) / "checkpoints").exists()


def test_unsupported_conv_size_names_supported_sizes():
    """The net refuses a size it cannot build (genlab-train adapts only a *defaulted*
    data.image_size before it gets here: tests/test_ux_units.py)."""
    from genlab.nets.conv import ConvEncoder

    with pytest.raises(ValueError, match=r"supports image_size in \[16, 28, 32, 64\], got 20"):
        ConvEncoder(channels=1, image_size=20, latent_dim=4)


@pytest.mark.parametrize("size", [16, 28])
def test_conv_nets_train_on_digits(tiny_cfg, size):
    metrics = train(tiny_cfg("model/net=conv", f"data.image_size={size}", "test=false"))
    assert torch.isfinite(torch.tensor(metrics["val/elbo"]))


@pytest.mark.slow  # 61 s on the shared 2-core machine under load ~10 (2026-12-02)
def test_eval_reports_iw_nll_no_larger_than_negative_elbo(tiny_cfg, tmp_path):
    cfg = tiny_cfg("trainer.max_epochs=3", "trainer.limit_train_batches=20", "test=false")
    train(cfg)
    ckpt = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    eval_cfg = compose_config([f"ckpt_path={ckpt}", "iw_samples=200"], tmp_path, "eval")
    eval_cfg.trainer.enable_progress_bar = False
    metrics = evaluate(eval_cfg)
    # the IW estimate is a tighter bound: -log p(x) <= -ELBO up to Monte Carlo error
    assert metrics["test/nll_iw"] <= -metrics["test/elbo"] + 0.5
    written = json.loads(ckpt.with_suffix(".eval.json").read_text())
    assert written["metrics"]["test/nll_iw"] == pytest.approx(metrics["test/nll_iw"])


def test_eval_rejects_missing_and_corrupt_checkpoints(tmp_path):
    cfg = compose_config([f"ckpt_path={tmp_path / 'nope.ckpt'}"], tmp_path, "eval")
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        evaluate(cfg)
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"PK\x03\x04 truncated")
    cfg = compose_config([f"ckpt_path={bad}"], tmp_path, "eval")
    with pytest.raises(RuntimeError, match="unreadable"):
        evaluate(cfg)


def test_resume_continues_from_checkpoint(tiny_cfg):
    cfg = tiny_cfg("test=false")
    train(cfg)
    ckpt = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    state = torch.load(ckpt, weights_only=True)
    resumed = tiny_cfg("test=false", "trainer.max_epochs=3", f"ckpt_path={ckpt}")
    OmegaConf.update(resumed, "paths.output_dir", str(Path(cfg.paths.output_dir) / "resumed"))
    train(resumed)
    new_state = torch.load(
        Path(resumed.paths.output_dir) / "checkpoints" / "last.ckpt", weights_only=True
    )
    assert new_state["epoch"] == state["epoch"] + 1
    assert new_state["global_step"] == state["global_step"] + 3  # limit_train_batches=3


def test_nan_loss_stops_with_a_clear_error_and_keeps_earlier_files(tiny_cfg):
    cfg = tiny_cfg("test=false", "trainer.max_epochs=1")
    train(cfg)
    last = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    before = last.read_bytes()
    bad = tiny_cfg(
        "test=false",
        "trainer.max_epochs=3",
        f"ckpt_path={last}",
        "model.objective._target_=helpers.nan_objective.NaNAfter",
        "~model.objective.beta",
    )
    with pytest.raises(FloatingPointError, match="non-finite VAE loss.*learning rate"):
        train(bad)
    assert last.read_bytes() == before  # nothing already written is lost
