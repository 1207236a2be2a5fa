"""PacGAN packing (Lin et al. 2018, "PacGAN: The power of two samples in generative adversarial
networks", Sec. 3): the discriminator judges m samples at once, concatenated along channels.

An option of the discriminators (``pack=m``): the first layer takes m * C channels and the
forward calls :func:`pack_input` first, so D returns one logit per pack, (N / m,). Nothing else
of the net changes. Official code: fjxmlzn/PacGAN (TensorFlow; packing by concatenating the
m inputs along the channel axis, as here). Real and fake batches are packed separately, so every
pack is all-real or all-fake; the batch size must be a multiple of m.
"""

from __future__ import annotations

from torch import Tensor

from genlab.utils.ranges import Num

PACK_RANGE = Num(integer=True, low=1)


def pack_input(x: Tensor, pack: int) -> Tensor:
    """(N, C, ...) -> (N / pack, pack * C, ...): consecutive examples stacked on channels.
    ``pack=1`` returns x. ValueError when N is not a multiple of ``pack``."""
    if pack == 1:
        return x
    n = x.shape[0]
    if n % pack:
        raise ValueError(
            f"PacGAN: a discriminator with pack={pack} needs a batch size that is a multiple of "
            f"{pack}, got {n} (set data.batch_size, and drop_last for the last batch)."
        )
    return x.reshape(n // pack, pack * x.shape[1], *x.shape[2:])
