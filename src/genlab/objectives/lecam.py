"""LeCam regularizer (Tseng et al. 2021, "Regularizing GANs under Limited Data", eq. 3).

R_LC = E_x[relu(D(x) - a_F)^2] + E_z[relu(a_R - D(G(z)))^2], where the anchors a_R, a_F are
exponential moving averages of D's mean output on real and on generated images. The one-sided
(relu) form is that of the authors' code (google/lecam-gan). The anchors are updated with the
current batch means before the penalty is computed, and are zero-debiased
(``ema / (1 - decay^t)``, as TensorFlow's ``assign_moving_average(zero_debias=True)`` in the
authors' code) so the first steps do not pull D towards 0.

The configured term :class:`genlab.objectives.gan_terms.LeCamTerm` keeps the anchors as
buffers, so they are in the model's state dict (and so in Lightning checkpoints).
"""

from __future__ import annotations

import torch
from torch import Tensor


def lecam_penalty(
    real_logits: Tensor, fake_logits: Tensor, anchor_real: Tensor, anchor_fake: Tensor
) -> Tensor:
    """Return mean(relu(D(x) - anchor_fake)^2) + mean(relu(anchor_real - D(G(z)))^2), a scalar
    in squared logit units, differentiable w.r.t. the logits (the anchors are constants)."""
    real_term = torch.relu(real_logits - anchor_fake.detach()).pow(2).mean()
    fake_term = torch.relu(anchor_real.detach() - fake_logits).pow(2).mean()
    return real_term + fake_term


def debiased(ema: Tensor, decay: float, num_updates: int) -> Tensor:
    """Zero-debiased EMA ``ema / (1 - decay ** num_updates)`` (``ema`` itself before the first
    update), as TensorFlow's ``assign_moving_average(zero_debias=True)``."""
    return ema / (1.0 - decay**num_updates) if num_updates > 0 else ema
