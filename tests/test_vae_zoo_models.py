"""Every VAE-zoo model config (issue 16) builds the real VAE, trains a step, estimates the
IW-NLL with its own prior and posterior, and restores its new state (pseudo-inputs, flows) from a
weights-only checkpoint file; the slow test runs ``genlab-train model=<name> debug=fast``."""

from __future__ import annotations

import hydra
import pytest
import torch

from helpers.config import TINY, compose_config, run_cli

ZOO = [
    "beta_tc_vae",
    "info_vae",
    "wae",
    "dip_vae",
    "miwae",
    "piwae",
    "ciwae",
    "vamp",
    "vae_mog",
    "vae_iaf",
    "vae_planar",
    "vae_radial",
]
#: small settings so the default test stays fast (sizes only; the math is unchanged)
SMALL = ["model.objective.m=2", "model.objective.k=2"]
SHRINK = {
    "miwae": SMALL,
    "piwae": SMALL,
    "ciwae": ["model.objective.k=3"],
    "vamp": ["model.prior.num_components=7"],
}


def _build(tmp_path, name):
    cfg = compose_config([*TINY, f"model={name}", *SHRINK.get(name, [])], tmp_path)
    torch.manual_seed(0)
    return hydra.utils.instantiate(cfg.model)


@pytest.mark.slow  # ~2 s per config on this shared CPU (config composition)
@pytest.mark.parametrize("name", ZOO)
def test_zoo_model_trains_a_step_and_estimates_the_nll(tmp_path, name):
    model = _build(tmp_path, name)
    x = torch.bernoulli(torch.full((4, *model.data_shape), 0.3))
    terms = model.step(x)
    loss = terms["loss"].mean()
    assert torch.isfinite(loss) and "elbo" in terms
    loss.backward()
    learned = [p for n, p in model.named_parameters() if n.startswith(("prior.", "posterior."))]
    for p in learned:  # the new parts get gradients
        if p.requires_grad:
            assert p.grad is not None and p.grad.abs().sum() > 0
    nll = model.iw_nll(x, num_samples=4, chunk=2)
    assert nll.shape == (4,) and torch.isfinite(nll).all()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vamp", "vae_mog", "vae_iaf", "vae_planar", "vae_radial"])
def test_zoo_state_round_trips_through_a_weights_only_file(tmp_path, name):
    model = _build(tmp_path, name)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    torch.save(model.state_dict(), tmp_path / "w.pt")
    fresh = _build(tmp_path, name)
    fresh.load_state_dict(torch.load(tmp_path / "w.pt", weights_only=True))
    new = [k for k in model.state_dict() if k.startswith(("prior.", "posterior."))]
    assert new
    for k in new:
        assert torch.equal(fresh.state_dict()[k], model.state_dict()[k]), k
    x = torch.bernoulli(torch.full((3, *model.data_shape), 0.3))
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    a = model.log_weights(x, None, model.posterior_of(x), 2, generator=g())
    b = fresh.log_weights(x, None, fresh.posterior_of(x), 2, generator=g())
    torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.slow
@pytest.mark.parametrize("name", ZOO)
def test_genlab_train_debug_fast_runs_each_zoo_model(tmp_path, name):
    args = [
        f"model={name}",
        "debug=fast",
        "trainer=cpu",
        "model.test_iw_samples=20",
        "metrics=none",
        f"hydra.run.dir={tmp_path}/run",
    ]
    proc = run_cli(args, tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "run"
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert any((run / "images").rglob("*.png"))
    assert (run / "metrics.json").is_file()
