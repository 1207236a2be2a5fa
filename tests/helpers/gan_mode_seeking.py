"""Worked example (docs/extending.md): a G-side regularizer defined outside genlab.

Mode seeking (Mao et al. 2019, "Mode Seeking Generative Adversarial Networks", eq. 3): G is
asked to keep two samples apart in proportion to their latent distance,
``loss = 1 / (mean|G(z2) - G(z)| / mean|z2 - z| + eps)``. The second latent batch comes from the
term's own noise stream (``stream_id``), so runs stay reproducible and resumable, and the second
sample from ``step.generate`` (same labels, with graph). Config:
tests/helpers/conf/model/g_terms/mode_seeking.yaml; logged as ``train/g_ms`` and the ratio as
``train/ms_ratio``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genlab.objectives.gan_terms import GANTerm, GStep, stream_id
from genlab.utils.ranges import Num, check_ranges

STREAM = stream_id("mode_seeking")


class ModeSeeking(GANTerm):
    """1 / (ratio + eps) with ratio = mean |G(z2) - G(z)| / mean |z2 - z| (dimensionless).

    Args:
        weight: lambda_ms (>= 0; the paper uses 1). eps: > 0, keeps the loss finite.
    """

    RANGES = {"weight": Num(low=0), "eps": Num(low=0, low_open=True)}

    def __init__(self, weight: float = 1.0, eps: float = 1e-5) -> None:
        check_ranges(self, weight=weight, eps=eps)
        super().__init__(weight=weight, every=1)
        self.eps = float(eps)

    def forward(self, model: nn.Module, step: GStep) -> dict[str, Tensor]:
        """{"loss": 1 / (ratio + eps), "ms_ratio": ratio (detached by the module)}."""
        gen = step.noise(STREAM)
        z2 = torch.randn(step.z.shape, device=step.z.device, dtype=step.z.dtype, generator=gen)
        ratio = (step.generate(z2) - step.fake).abs().mean() / (z2 - step.z).abs().mean()
        return {"loss": 1.0 / (ratio + self.eps), "ms_ratio": ratio}
