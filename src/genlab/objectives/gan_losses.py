"""GAN losses as small pure functions with one signature (edm `training/loss.py` style).

Every loss is a pair ``d_loss(real_logits, fake_logits) -> Tensor`` and
``g_loss(fake_logits) -> Tensor``: raw discriminator outputs (logits / critic values,
shape (N,) or (N, 1)) in, a scalar loss (mean over the batch, nats for the logistic losses)
out. Adding a loss is one pair of functions and one entry in ``LOSSES``; the model picks it
with ``model.loss=<name>``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor


class GANLoss(NamedTuple):
    """A discriminator loss and a generator loss that belong together; ``logistic`` says D's
    output is a logit (so sigmoid(D) is a probability of 'real')."""

    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[[Tensor], Tensor]
    logistic: bool = False


def logistic_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Binary cross-entropy of D: -log sigmoid(D(x)) - log(1 - sigmoid(D(G(z)))), mean, nats."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def non_saturating_g_loss(fake_logits: Tensor) -> Tensor:
    """Non-saturating G loss (Goodfellow et al. 2014): -log sigmoid(D(G(z))), mean, nats."""
    return F.softplus(-fake_logits).mean()


def minimax_g_loss(fake_logits: Tensor) -> Tensor:
    """Original minimax G loss: log(1 - sigmoid(D(G(z)))) = -softplus(D(G(z))), mean, nats."""
    return -F.softplus(fake_logits).mean()


def hinge_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Hinge D loss (Lim & Ye 2017; SNGAN): relu(1 - D(x)) + relu(1 + D(G(z))), mean."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def critic_g_loss(fake_logits: Tensor) -> Tensor:
    """Generator loss shared by hinge and Wasserstein GANs: -D(G(z)), mean."""
    return -fake_logits.mean()


def wasserstein_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """WGAN critic loss (Arjovsky et al. 2017): D(G(z)) - D(x), mean; add a Lipschitz penalty."""
    return fake_logits.mean() - real_logits.mean()


def least_squares_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """LSGAN D loss (Mao et al. 2017, a=0, b=1): 0.5 (D(x) - 1)^2 + 0.5 D(G(z))^2, mean."""
    return 0.5 * (real_logits - 1.0).pow(2).mean() + 0.5 * fake_logits.pow(2).mean()


def least_squares_g_loss(fake_logits: Tensor) -> Tensor:
    """LSGAN G loss (c=1): 0.5 (D(G(z)) - 1)^2, mean."""
    return 0.5 * (fake_logits - 1.0).pow(2).mean()


LOSSES: dict[str, GANLoss] = {
    "non_saturating": GANLoss(logistic_d_loss, non_saturating_g_loss, logistic=True),
    "minimax": GANLoss(logistic_d_loss, minimax_g_loss, logistic=True),
    "hinge": GANLoss(hinge_d_loss, critic_g_loss),
    "wasserstein": GANLoss(wasserstein_d_loss, critic_g_loss),
    "least_squares": GANLoss(least_squares_d_loss, least_squares_g_loss),
}


def get_loss(name: str) -> GANLoss:
    """Return the (d_loss, g_loss) pair registered as ``name``; ValueError lists the choices."""
    if name not in LOSSES:
        raise ValueError(f"Unknown GAN loss model.loss={name!r}; allowed values: {sorted(LOSSES)}.")
    return LOSSES[name]


def d_output_mean(logits: Tensor, loss: GANLoss) -> Tensor:
    """Mean D output for logging: sigmoid(logit), a probability in [0, 1], for logistic losses;
    the raw critic value for hinge, Wasserstein and least squares."""
    out = logits.detach()
    return (torch.sigmoid(out) if loss.logistic else out).mean()
