"""Latent traversals: one row per dimension, only that dimension varies."""

from __future__ import annotations

import pytest
import torch

from genlab.callbacks.traversals import LatentTraversals, kl_per_dim, traverse


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
    with pytest.raises(ValueError, match="callbacks.traversals"):
        LatentTraversals(steps=1)
