"""BigGAN's orthogonal regularization as a generator term (Brock et al. 2019, "Large Scale GAN
Training for High Fidelity Natural Image Synthesis", Sec. 3.1, eq. 3):
R(W) = ||W W^T ⊙ (1 - I)||_F^2 summed over G's weight matrices (each viewed as
(out, in * k * k), rows = filters), i.e. only the filters' pairwise inner products are pushed to
zero, not their norms. Read against ajbrock/BigGAN-PyTorch ``utils.py`` (``ortho``: the same
quantity applied as a gradient, 2 (W W^T ⊙ (1 - I)) W, with the shared embedding left out; that
gradient is the one of R / 2, so BigGAN-PyTorch's strength s equals weight s / 2 here).
BigGAN's weight beta is 1e-4.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genlab.objectives.gan_terms import GANTerm
from genlab.utils.ranges import Num, check_ranges


def orthogonal_penalty(weight: Tensor) -> Tensor:
    """||W W^T ⊙ (1 - I)||_F^2 for W = weight.view(out, -1); a scalar."""
    w = weight.reshape(weight.shape[0], -1)
    gram = w @ w.t()
    off = gram * (1.0 - torch.eye(w.shape[0], device=w.device, dtype=w.dtype))
    return off.square().sum()


def ortho_weights(net: nn.Module, skip: tuple[str, ...]) -> list[Tensor]:
    """The trainable parameters of ``net`` with >= 2 dims whose names contain none of ``skip``
    (spectral-norm nets: the raw ``original`` weights)."""
    return [
        p
        for name, p in net.named_parameters()
        if p.requires_grad and p.dim() >= 2 and not any(s in name for s in skip)
    ]


class OrthogonalRegularization(GANTerm):
    """G term 'ortho': loss = sum of :func:`orthogonal_penalty` over G's weights.

    Args:
        weight: beta (1e-4 in BigGAN). every: lazy interval in G steps (1).
        skip: substrings of parameter names to leave out (BigGAN: the shared embedding).
    """

    RANGES = {"weight": Num(low=0), "every": Num(integer=True, low=1)}

    def __init__(
        self, weight: float = 1e-4, every: int = 1, skip: list[str] | tuple[str, ...] = ("shared",)
    ) -> None:
        check_ranges(self, weight=weight, every=every)
        super().__init__(weight, every)
        self.skip = tuple(skip)

    def forward(self, model: nn.Module, step: object) -> dict[str, Tensor]:
        """Unweighted penalty of the current generator weights (``step`` unused)."""
        params = ortho_weights(model.generator, self.skip)
        return {"loss": sum((orthogonal_penalty(p) for p in params), torch.zeros(()))}
