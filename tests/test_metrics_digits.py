"""The shipped digits classifier: small, accurate on held-out digits, any input size/channels."""

from __future__ import annotations

import pytest
import torch
from sklearn.model_selection import train_test_split

from genlab.metrics import digits_net
from genlab.metrics.extractors import DIGITS_WEIGHTS, DigitsClassifierExtractor
from genlab.metrics.functional import inception_score


@pytest.fixture(scope="module")
def extractor():
    return DigitsClassifierExtractor()


@pytest.fixture(scope="module")
def heldout():
    """The held-out 20% of scripts/train_digits_classifier.py (same stratified split, seed 0)."""
    images, labels = digits_net.load_sklearn_digits()
    _, idx = train_test_split(
        torch.arange(len(labels)).numpy(), test_size=0.2, stratify=labels.numpy(), random_state=0
    )
    return images[idx], labels[idx]


def test_weights_ship_in_the_package_and_are_small():
    assert DIGITS_WEIGHTS.is_file() and DIGITS_WEIGHTS.stat().st_size < 1_000_000


def test_heldout_accuracy_at_several_resolutions(extractor, heldout):
    images, labels = heldout
    for size in (8, 16, 28, 32):
        resized = torch.nn.functional.interpolate(images, size=(size, size), mode="bilinear")
        out = extractor(resized.clamp(0, 1))
        accuracy = float((out.logits.argmax(1) == labels).float().mean())
        assert accuracy > 0.97, (size, accuracy)
        assert out.features.shape == (len(labels), 128) and out.logits.shape == (len(labels), 10)


def test_colour_input_is_averaged_to_grey(extractor, heldout):
    grey = torch.nn.functional.interpolate(heldout[0][:16], size=(32, 32), mode="bilinear").clamp(
        0, 1
    )
    torch.testing.assert_close(extractor(grey.repeat(1, 3, 1, 1)).logits, extractor(grey).logits)


def test_inception_score_of_real_digits_is_high(extractor, heldout):
    """Real digits are confidently and evenly classified: IS near the 10 classes."""
    logits = extractor(heldout[0]).logits
    mean, _ = inception_score(logits, splits=4)
    assert 7.0 < mean <= 10.0
