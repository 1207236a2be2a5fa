"""Latent traversals: one row per dimension, only that dimension varies."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from omegaconf import OmegaConf

from genlab.callbacks.traversals import LatentTraversals, kl_per_dim, traverse
from genlab.run.instantiate import instantiate_callbacks


def test_traverse_varies_one_dimension_per_row():
    z0 = torch.tensor([0.5, -1.0, 2.0])
    values = torch.tensor([-1.0, 0.0, 1.0, 2.0])
    z = traverse(z0, [2, 0], values).view(2, 4, 3)
    assert torch.equal(z[0, :, 2], values) and torch.equal(z[1, :, 0], values)
    assert torch.equal(z[0, :, :2], z0[:2].expand(4, 2))
    assert torch.equal(z[1, :, 1:], z0[1:].expand(4, 2))


def test_kl_per_dim_reads_the_logged_keys():
    metrics = {"val/kl_dim/00": 0.1, "val/kl_dim/01": 2.5, "val/kl_dim/02": torch.tensor(0.7)}
    kl = kl_per_dim(metrics, 3)
    assert torch.allclose(kl, torch.tensor([0.1, 2.5, 0.7]))
    assert torch.argsort(kl, descending=True).tolist() == [1, 2, 0]
    assert kl_per_dim(metrics, 4) is None  # a missing dim: fall back, don't guess


def test_bad_settings_name_the_key():
    with pytest.raises(ValueError, match="LatentTraversals: steps=1 .*an integer >= 2"):
        LatentTraversals(steps=1)
    with pytest.raises(ValueError, match="span=0"):
        LatentTraversals(span=0)
    target = f"{LatentTraversals.__module__}.LatentTraversals"
    cfg = OmegaConf.create({"callbacks": {"traversals": {"_target_": target, "steps": 1}}})
    with pytest.raises(
        ValueError, match=r"callbacks\.traversals\.steps=1: expected an integer >= 2"
    ):
        instantiate_callbacks(cfg.callbacks)  # as genlab-train calls it


class _Data:
    def real_images(self, split, num):
        return torch.rand(num, 1, 8, 8, generator=torch.Generator().manual_seed(0))


class _Model(torch.nn.Module):
    """Encoder whose posterior mean varies only in dims 2 (most) and 0; decoder = z as pixels."""

    conditional, can_encode, latent_shape = False, True, (4,)
    device = torch.device("cpu")

    def encode(self, x, labels=None):
        m = x.flatten(1)[:, :1]
        return torch.cat([m, torch.zeros_like(m), 5 * m, torch.zeros_like(m)], 1)

    def generate(self, z, labels=None):
        return z.view(-1, 1, 2, 2).clamp(0, 1)


def test_without_logged_kl_rows_are_sorted_by_posterior_mean_variance(tmp_path):
    trainer = SimpleNamespace(
        datamodule=_Data(),
        callback_metrics={},
        current_epoch=3,
        global_step=7,
        loggers=[],
        default_root_dir=str(tmp_path),
    )
    cb = LatentTraversals(steps=3, max_dims=2)
    cb.make_images(trainer, _Model(), 4)
    order = json.loads((tmp_path / "images" / "traversals" / "epoch_0003.json").read_text())
    assert order["dims"] == [2, 0] and "var_posterior_mean" in order
    assert order["values"] == [-3.0, 0.0, 3.0]
