"""2D toys: the mixtures, the VEEGAN/PacGAN mode metrics on hand-made points, the callback."""

from __future__ import annotations

import math

import hydra
import pytest
import pytorch_lightning as pl
import torch

from genlab.callbacks.toy2d import Toy2DModes
from genlab.data.toy2d import Grid2DDataModule, Ring2DDataModule, ring_centers
from genlab.metrics.toy2d import mode_metrics
from helpers.config import compose_config


def test_ring_and_grid_constants():
    ring, grid = Ring2DDataModule(), Grid2DDataModule()
    assert ring.num_modes == 8 and ring.std == 0.01 and ring.data_shape == (2,)
    assert torch.allclose(ring.centers.norm(dim=1), torch.ones(8))
    assert grid.num_modes == 25 and grid.std == 0.05
    assert sorted(set(grid.centers[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]


def test_datamodule_batches_and_reproducible_samples():
    dm = Ring2DDataModule(num_train=512, batch_size=64, seed=3)
    dm.setup("fit")
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (64, 2) and x.dtype == torch.float32 and y.shape == (64,)
    assert ((x - dm.centers[y]).norm(dim=1) < 6 * dm.std).all()
    assert torch.equal(dm.real_samples(100, seed=1), dm.real_samples(100, seed=1))
    assert len(dm.train_set) == 512


def test_mode_metrics_hand_made():
    centers, std = ring_centers(8, 1.0), 0.01
    on_modes = centers[[0, 0, 1, 2, 3]]  # 4 modes hit, mode 0 twice
    inside = centers[[4]] + torch.tensor([[2.9 * std, 0.0]])  # within 3 std: high quality
    outside = centers[[5]] + torch.tensor([[0.0, 3.1 * std]])  # beyond 3 std: not
    far = torch.zeros(3, 2)  # the ring's centre: far from every mode
    stats = mode_metrics(torch.cat([on_modes, inside, outside, far]), centers, std)
    assert stats.modes == 5 and stats.counts == [2, 1, 1, 1, 1, 0, 0, 0]
    assert stats.hq_frac == pytest.approx(6 / 10)
    p = torch.tensor([2, 1, 1, 1, 1]) / 6
    assert stats.kl_modes == pytest.approx(float((p * (p * 8).log()).sum()))
    assert stats.as_log_dict()["val/modes"] == 5.0


def test_mode_metrics_uniform_real_data_and_collapse():
    dm = Ring2DDataModule()
    real = mode_metrics(dm.real_samples(2500), dm.centers, dm.std)
    assert real.modes == 8 and real.hq_frac > 0.98 and real.kl_modes < 0.01
    collapsed = mode_metrics(dm.centers[[2]].repeat(100, 1), dm.centers, dm.std)
    assert collapsed.modes == 1 and collapsed.kl_modes == pytest.approx(math.log(8))
    assert mode_metrics(torch.zeros(5, 2), dm.centers, dm.std).kl_modes == math.inf


def test_callback_logs_metrics_and_writes_png(tmp_path):
    cfg = compose_config(
        [
            "model=gan_mlp",
            "data=ring2d",
            "data.num_train=512",
            "data.batch_size=64",
            "model.max_g_steps=null",
        ],
        tmp_path,
    )
    model, dm = hydra.utils.instantiate(cfg.model), hydra.utils.instantiate(cfg.data)
    callback = Toy2DModes(every_n_epochs=1, num_samples=500)
    trainer = pl.Trainer(
        accelerator="cpu",
        max_epochs=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        default_root_dir=str(tmp_path),
        callbacks=[callback],
    )
    trainer.fit(model, dm)
    assert {"val/modes", "val/hq_frac", "val/kl_modes"} <= set(trainer.callback_metrics)
    assert callback.last.num_samples == 500
    assert len(list((tmp_path / "images").glob("toy2d_epoch*.png"))) == 2
