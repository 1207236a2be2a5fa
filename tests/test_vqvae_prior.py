"""The VQ-VAE's learned prior (issue 16): the gated PixelCNN is causal, its sampler inverts the
CDF, and ``VQVAEPrior`` loads a frozen first stage from a weights-only checkpoint, trains only
the PixelCNN and reports bits per code and the full model's bits/dim."""

from __future__ import annotations

import functools
import math

import pytest
import torch

from genlab.models.vqvae import VQVAE
from genlab.models.vqvae_prior import VQVAEPrior
from genlab.nets.pixelcnn import GatedPixelCNN
from genlab.nets.quantizer import VectorQuantizer
from genlab.nets.vq import VQDecoder, VQEncoder
from genlab.objectives.likelihoods import Bernoulli


@pytest.mark.parametrize("kernel,num_classes", [(5, 3)])
def test_pixelcnn_output_never_depends_on_later_positions(kernel, num_classes):
    """d logit(i, j) / d embedding(k, l) is exactly 0 unless (k, l) is before (i, j) in raster
    order (tolerance: exact zeros, float64), and nonzero for the position just before it."""
    torch.manual_seed(0)
    net = GatedPixelCNN(6, (5, 6), dim=8, num_layers=4, kernel=kernel, num_classes=num_classes)
    net = net.double()
    codes = torch.randint(0, 6, (1, 5, 6))
    e = net.embedding(codes).permute(0, 3, 1, 2).detach().requires_grad_()
    y = torch.tensor([1]) if num_classes else None
    out = net.forward_embedded(e, y)
    height, width = 5, 6
    for i in range(height):
        for j in range(width):
            (g,) = torch.autograd.grad(out[0, :, i, j].sum(), e, retain_graph=True)
            depends = g.abs().sum((0, 1)) > 0
            before = torch.zeros(height, width, dtype=torch.bool)
            before[:i] = True
            before[i, :j] = True
            assert not (depends & ~before).any(), (i, j)
            if j > 0:
                assert depends[i, j - 1], (i, j)  # the horizontal stack sees its left neighbour
            if i > 0:
                assert depends[i - 1, j], (i, j)  # the vertical stack sees the row above


def test_inverse_cdf_sampler_picks_the_code_whose_interval_holds_u():
    """With the same u the sampler is deterministic, and each code it picks has
    CDF(c - 1) <= u < CDF(c) under the network's conditional given the codes before it."""
    torch.manual_seed(0)
    net = GatedPixelCNN(4, (3, 3), dim=8, num_layers=2, kernel=3).eval()
    u = torch.rand(5, 3, 3, generator=torch.Generator().manual_seed(1))
    codes = net.sample(u)
    assert torch.equal(codes, net.sample(u))
    with torch.no_grad():
        probs = net(codes).softmax(1)  # teacher-forced: the same conditionals as in sampling
    cdf = probs.cumsum(1)
    hi = cdf.gather(1, codes[:, None]).squeeze(1)
    lo = hi - probs.gather(1, codes[:, None]).squeeze(1)
    assert (lo <= u + 1e-6).all() and (u < hi + 1e-6).all()  # float32 cumsum: 1e-6


def _vqvae(num_codes: int = 8) -> VQVAE:
    enc = VQEncoder(1, 16, code_dim=4, hidden=8, res_hidden=4, num_res_blocks=1)
    dec = VQDecoder(1, 16, code_dim=4, hidden=8, res_hidden=4, num_res_blocks=1)
    quant = VectorQuantizer(num_codes, 4)
    return VQVAE(enc, dec, quant, Bernoulli(), functools.partial(torch.optim.Adam, lr=1e-3))


def _prior(ckpt, num_classes: int = 0, sampler: str = "pixelcnn") -> VQVAEPrior:
    torch.manual_seed(3)  # the VQ-VAE built here gets other weights than the checkpoint's
    return VQVAEPrior(
        _vqvae(),
        str(ckpt),
        functools.partial(GatedPixelCNN, dim=8, num_layers=2, kernel=3),
        functools.partial(torch.optim.Adam, lr=1e-3),
        num_classes=num_classes,
        sampler=sampler,
    )


@pytest.fixture
def vq_ckpt(tmp_path):
    torch.manual_seed(0)
    first = _vqvae()
    path = tmp_path / "vq.ckpt"
    torch.save({"state_dict": first.state_dict()}, path)
    return path, first


def test_prior_loads_the_frozen_first_stage_and_trains_only_the_pixelcnn(vq_ckpt):
    path, first = vq_ckpt
    model = _prior(path, num_classes=3)
    for key, value in first.state_dict().items():  # weights_only load of the checkpoint
        assert torch.equal(model.vqvae.state_dict()[key], value), key
    before = {k: v.clone() for k, v in model.vqvae.state_dict().items()}
    model.train()
    assert not model.vqvae.training and model.pixelcnn.training
    x = torch.bernoulli(torch.full((6, 1, 16, 16), 0.3))
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    terms = model.step(x, y, full=True)
    terms["loss"].backward()
    assert all(p.grad is None for p in model.vqvae.parameters())
    assert all(p.grad is not None for p in model.pixelcnn.parameters())
    for key, value in model.vqvae.state_dict().items():  # no codebook EMA update
        assert torch.equal(value, before[key]), key
    # bits per code = nats per grid / (h w ln 2); the full bpd adds it to the reconstruction
    assert torch.allclose(terms["prior_bpc"], terms["prior_nll"] / (16 * math.log(2)))
    recon_nats = terms["recon_bpd"] * 256 * math.log(2)
    bpd = (recon_nats + terms["prior_nll"]) / (256 * math.log(2))
    assert torch.allclose(terms["bpd"], bpd, rtol=1e-5)  # float32 round trip
    # an untrained PixelCNN is near uniform: bits per code within 1 bit of log2 K = 3
    assert abs(float(terms["prior_bpc"].detach().mean()) - 3.0) < 1.0


def test_samples_feed_the_contract_and_the_uniform_prior_is_an_option(vq_ckpt):
    path, _ = vq_ckpt
    model = _prior(path, num_classes=3).eval()
    assert model.prior_informative and model.conditional and model.latent_shape == (4, 4)
    u = model.sample_noise(6, torch.Generator().manual_seed(0))
    labels = model.grid_labels(2)
    images = model.generate(u, labels)
    assert images.shape == (6, 1, 16, 16) and images.min() >= 0 and images.max() <= 1
    with pytest.raises(ValueError, match="needs labels"):
        model.generate(u)
    uniform = _prior(path, sampler="uniform").eval()
    assert not uniform.prior_informative  # samples not fitted to data: FID etc. skipped
    assert torch.equal(uniform.sample_codes(u), (u * 8).long())
    with pytest.raises(ValueError, match="sampler"):
        _prior(path, sampler="gaussian")


def test_a_checkpoint_of_other_settings_is_refused_naming_the_key(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "vq16.ckpt"
    torch.save({"state_dict": _vqvae(num_codes=16).state_dict()}, path)
    with pytest.raises(RuntimeError, match="model.vqvae_ckpt"):
        _prior(path)
