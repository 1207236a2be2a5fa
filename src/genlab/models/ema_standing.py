"""BigGAN's standing statistics (Brock et al. 2019, Appendix C.1; ajbrock/BigGAN-PyTorch
``utils.accumulate_standing_stats``) for any generator with batch norm.

Before sampling, every batch norm of the sampling generator (the EMA copy when there is one) is
reset and re-estimated in training mode from ``num_batches`` batches of fresh z (and uniform
labels) with cumulative averaging (momentum None); eval-mode sampling then uses these averaged
statistics instead of the running statistics of training. The draws come from a given
``torch.Generator``, so the statistics are reproducible and do not touch the global RNG.
"""

from __future__ import annotations

import torch
from torch import nn

from genlab.objectives.gan_terms import stream_id

STANDING_STREAM = stream_id("standing_stats")
_BN = nn.BatchNorm1d | nn.BatchNorm2d | nn.BatchNorm3d


@torch.no_grad()
def standing_statistics(
    generator: nn.Module,
    num_batches: int,
    batch_size: int,
    num_classes: int = 0,
    noise: torch.Generator | None = None,
    device: torch.device | None = None,
) -> int:
    """Re-estimate the batch-norm statistics of ``generator`` in place (see the module doc).

    Args:
        generator: called as ``generator(z)`` or, with ``num_classes > 0``, ``generator(z, y)``;
            needs ``latent_dim``. num_batches, batch_size: forward passes and their size.
        noise: source of z and y (None: torch's global RNG). device: where z lives.

    Returns the number of batch-norm layers re-estimated (0: nothing to do). The net's training
    flag is restored; each layer's momentum is restored.
    """
    bns = [m for m in generator.modules() if isinstance(m, _BN) and m.track_running_stats]
    if not bns or num_batches <= 0:
        return 0
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the num_batches passes
    was_training = generator.training
    generator.train()
    for _ in range(num_batches):
        z = torch.randn(batch_size, generator.latent_dim, device=device, generator=noise)
        if num_classes > 0:
            y = torch.randint(0, num_classes, (batch_size,), device=device, generator=noise)
            generator(z, y)
        else:
            generator(z)
    for bn, momentum in zip(bns, momenta, strict=True):
        bn.momentum = momentum
    generator.train(was_training)
    return len(bns)
