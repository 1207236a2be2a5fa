"""Worked example (docs/extending.md): an augmentation of every D input, defined outside genlab.

Random horizontal flip of each image with probability ``p`` (differentiable: a flip is a
permutation of pixels), drawn from the step's augmentation noise stream. ``observe`` logs
ADA's overfitting heuristic r_t = E[sign(D(x_real))] (Karras et al. 2020, eq. 1) as
``train/aug_rt``; an adaptive augmentation would update its ``p`` buffer from it there.
Config: tests/helpers/conf/model/augment/flip.yaml.
"""

from __future__ import annotations

import torch
from torch import Tensor

from genlab.objectives.augment import Augmentation
from genlab.utils.ranges import Num, check_ranges


class RandomFlip(Augmentation):
    """Flip images (N, C, H, W) left-right with probability ``p`` in [0, 1], per example."""

    RANGES = {"p": Num(low=0, high=1)}

    def __init__(self, p: float = 0.5) -> None:
        check_ranges(self, p=p)
        super().__init__()
        self.p = float(p)

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Return x with a random subset of the images flipped (points pass unchanged)."""
        if x.dim() != 4:
            return x
        flip = torch.rand(x.shape[0], 1, 1, 1, device=x.device, generator=generator) < self.p
        return torch.where(flip, x.flip(-1), x)

    def observe(self, real_logits: Tensor) -> dict[str, Tensor]:
        """{"aug_rt": mean sign of D's logits on the augmented reals}, in [-1, 1]."""
        return {"aug_rt": real_logits.detach().sign().mean()}
