"""LeCam regularizer (Tseng et al. 2021, "Regularizing GANs under Limited Data", eq. 3).

R_LC = E_x[relu(D(x) - a_F)^2] + E_z[relu(a_R - D(G(z)))^2], where the anchors a_R, a_F are
exponential moving averages of D's mean output on real and on generated images. The one-sided
(relu) form is that of the authors' code (google/lecam-gan). The anchors are updated with the
current batch means before the penalty is computed, and are zero-debiased
(``ema / (1 - decay^t)``, as TensorFlow's ``assign_moving_average(zero_debias=True)`` in the
authors' code) so the first steps do not pull D towards 0.

:class:`LeCam` keeps the anchors as buffers, so they are in the state dict of the module that
owns it (and so in Lightning checkpoints) and move with ``.to(device)``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def lecam_penalty(
    real_logits: Tensor, fake_logits: Tensor, anchor_real: Tensor, anchor_fake: Tensor
) -> Tensor:
    """Return mean(relu(D(x) - anchor_fake)^2) + mean(relu(anchor_real - D(G(z)))^2), a scalar
    in squared logit units, differentiable w.r.t. the logits (the anchors are constants)."""
    real_term = torch.relu(real_logits - anchor_fake.detach()).pow(2).mean()
    fake_term = torch.relu(anchor_real.detach() - fake_logits).pow(2).mean()
    return real_term + fake_term


class LeCam(nn.Module):
    """Stateful LeCam regularizer: ``forward(real_logits, fake_logits)`` updates the EMA
    anchors (in training mode) and returns the penalty (add ``weight *`` it to the D loss).

    Buffers: ``ema_real``, ``ema_fake`` (biased EMAs, start at 0) and ``num_updates``.

    Args:
        decay: EMA decay of the anchors (the paper's 0.99).
    """

    def __init__(self, decay: float = 0.99) -> None:
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"model.lecam_decay must be in [0, 1), got {decay}.")
        self.decay = float(decay)
        self.register_buffer("ema_real", torch.zeros(()))
        self.register_buffer("ema_fake", torch.zeros(()))
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))

    def _debiased(self, ema: Tensor) -> Tensor:
        n = int(self.num_updates)
        return ema / (1.0 - self.decay**n) if n > 0 else ema

    @property
    def anchors(self) -> tuple[Tensor, Tensor]:
        """The zero-debiased anchors (a_R, a_F): EMAs of mean D(real) and mean D(fake)."""
        return self._debiased(self.ema_real), self._debiased(self.ema_fake)

    @torch.no_grad()
    def update(self, real_logits: Tensor, fake_logits: Tensor) -> None:
        """Move the EMAs towards the batch means of the (detached) logits."""
        d = self.decay
        self.ema_real.mul_(d).add_((1 - d) * real_logits.detach().float().mean())
        self.ema_fake.mul_(d).add_((1 - d) * fake_logits.detach().float().mean())
        self.num_updates += 1

    def forward(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """Update the anchors (training mode only), then return the LeCam penalty (scalar)."""
        if self.training:
            self.update(real_logits, fake_logits)
        anchor_real, anchor_fake = self.anchors
        return lecam_penalty(real_logits, fake_logits, anchor_real, anchor_fake)
