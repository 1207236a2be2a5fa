"""Conditional VAE: the ELBO conditional on y by hand, labels reach the nets, a full run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from genlab.models.vae import VAE
from genlab.nets.conditional import ConditionalMLPDecoder, ConditionalMLPEncoder
from genlab.objectives.likelihoods import Bernoulli
from genlab.train import train


def _tiny_cvae() -> VAE:
    torch.manual_seed(0)
    enc = ConditionalMLPEncoder(1, 2, latent_dim=2, num_classes=3, hidden_dims=[5])
    dec = ConditionalMLPDecoder(2, 1, 2, num_classes=3, hidden_dims=[5])
    return VAE(enc, dec, Bernoulli(), optimizer=torch.optim.Adam, latent_dim=2, num_classes=3)


def test_cvae_elbo_terms_by_hand_on_a_tiny_case():
    model = _tiny_cvae()
    x = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]], [[[0.0, 0.0], [1.0, 1.0]]]])
    y = torch.tensor([2, 0])
    torch.manual_seed(7)
    out = model.step(x, y)
    # by hand: q(z | x, y) from [x, one_hot(y)], one reparameterised draw, p(x | z, y)
    h = torch.cat([x.flatten(1), F.one_hot(y, 3).float()], 1)
    w1, b1 = model.encoder.net[0].weight, model.encoder.net[0].bias
    w2, b2 = model.encoder.net[2].weight, model.encoder.net[2].bias
    mu, logvar = (torch.relu(h @ w1.T + b1) @ w2.T + b2).chunk(2, dim=1)
    torch.manual_seed(7)
    z = mu + torch.exp(0.5 * logvar) * torch.randn(2, 2)
    d1, c1 = model.decoder.net[0].weight, model.decoder.net[0].bias
    d2, c2 = model.decoder.net[2].weight, model.decoder.net[2].bias
    p = torch.sigmoid(
        torch.relu(torch.cat([z, F.one_hot(y, 3).float()], 1) @ d1.T + c1) @ d2.T + c2
    )
    xf = x.flatten(1)
    recon = (xf * p.log() + (1 - xf) * (1 - p).log()).sum(1)
    kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(1)
    assert torch.allclose(out["recon"], recon, atol=1e-5)
    assert torch.allclose(out["kl"], kl, atol=1e-6)
    assert torch.allclose(out["elbo"], recon - kl, atol=1e-5)
    assert out["loss"].mean().item() == pytest.approx(-(recon - kl).mean().item(), abs=1e-5)


def test_cvae_likelihoods_depend_on_the_label():
    model = _tiny_cvae()
    x = torch.bernoulli(torch.full((4, 1, 2, 2), 0.5), generator=torch.Generator().manual_seed(0))
    a = model.iw_nll(x, 64, 16, torch.tensor([0, 1, 2, 0]))
    b = model.iw_nll(x, 64, 16, torch.tensor([1, 1, 2, 0]))
    assert not torch.allclose(a[0], b[0])
    with pytest.raises(ValueError, match="needs labels"):
        model.step(x)


def test_cvae_run_trains_and_draws_traversals_sorted_by_kl(tiny_cfg):
    cfg = tiny_cfg("model=cvae", "metrics=none", "model.test_iw_samples=20")
    metrics = train(cfg)
    assert cfg.model.num_classes == 10 and metrics["test/nll_iw"] > 0
    run = Path(cfg.paths.output_dir)
    assert (run / "checkpoints" / "last.ckpt").is_file()
    (png,) = sorted((run / "images" / "traversals").glob("epoch_0001.png"))
    order = json.loads(png.with_suffix(".json").read_text())
    assert sorted(order["dims"]) == list(range(16))  # all 16 dims, one row each
    kl = order["kl_nats"]
    assert kl == sorted(kl, reverse=True)
    # the logged per-dim KL of the last epoch is what the rows are sorted by
    assert kl[0] == pytest.approx(max(metrics[f"val/kl_dim/{i:02d}"] for i in range(16)), rel=1e-5)


def test_cvae_conv_nets_compose_and_take_labels(tiny_cfg):
    from hydra.utils import instantiate

    cfg = tiny_cfg("model=cvae", "model/net=cond_conv")
    model = instantiate(cfg.model)
    x = torch.bernoulli(torch.full((3, 1, 28, 28), 0.3))
    out = model.step(x, torch.tensor([0, 4, 9]))
    assert model.conditional and out["elbo"].shape == (3,) and torch.isfinite(out["loss"]).all()
