"""Worked example (docs/extending.md): a lazy D penalty defined outside genlab.

R2 (Mescheder et al. 2018, Sec. 4.1): gamma / 2 * E[||grad_x D(x)||^2] on *generated* data, the
counterpart of R1 on real data (R3GAN, Huang et al. 2024, uses both). ``every`` makes it lazy:
genlab applies it on D steps with ``index % every == 0`` and multiplies its loss by ``every``.
Config: tests/helpers/conf/model/d_terms/r2.yaml; logged as ``train/d_r2``.
"""

from __future__ import annotations

from torch import Tensor, nn

from genlab.objectives.gan_terms import DStep, GANTerm
from genlab.objectives.penalties import r1_penalty
from genlab.utils.ranges import Num, check_ranges


class R2(GANTerm):
    """R2 penalty on the (detached) fakes; ``gamma`` >= 0 (weight = gamma / 2), ``every`` >= 1."""

    RANGES = {"gamma": Num(low=0), "every": Num(integer=True, low=1)}
    double_backward = True  # it differentiates D's input gradient: keep D eager under compile

    def __init__(self, gamma: float = 1.0, every: int = 4) -> None:
        check_ranges(self, gamma=gamma, every=every)
        super().__init__(weight=0.5 * gamma, every=every)

    def forward(self, model: nn.Module, step: DStep) -> dict[str, Tensor]:
        """{"loss": E||grad_x D(fake)||^2} (unweighted; the module scales it)."""
        return {"loss": r1_penalty(step.critic, step.fake)}
