"""pythae 0.1.2's ``VAE.get_nll`` against genlab's ``test/nll_iw`` estimator (``VAE.iw_nll``) on
one trained model (issue 16, item 6): a genlab VAE trained for a few epochs on digits, its
encoder and decoder wrapped for pythae (pythae's decoder returns sigmoid(logits), its
``reconstruction_loss="bce"`` is genlab's Bernoulli -log p(x | z)), the same 40 test images,
K = 500 importance samples each. genlab runs as ``test/nll_iw`` does (float32: its posterior
casts to float32 by design); pythae gets a float64 copy of the same weights, so its
probabilities sigmoid(logits) do not round to 0 or 1 and hit binary_cross_entropy's log clamp
at -100 (float32 rounding is ~1e-5 nats here, far below the Monte Carlo error).

Both are importance-sampling estimates of -log p(x) with the posterior as proposal, drawn with
different noise, so they cannot agree exactly. Tolerance: Monte Carlo error. Each estimator is
repeated R = 5 times (different seeds); the means over repeats must agree within 4 standard
errors of their difference, sqrt(se_genlab^2 + se_pythae^2) with se = std over repeats /
sqrt(R), plus 1e-9 nats of float64 rounding. (pythae's get_nll returns the mean log p(x),
not its negative, despite the name.)
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch

from genlab import api

pm = pytest.importorskip("pythae.models")
base_utils = pytest.importorskip("pythae.models.base.base_utils")
pnn = pytest.importorskip("pythae.models.nn")

K, NUM_IMAGES, REPEATS = 500, 40, 5


class _Enc(pnn.BaseEncoder):
    def __init__(self, net):
        pnn.BaseEncoder.__init__(self)
        self.net = net

    def forward(self, x):
        mu, logvar = self.net(x)
        return base_utils.ModelOutput(embedding=mu, log_covariance=logvar)


class _Dec(pnn.BaseDecoder):
    def __init__(self, net):
        pnn.BaseDecoder.__init__(self)
        self.net = net

    def forward(self, z):
        return base_utils.ModelOutput(reconstruction=torch.sigmoid(self.net(z)))


def _trained_vae(tiny_cfg):
    """A genlab VAE trained 3 full epochs on digits (784-400-16 MLP), and its test images."""
    cfg = tiny_cfg(
        "model=vae", "metrics=none", "logger=csv", "test=false", "seed=1",
        "trainer.max_epochs=3", "trainer.limit_train_batches=null", "data.batch_size=64",
    )  # fmt: skip
    api.train(cfg)
    model = api.load_model(Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt")
    from genlab.data.digits import DigitsDataModule

    x = DigitsDataModule().real_images("test", NUM_IMAGES)
    return model, x


@pytest.mark.slow  # 72-114 s on the shared 2-core CPU (training, then 2 x 5 x 40 x 500 samples)
def test_pythae_get_nll_agrees_with_genlab_iw_nll_within_monte_carlo_error(tiny_cfg):
    model, x = _trained_vae(tiny_cfg)
    config = pm.VAEConfig(input_dim=tuple(x.shape[1:]), latent_dim=model.latent_dim)
    config.reconstruction_loss = "bce"
    twin = copy.deepcopy(model).double()  # the same weights, in float64, for pythae
    py = pm.VAE(config, encoder=_Enc(twin.encoder), decoder=_Dec(twin.decoder))
    ours, theirs = [], []
    with torch.no_grad():
        for r in range(REPEATS):
            torch.manual_seed(100 + r)
            ours.append(float(model.iw_nll(x, num_samples=K, chunk=100).mean()))
            torch.manual_seed(200 + r)
            theirs.append(-float(py.get_nll(x.double(), n_samples=K, batch_size=100)))
    a, b = torch.tensor(ours), torch.tensor(theirs)
    se = math.sqrt((a.var() / REPEATS + b.var() / REPEATS).item())
    diff = abs(a.mean() - b.mean()).item()
    print(f"nll genlab {a.mean():.4f} pythae {b.mean():.4f} diff {diff:.4f} se {se:.4f}")
    assert 50 < a.mean() < 600  # nats per 784 binary pixels: a trained, not degenerate, model
    assert diff <= 4 * se + 1e-9, (ours, theirs, diff, se)
