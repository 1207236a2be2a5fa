"""Label-conditioned VAE nets: labels change the output, missing labels fail clearly."""

from __future__ import annotations

import pytest
import torch

from genlab.nets.conditional import (
    ConditionalConvDecoder,
    ConditionalConvEncoder,
    ConditionalMLPDecoder,
    ConditionalMLPEncoder,
)

DECODERS = [
    lambda: ConditionalMLPDecoder(4, 1, 16, num_classes=10, hidden_dims=[32]),
    lambda: ConditionalConvDecoder(4, 1, 16, num_classes=10, base_width=8),
]
ENCODERS = [
    lambda: ConditionalMLPEncoder(1, 16, 4, num_classes=10, hidden_dims=[32]),
    lambda: ConditionalConvEncoder(1, 16, 4, num_classes=10, base_width=8),
]


@pytest.mark.parametrize("make", DECODERS)
def test_changing_y_changes_the_decoder_output(make):
    torch.manual_seed(0)
    dec = make()
    z = torch.randn(3, 4)
    a, b = dec(z, torch.tensor([0, 1, 2])), dec(z, torch.tensor([3, 1, 2]))
    assert a.shape == (3, 1, 16, 16)
    assert not torch.allclose(a[0], b[0])
    assert torch.equal(a[1:], b[1:])  # other rows: same z, same label, same output


@pytest.mark.parametrize("make", ENCODERS)
def test_changing_y_changes_the_encoder_output(make):
    torch.manual_seed(0)
    enc = make()
    x = torch.rand(2, 1, 16, 16)
    mu_a, logvar_a = enc(x, torch.tensor([0, 5]))
    mu_b, _ = enc(x, torch.tensor([9, 5]))
    assert mu_a.shape == logvar_a.shape == (2, 4)
    assert not torch.allclose(mu_a[0], mu_b[0]) and torch.equal(mu_a[1], mu_b[1])


@pytest.mark.parametrize("make", DECODERS + ENCODERS)
def test_missing_or_bad_labels_fail_naming_the_fix(make):
    net = make()
    arg = torch.randn(2, 4) if "Decoder" in type(net).__name__ else torch.rand(2, 1, 16, 16)
    with pytest.raises(ValueError, match="needs labels y"):
        net(arg)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 10\)"):
        net(arg, torch.tensor([0, 10]))


def test_zero_classes_is_refused():
    with pytest.raises(ValueError, match="data.num_classes"):
        ConditionalMLPDecoder(4, 1, 16, num_classes=0)
