"""Gradient penalties for the discriminator, as pure functions.

``gradient_penalty`` is WGAN-GP's two-sided penalty (Gulrajani et al. 2017, Algorithm 1):
E[(||grad_x D(x_hat)||_2 - 1)^2] on random interpolates x_hat between real and fake.
``r1_penalty`` is Mescheder et al. 2018's R1: E[||grad_x D(x)||_2^2] on real data.
Both return a scalar (mean over the batch) built with ``create_graph=True`` so it can be
added to the D loss and backpropagated into D's weights.
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


class DiscriminatorPenalties:
    """The penalties added to the D loss, composed from config weights.

    ``gp_weight * gradient_penalty + r1_gamma / 2 * r1_penalty``; weights of 0 switch a term off.
    ``critic`` may take labels: pass ``critic = lambda x: D(x, y)`` for conditional models.
    """

    def __init__(self, gp_weight: float = 0.0, r1_gamma: float = 0.0) -> None:
        for key, value in (("model.gp_weight", gp_weight), ("model.r1_gamma", r1_gamma)):
            if value < 0:
                raise ValueError(f"{key}={value!r} must be >= 0 (0 switches it off).")
        self.gp_weight, self.r1_gamma = float(gp_weight), float(r1_gamma)

    @property
    def per_example(self) -> bool:
        """True when a penalty needs per-example D outputs (no batch norm in D)."""
        return self.gp_weight > 0

    def __call__(
        self,
        critic: Callable[[Tensor], Tensor],
        real: Tensor,
        fake: Tensor,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor | None, dict[str, Tensor]]:
        """Return (weighted sum or None when all are off, {"gp": ..., "r1": ...} unweighted)."""
        terms: dict[str, Tensor] = {}
        total: Tensor | None = None
        if self.gp_weight > 0:
            terms["gp"] = gradient_penalty(critic, real, fake, generator=generator)
            total = self.gp_weight * terms["gp"]
        if self.r1_gamma > 0:
            terms["r1"] = r1_penalty(critic, real)
            r1 = 0.5 * self.r1_gamma * terms["r1"]
            total = r1 if total is None else total + r1
        return total, terms
