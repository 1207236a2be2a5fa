"""An objective that turns NaN after a number of calls (tests the non-finite-loss stop)."""

from __future__ import annotations

import torch

from genlab.objectives.vae_objectives import ELBO


class NaNAfter(ELBO):
    """The ELBO for the first ``calls`` steps, then a NaN loss."""

    def __init__(self, calls: int = 0) -> None:
        super().__init__()
        self.calls, self.seen = calls, 0

    def __call__(self, model, x, y, q, generator=None):
        terms = super().__call__(model, x, y, q, generator)
        self.seen += 1
        if self.seen > self.calls:
            terms["loss"] = terms["loss"] * torch.nan
        return terms
