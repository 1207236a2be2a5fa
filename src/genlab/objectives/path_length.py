"""StyleGAN2's path-length regularization as a generator term (Karras et al. 2020, Sec. 3.2,
eq. 4): E_{w, y ~ N(0, I)} (||J_w^T y||_2 - a)^2, with J_w the Jacobian of the image w.r.t. the
styles, y image-space noise scaled by 1/sqrt(H W), and a the running mean of the lengths.

Read against NVlabs/stylegan2-ada-pytorch ``training/loss.py`` (``StyleGAN2Loss``, the 'Gpl'
phase): a batch shrunk by ``batch_shrink`` (2), lengths sqrt(mean over styles of the squared
gradient norm per style), ``pl_mean`` <- lerp(pl_mean, mean length, ``decay``) (0.01), penalty
mean (length - pl_mean)^2, weight 2 (``pl_weight``), lazy every 4 G steps. Laziness and the
``every`` factor belong to the GAN module (SPEC "GAN terms"). ``pl_mean`` is a buffer, so it is
checkpointed. Needs a generator with ``styles(z, labels)`` and ``synthesis(ws)`` (StyleGAN2).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from genlab.objectives.gan_terms import GANTerm, stream_id
from genlab.utils.ranges import Num, check_ranges

PL_STREAM = stream_id("path_length")  # noise stream of the path-length image noise


def path_lengths(generator: nn.Module, z: Tensor, labels: Tensor | None, noise: Tensor | None,
                 gen: torch.Generator | None = None) -> Tensor:  # fmt: skip
    """||J_w^T y||_2 per example (N,), y = ``noise`` (or N(0, I) from ``gen``) / sqrt(H W);
    built with ``create_graph=True`` so the penalty backpropagates into G."""
    ws = generator.styles(z, labels)
    img = generator.synthesis(ws)
    if noise is None:
        noise = torch.randn(img.shape, device=img.device, dtype=img.dtype, generator=gen)
    y = noise / math.sqrt(img.shape[2] * img.shape[3])
    (grads,) = torch.autograd.grad((img * y).sum(), ws, create_graph=True)
    return grads.square().sum(dim=2).mean(dim=1).sqrt()


class PathLength(GANTerm):
    """G term 'pl': loss = mean (||J_w^T y|| - pl_mean)^2; diagnostics pl_mean, pl_length.

    Args:
        weight: multiplier (official pl_weight 2). every: lazy interval in G steps (4).
        decay: running-mean rate of pl_mean (0.01). batch_shrink: use N / batch_shrink of the
            step's latents (2).
    """

    RANGES = {
        "weight": Num(low=0),
        "every": Num(integer=True, low=1),
        "decay": Num(low=0, high=1),
        "batch_shrink": Num(integer=True, low=1),
    }

    def __init__(
        self, weight: float = 2.0, every: int = 4, decay: float = 0.01, batch_shrink: int = 2
    ) -> None:
        check_ranges(self, weight=weight, every=every, decay=decay, batch_shrink=batch_shrink)
        super().__init__(weight, every)
        self.decay, self.batch_shrink = float(decay), int(batch_shrink)
        self.register_buffer("pl_mean", torch.zeros(()))

    def forward(self, model: nn.Module, step: object) -> dict[str, Tensor]:
        """The unweighted penalty of one G step (``step``: a GStep with z, labels, noise)."""
        generator = model.generator
        if not (hasattr(generator, "styles") and hasattr(generator, "synthesis")):
            raise ValueError(
                "model.g_terms.pl (path length) needs a style-based generator with styles() "
                "and synthesis(), e.g. model=stylegan2."
            )
        n = max(1, step.z.shape[0] // self.batch_shrink)
        labels = None if step.labels is None else step.labels[:n]
        lengths = path_lengths(generator, step.z[:n], labels, None, step.noise(PL_STREAM))
        lengths = lengths.float()  # float32 statistics under autocast (bf16 / fp16 nets)
        pl_mean = self.pl_mean.lerp(lengths.mean().detach(), self.decay)
        self.pl_mean.copy_(pl_mean)
        penalty = (lengths - pl_mean).square().mean()
        return {"loss": penalty, "pl_mean": pl_mean.clone(), "pl_length": lengths.mean().detach()}
