"""Vector quantizer of VQ-VAE: straight-through gradients, EMA updates, restarts, perplexity."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genlab.nets.quantizer import VectorQuantizer, perplexity
from genlab.nets.vq import VQDecoder, VQEncoder


def _grid(points: torch.Tensor) -> torch.Tensor:
    """(N, C) points -> encodings (1, C, 1, N)."""
    return points.t()[None, :, None, :].contiguous()


def test_nearest_code_and_lookup():
    vq = VectorQuantizer(3, 2, restart_threshold=0).eval()
    vq.embedding.data = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 5.0]])
    z = _grid(torch.tensor([[0.1, 0.2], [0.9, -0.3], [0.2, 4.0], [0.6, 0.0]]))
    out = vq(z)
    assert out.indices.flatten().tolist() == [0, 1, 2, 1]
    assert torch.equal(out.quantized, vq.lookup(out.indices))
    assert out.counts.tolist() == [1.0, 2.0, 1.0]


def test_straight_through_gradient_reaches_the_encoder():
    torch.manual_seed(0)
    enc = nn.Conv2d(1, 4, 1)
    vq = VectorQuantizer(8, 4)
    x = torch.randn(2, 1, 3, 3)
    z_e = enc(x)
    z_e.retain_grad()
    out = vq(z_e)
    upstream = torch.randn_like(out.quantized)
    (out.quantized * upstream).sum().backward()
    # d quantized / d z_e is the identity: the decoder's gradient is copied to the encoder
    assert torch.allclose(z_e.grad, upstream)
    assert enc.weight.grad is not None and enc.weight.grad.abs().sum() > 0
    # and the commitment loss pulls z_e towards its code: gradient 2 (z_e - e) / numel
    z_e2 = enc(x).detach().requires_grad_(True)
    out2 = vq.eval()(z_e2)
    out2.commitment_loss.backward()
    expected = 2 * (z_e2 - vq.lookup(out2.indices)).detach() / z_e2.numel()
    assert torch.allclose(z_e2.grad, expected, atol=1e-7)


def test_ema_update_matches_the_formula_on_a_hand_made_batch():
    decay, eps = 0.9, 1e-5
    vq = VectorQuantizer(3, 2, decay=decay, eps=eps, restart_threshold=0)
    codes = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 5.0]])
    vq.embedding.data.copy_(codes)
    vq.embed_sum.copy_(codes)
    points = torch.tensor([[0.2, 0.0], [0.0, 0.4], [1.2, 0.2], [0.8, 0.0], [1.0, 1.0]])
    vq.train()(_grid(points))
    # assignments: code 0 <- points 0, 1; code 1 <- points 2, 3, 4; code 2 <- none
    n = torch.tensor([2.0, 3.0, 0.0])
    sums = torch.stack([points[:2].sum(0), points[2:].sum(0), torch.zeros(2)])
    size = decay * torch.ones(3) + (1 - decay) * n
    embed_sum = decay * codes + (1 - decay) * sums
    total = size.sum()
    smoothed = (size + eps) / (total + 3 * eps) * total
    assert torch.allclose(vq.cluster_size, size)
    assert torch.allclose(vq.embed_sum, embed_sum)
    assert torch.allclose(vq.embedding, embed_sum / smoothed[:, None], atol=1e-6)
    # eval mode leaves the EMA state alone
    before = vq.embedding.clone()
    vq.eval()(_grid(points))
    assert torch.equal(vq.embedding, before)


def test_a_dead_code_is_restarted_at_a_batch_encoding():
    torch.manual_seed(0)
    vq = VectorQuantizer(3, 2, decay=0.99, restart_threshold=1.0)
    codes = torch.tensor([[0.0, 0.0], [1.0, 0.0], [100.0, 100.0]])  # code 2 is never nearest
    vq.embedding.data.copy_(codes)
    vq.embed_sum.copy_(codes)
    points = torch.tensor([[0.1, 0.0], [0.9, 0.1], [0.0, 0.2], [1.1, 0.0]])
    vq.train()(_grid(points))
    assert int(vq.restarts) == 1
    new = vq.embedding[2]
    assert any(torch.equal(new, p) for p in points), new
    assert vq.cluster_size[2] == 1.0 and torch.equal(vq.embed_sum[2], new)
    # codes 0 and 1 are in use (count 0.99 + 0.02 > 1): not restarted
    assert torch.allclose(vq.cluster_size[:2], torch.tensor([1.01, 1.01]))


def test_no_restart_when_disabled():
    vq = VectorQuantizer(3, 2, restart_threshold=0)
    vq.embedding.data.copy_(torch.tensor([[0.0, 0.0], [1.0, 0.0], [100.0, 100.0]]))
    vq.train()(_grid(torch.tensor([[0.1, 0.0], [0.9, 0.1]])))
    assert int(vq.restarts) == 0


def test_perplexity_is_the_number_of_codes_for_uniform_usage():
    assert perplexity(torch.full((16,), 7.0)).item() == pytest.approx(16.0)
    assert perplexity(torch.tensor([5.0, 0.0, 0.0, 0.0])).item() == pytest.approx(1.0)
    assert perplexity(torch.tensor([1.0, 1.0, 0.0, 0.0])).item() == pytest.approx(2.0)
    vq = VectorQuantizer(4, 3, restart_threshold=0).eval()
    points = vq.embedding.detach().repeat(5, 1)  # every code used 5 times
    assert perplexity(vq(_grid(points)).counts).item() == pytest.approx(4.0)


def test_codebook_loss_trains_codes_without_ema():
    vq = VectorQuantizer(4, 2, ema=False, restart_threshold=0)
    out = vq(torch.randn(2, 2, 3, 3))
    assert vq.embedding.requires_grad and out.codebook_loss > 0
    vq.loss(out).backward()
    assert vq.embedding.grad is not None and vq.embedding.grad.abs().sum() > 0


def test_ema_state_is_in_the_state_dict():
    keys = VectorQuantizer(4, 2).state_dict().keys()
    assert {"embedding", "cluster_size", "embed_sum", "restarts"} <= set(keys)


@pytest.mark.parametrize("size", [16, 28, 32])
def test_vq_nets_shapes(size):
    enc, dec = VQEncoder(1, size, code_dim=8), VQDecoder(1, size, code_dim=8, params_per_channel=2)
    z = enc(torch.rand(2, 1, size, size))
    assert z.shape == (2, 8, size // 4, size // 4) == (2, *enc.latent_shape)
    assert dec(z).shape == (2, 2, size, size)


def test_vq_nets_reject_indivisible_sizes():
    with pytest.raises(
        ValueError, match="data.image_size=30 must be divisible by 2\\*\\*downsample=4"
    ):
        VQEncoder(1, 30)


def test_codebook_usage_plot_is_written(tmp_path):
    from PIL import Image

    from genlab.callbacks.codebook import plot_code_usage

    path = plot_code_usage(torch.tensor([5.0, 0.0, 2.0, 9.0]), tmp_path / "u" / "e.png")
    assert path.is_file() and Image.open(path).size == (600, 250)
