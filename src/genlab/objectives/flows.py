"""Normalizing-flow posterior families q(z | x) (``model.posterior``): IAF, planar, radial.

A family maps the encoder's output ``(mu, logvar[, h])`` to a :class:`FlowPosterior`: z_0 ~
N(mu, diag(exp(logvar))) is pushed through T invertible maps, and ``rsample`` returns z_T with
log q(z_T | x) = log q_0(z_0 | x) - sum_t log |det dz_t / dz_{t-1}| (exact), so the ELBO, every
multi-sample bound and ``test/nll_iw`` use the flow's density.

Papers: Rezende & Mohamed, "Variational Inference with Normalizing Flows", ICML 2015 (planar
eq. 10-12 with the invertibility condition of App. A.1; radial eq. 13-14); Kingma, Salimans,
Jozefowicz, Chen, Sutskever & Welling, "Improved Variational Inference with Inverse
Autoregressive Flow", NeurIPS 2016 (official openai/iaf ``models.py``). Reference
implementations in the slow parity tests: pythae ``pythae/models/vae_iaf/vae_iaf_model.py``,
``normalizing_flows/{iaf,planar_flow,radial_flow}``, ``vae_lin_nf/vae_lin_nf_model.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.nets.made import MADE
from genlab.objectives.posteriors import Posterior
from genlab.utils.ranges import Num, check_ranges

_LOG_2PI = math.log(2 * math.pi)


class FlowPosterior(Posterior):
    """q(z | x) = a diagonal Gaussian base pushed through ``family``'s transforms.

    ``mean`` (B, D) is the flow applied to the base mean (a deterministic code for
    reconstructions and the encode contract; not E_q[z] in general).
    """

    def __init__(self, family: FlowFamily, mu: Tensor, logvar: Tensor, h: Tensor | None):
        self.family, self.mu, self.base_logvar, self.h = family, mu, logvar, h
        self.mean = family.transform(mu, h)[0]

    def rsample(
        self, num: int | None = None, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """Return z_T (B, D) or (num, B, D) and log q(z_T | x) (B,) or (num, B), nats."""
        mu, logvar = self.mu, self.base_logvar
        shape = mu.shape if num is None else (num, *mu.shape)
        eps = torch.randn(shape, device=mu.device, dtype=mu.dtype, generator=generator)
        z0 = mu + (0.5 * logvar).exp() * eps
        log_q0 = -0.5 * (_LOG_2PI + logvar + eps**2).sum(-1)
        h = self.h
        if num is not None and h is not None:
            h = h.expand(num, *h.shape)
        flat_h = None if h is None else h.reshape(-1, h.shape[-1])
        z, log_det = self.family.transform(z0.reshape(-1, mu.shape[-1]), flat_h)
        return z.reshape(shape), log_q0 - log_det.reshape(shape[:-1])

    def analytic_kl(self, prior: nn.Module) -> Tensor | None:
        """None: no closed form for a flow (objectives use log q(z) - log p(z))."""
        return None


class FlowFamily(nn.Module):
    """Base class: subclasses implement ``transform(z0 (N, D), h) -> (z_T, sum log|det|)``."""

    def forward(self, enc_out: tuple[Tensor, ...]) -> FlowPosterior:
        """Return the flow posterior of the encoder's ``(mu, logvar[, h])``, at least float32
        (bf16/fp16 outputs of autocast are upcast; float64 stays float64)."""
        up = [t.to(torch.promote_types(t.dtype, torch.float32)) for t in enc_out]
        return FlowPosterior(self, up[0], up[1], up[2] if len(up) > 2 else None)

    def transform(self, z: Tensor, h: Tensor | None) -> tuple[Tensor, Tensor]:
        raise NotImplementedError


class IAF(FlowFamily):
    """Inverse autoregressive flow (Kingma et al. 2016): T MADE steps, the order of z reversed
    before each step.

    Args:
        latent_dim: D (>= 2).
        num_blocks: T MADE steps (>= 1; pythae ``n_made_blocks`` default 2).
        hidden_dims: MADE hidden layer sizes (pythae: 3 x 128).
        update: ``gated`` = Kingma et al.'s numerically stable step z <- sigma z + (1 - sigma) m,
            sigma = sigmoid(s + forget_bias), log det = sum log sigma (paper eq. 14; official
            ``models.py``); ``affine`` = z <- z exp(s) + m, log det = sum s (pythae's IAF).
        forget_bias: added to s in the gated update (paper: "sigma close to 1" at init; >= 0).
        context_dim: size of the encoder's third output h fed to every MADE (0 = none, as
            pythae; the paper conditions on h).
    """

    RANGES = {
        "latent_dim": Num(integer=True, low=2),
        "num_blocks": Num(integer=True, low=1),
        "forget_bias": Num(low=0),
        "context_dim": Num(integer=True, low=0),
    }

    def __init__(
        self,
        latent_dim: int,
        num_blocks: int = 2,
        hidden_dims: Sequence[int] = (128, 128, 128),
        update: str = "gated",
        forget_bias: float = 1.0,
        context_dim: int = 0,
    ) -> None:
        super().__init__()
        check_ranges(
            self,
            latent_dim=latent_dim,
            num_blocks=num_blocks,
            forget_bias=forget_bias,
            context_dim=context_dim,
        )
        if update not in ("gated", "affine"):
            raise ValueError(f"model.posterior.update={update!r}: expected gated or affine")
        self.update, self.forget_bias = update, float(forget_bias)
        self.blocks = nn.ModuleList(
            MADE(latent_dim, hidden_dims, context_dim) for _ in range(num_blocks)
        )

    def transform(self, z: Tensor, h: Tensor | None) -> tuple[Tensor, Tensor]:
        """Return z_T (N, D) and sum_t log|det| (N,)."""
        log_det = z.new_zeros(z.shape[0])
        for made in self.blocks:
            z = z.flip(-1)
            m, s = made(z, h)
            if self.update == "affine":
                z, log_det = z * s.exp() + m, log_det + s.sum(-1)
            else:
                gate = torch.sigmoid(s + self.forget_bias)
                z = gate * z + (1 - gate) * m
                log_det = log_det + F.logsigmoid(s + self.forget_bias).sum(-1)
        return z, log_det


class Planar(FlowFamily):
    """T planar maps z <- z + u_hat tanh(w^T z + b) (Rezende & Mohamed 2015 eq. 10), with
    u_hat = u + (softplus(w^T u) - 1 - w^T u) w / ||w||^2 so that w^T u_hat >= -1 (App. A.1:
    invertible); log det = log |1 + u_hat^T psi(z)|, psi = tanh'(w^T z + b) w.

    Flow parameters are global (learned, not amortized), as pythae's ``VAE_LinNF``.

    Args:
        latent_dim: D (>= 1). num_flows: T (>= 1).
    """

    RANGES = {"latent_dim": Num(integer=True, low=1), "num_flows": Num(integer=True, low=1)}

    def __init__(self, latent_dim: int, num_flows: int = 10) -> None:
        super().__init__()
        check_ranges(self, latent_dim=latent_dim, num_flows=num_flows)
        self.w = nn.Parameter(torch.randn(num_flows, latent_dim) * 0.1)
        self.u = nn.Parameter(torch.randn(num_flows, latent_dim) * 0.1)
        self.b = nn.Parameter(torch.zeros(num_flows))

    def u_hat(self) -> Tensor:
        """Return the constrained u_hat (T, D) with w_t^T u_hat_t >= -1."""
        wu = (self.w * self.u).sum(-1, keepdim=True)
        return self.u + (F.softplus(wu) - 1 - wu) * self.w / self.w.pow(2).sum(-1, keepdim=True)

    def transform(self, z: Tensor, h: Tensor | None) -> tuple[Tensor, Tensor]:
        """Return z_T (N, D) and sum_t log|det| (N,)."""
        log_det = z.new_zeros(z.shape[0])
        for w, u, b in zip(self.w, self.u_hat(), self.b, strict=True):
            lin = z @ w + b  # (N,)
            act = torch.tanh(lin)
            psi_u = (1 - act**2) * (w @ u)  # psi(z)^T u_hat, (N,)
            z = z + act[:, None] * u
            log_det = log_det + torch.log(torch.abs(1 + psi_u))
        return z, log_det


class Radial(FlowFamily):
    """T radial maps z <- z + beta h(alpha, r) (z - z0), h = 1 / (alpha + r), r = ||z - z0||
    (Rezende & Mohamed 2015 eq. 14); alpha = exp(log_alpha) > 0, beta = -alpha +
    softplus(beta_raw) >= -alpha (invertible); log det = (D - 1) log(1 + beta h) +
    log(1 + beta h + beta h'(r) r), h' = -1 / (alpha + r)^2. Global parameters (pythae).

    Args:
        latent_dim: D (>= 1). num_flows: T (>= 1).
    """

    RANGES = {"latent_dim": Num(integer=True, low=1), "num_flows": Num(integer=True, low=1)}

    def __init__(self, latent_dim: int, num_flows: int = 10) -> None:
        super().__init__()
        check_ranges(self, latent_dim=latent_dim, num_flows=num_flows)
        self.z0 = nn.Parameter(torch.randn(num_flows, latent_dim) * 0.1)
        self.log_alpha = nn.Parameter(torch.zeros(num_flows))
        self.beta_raw = nn.Parameter(torch.zeros(num_flows))
        self.latent_dim = int(latent_dim)

    def transform(self, z: Tensor, h: Tensor | None) -> tuple[Tensor, Tensor]:
        """Return z_T (N, D) and sum_t log|det| (N,)."""
        log_det = z.new_zeros(z.shape[0])
        d = self.latent_dim
        for z0, log_alpha, beta_raw in zip(self.z0, self.log_alpha, self.beta_raw, strict=True):
            alpha = log_alpha.exp()
            beta = -alpha + F.softplus(beta_raw)
            diff = z - z0
            r = diff.norm(dim=-1)
            hr = 1 / (alpha + r)
            z = z + (beta * hr)[:, None] * diff
            log_det = log_det + (d - 1) * torch.log1p(beta * hr)
            log_det = log_det + torch.log1p(beta * hr - beta * r / (alpha + r) ** 2)
        return z, log_det
