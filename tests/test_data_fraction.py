"""digits ``data.train_fraction``: a seeded share of the train split, val/test untouched."""

from __future__ import annotations

import pytest
import torch

from genlab.data.digits import NUM_DIGITS, DigitsDataModule
from genlab.utils.ranges import RangeError

FULL_TRAIN = NUM_DIGITS - 250 - 250  # the default val_size and test_size


def make(fraction: float, seed: int = 0) -> DigitsDataModule:
    dm = DigitsDataModule(image_size=8, binarize="none", train_fraction=fraction, seed=seed)
    dm.setup()
    return dm


def test_fraction_keeps_a_seeded_subset_of_train_and_leaves_val_test() -> None:
    full, tenth = make(1.0), make(0.1)
    assert full.num_train == FULL_TRAIN
    assert tenth.num_train == round(0.1 * FULL_TRAIN)  # 130 images
    # the subset is drawn from the full train split, nothing from val/test leaks in
    assert set(tenth.split_indices["train"].tolist()) <= set(full.split_indices["train"].tolist())
    for split in ("val", "test"):
        assert torch.equal(tenth.split_indices[split], full.split_indices[split])
    # same seed -> same subset; another seed -> another subset
    assert torch.equal(make(0.1).split_indices["train"], tenth.split_indices["train"])
    assert not torch.equal(make(0.1, seed=1).split_indices["train"], tenth.split_indices["train"])
    assert tenth.protocol()["train_fraction"] == 0.1


def test_tiny_fraction_keeps_one_image() -> None:
    assert make(1e-6).num_train == 1


@pytest.mark.parametrize("bad", [0, -0.1, 1.5, float("nan"), "half"])
def test_fraction_out_of_range_is_refused_naming_the_key(bad) -> None:
    with pytest.raises(RangeError, match="train_fraction"):
        DigitsDataModule(image_size=8, binarize="none", train_fraction=bad)
