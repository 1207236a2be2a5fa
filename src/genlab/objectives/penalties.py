"""Gradient penalties for the discriminator, as pure functions.

``gradient_penalty`` is WGAN-GP's two-sided penalty (Gulrajani et al. 2017, Algorithm 1):
E[(||grad_x D(x_hat)||_2 - 1)^2] on random interpolates x_hat between real and fake.
``r1_penalty`` is Mescheder et al. 2018's R1: E[||grad_x D(x)||_2^2] on real data.
``r1_penalty`` on fakes is the R2 penalty. Both return a scalar (mean over the batch) built
with ``create_graph=True`` so it can be added to the D loss and backpropagated into D's weights.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def _input_grad_norm2(outputs: Tensor, inputs: Tensor) -> Tensor:
    """Squared L2 norm, per example, of d sum(outputs) / d inputs; shape (N,)."""
    (grad,) = torch.autograd.grad(outputs.sum(), inputs, create_graph=True)
    return grad.flatten(start_dim=1).pow(2).sum(dim=1)


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    generator: torch.Generator | None = None,
) -> Tensor:
    """WGAN-GP penalty: mean over the batch of (||grad D(x_hat)||_2 - 1)^2.

    Args:
        critic: the discriminator (any callable mapping (N, ...) to (N,) or (N, 1)).
        real, fake: tensors of the same shape (N, ...); fake should be detached.
        generator: optional torch.Generator for the interpolation weights eps ~ U[0, 1].

    Returns:
        scalar tensor (dimensionless), differentiable w.r.t. the critic's weights.
    """
    if real.shape != fake.shape:
        raise ValueError(
            f"gradient_penalty needs real and fake of one shape, got "
            f"{tuple(real.shape)} and {tuple(fake.shape)}."
        )
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = torch.rand(shape, device=real.device, dtype=real.dtype, generator=generator)
    x_hat = (eps * real.detach() + (1.0 - eps) * fake.detach()).requires_grad_(True)
    norms = _input_grad_norm2(critic(x_hat), x_hat).add(1e-12).sqrt()
    return (norms - 1.0).pow(2).mean()


def r1_penalty(critic: Callable[[Tensor], Tensor], real: Tensor) -> Tensor:
    """R1 penalty: mean over real examples of ||grad_x D(x)||_2^2 (multiply by gamma / 2)."""
    x = real.detach().requires_grad_(True)
    return _input_grad_norm2(critic(x), x).mean()
