"""Ladder VAE parts (Sønderby et al., "Ladder Variational Autoencoders", NeurIPS 2016; official
code casperkaae/LVAE): the hierarchical prior, the top-down posterior with precision-weighted
merging, and the ELBO with KL warm-up. The latent z = [z_1, ..., z_L] is one flat vector
(sizes ``sizes``, z_1 next to x), so the VAE's ELBO, IWAE bound and ``test/nll_iw`` use the
ladder exactly: log p(z) and log q(z | x) below are the hierarchy's densities.

Generative model: p(z_L) = N(0, I), p(z_i | z_{i+1}) = N(mu_p,i, sigma_p,i^2) (top-down nets
owned by the prior), p(x | z_1) (the decoder reads z_1 only: ``genlab.nets.ladder``).
Inference: the encoder's deterministic bottom-up pass gives (mu_hat_i, sigma_hat_i^2) per layer;
q(z_L | x) = N(mu_hat_L, sigma_hat_L^2), and going down, q(z_i | z_{i+1}, x) is the
precision-weighted merge of the bottom-up estimate with the prior's top-down one (eq. 18-19):
sigma_q^2 = 1 / (sigma_hat^-2 + sigma_p^-2), mu_q = (mu_hat sigma_hat^-2 + mu_p sigma_p^-2)
sigma_q^2. The top-down nets are shared by p and q (the posterior reaches the prior through
``bind``, so their weights are stored once).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.objectives import bounds
from genlab.objectives.posteriors import Posterior
from genlab.objectives.priors import Prior
from genlab.objectives.vae_objectives import elbo_terms
from genlab.utils.ranges import Num, check_ranges

_MIN_VAR = 1e-6  # floor of every variance (softplus output), numerical safety only


def _top_down_net(size_in: int, size_out: int, hidden: int) -> nn.Module:
    """z_{i+1} (.., size_in) -> (mu, pre-variance) (.., 2 size_out); linear when hidden = 0."""
    if hidden == 0:
        return nn.Linear(size_in, 2 * size_out)
    return nn.Sequential(
        nn.Linear(size_in, hidden), nn.LeakyReLU(0.1), nn.Linear(hidden, 2 * size_out)
    )


def _mean_var(out: Tensor) -> tuple[Tensor, Tensor]:
    mu, pre = out.float().chunk(2, dim=-1)
    return mu, F.softplus(pre) + _MIN_VAR


class LadderPrior(Prior):
    """p(z) = N(z_L; 0, I) prod_{i<L} N(z_i; mu_p,i(z_{i+1}), sigma_p,i^2(z_{i+1})).

    Args:
        sizes: [d_1, ..., d_L], latent sizes from the bottom (next to x) to the top; the
            model's ``latent_dim`` must equal their sum.
        hidden: width of each top-down MLP (one hidden layer, leaky ReLU); 0 = linear.
    """

    standard_normal = False
    RANGES = {"hidden": Num(integer=True, low=0)}

    def __init__(self, sizes: Sequence[int], hidden: int = 64) -> None:
        check_ranges(self, hidden=hidden)
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"model.prior.sizes={sizes}: need >= 2 layers, each size >= 1")
        super().__init__(sum(sizes))
        self.sizes = sizes
        #: top_down[i] maps z_{i+2} to p(z_{i+1} | z_{i+2}) (0-based: layer i from layer i+1)
        self.top_down = nn.ModuleList(
            _top_down_net(sizes[i + 1], sizes[i], hidden) for i in range(len(sizes) - 1)
        )

    @property
    def latent_dim_fix(self) -> str:
        """The fix the VAE names when ``model.latent_dim`` is not the sum of the sizes."""
        return (
            f"the ladder's latent [z_1, ..., z_L] has sum(model.prior.sizes={self.sizes}) = "
            f"{sum(self.sizes)} dims: set model.latent_dim={sum(self.sizes)}"
        )

    def split(self, z: Tensor) -> list[Tensor]:
        """[z_1, ..., z_L] of a flat z (..., D)."""
        return list(z.split(self.sizes, dim=-1))

    def conditional(self, i: int, z_above: Tensor) -> tuple[Tensor, Tensor]:
        """(mu, var) of p(z_i | z_{i+1}) for 0-based layer i < L - 1, float32."""
        return _mean_var(self.top_down[i](z_above))

    def log_prob(self, z: Tensor) -> Tensor:
        """log p(z): z (..., D) -> (...), nats."""
        zs = self.split(z)
        total = bounds.log_standard_normal(zs[-1].float())
        for i in range(len(zs) - 1):
            mu, var = self.conditional(i, zs[i + 1])
            total = total + bounds.log_normal_diag(zs[i].float(), mu, var.log())
        return total

    def sample(self, num: int, generator: torch.Generator | None = None) -> Tensor:
        """Ancestral draws, top to bottom, (num, D) on the prior's device."""
        device = self.top_down[0].parameters().__next__().device
        z = torch.randn(num, self.sizes[-1], generator=generator).to(device)
        zs = [z]
        for i in reversed(range(len(self.sizes) - 1)):
            mu, var = self.conditional(i, zs[0])
            eps = torch.randn(mu.shape, generator=generator).to(device)
            zs.insert(0, mu + var.sqrt() * eps)
        return torch.cat(zs, dim=-1)

    def extra_repr(self) -> str:
        return f"sizes={self.sizes}"


def precision_weighted(
    mu_hat: Tensor, var_hat: Tensor, mu_p: Tensor, var_p: Tensor
) -> tuple[Tensor, Tensor]:
    """Merge two Gaussian estimates (Sønderby et al. eq. 18-19): returns (mu_q, var_q)."""
    prec_hat, prec_p = 1.0 / var_hat, 1.0 / var_p
    var_q = 1.0 / (prec_hat + prec_p)
    return (mu_hat * prec_hat + mu_p * prec_p) * var_q, var_q


class LadderQ(Posterior):
    """q(z | x) of one batch: bottom-up estimates merged top-down with the prior's."""

    def __init__(self, prior: LadderPrior, mu_hat: Tensor, var_hat: Tensor) -> None:
        self.prior = prior
        self.mu_hat, self.var_hat = prior.split(mu_hat), prior.split(var_hat)
        with torch.no_grad():  # the deterministic top-down pass through the means
            self.mean = self._top_down(None)[0]

    def _top_down(self, eps: list[Tensor] | None) -> tuple[Tensor, Tensor]:
        """z and log q for noise eps (per layer, None = the means); shapes (.., B, D), (.., B)."""
        top = len(self.mu_hat) - 1
        mu, var = self.mu_hat[top], self.var_hat[top]
        z = mu if eps is None else mu + var.sqrt() * eps[top]
        zs, log_q = [z], bounds.log_normal_diag(z, mu, var.log())
        for i in reversed(range(top)):
            mu_p, var_p = self.prior.conditional(i, zs[0])
            mu, var = precision_weighted(self.mu_hat[i], self.var_hat[i], mu_p, var_p)
            z = mu if eps is None else mu + var.sqrt() * eps[i]
            zs.insert(0, z)
            log_q = log_q + bounds.log_normal_diag(z, mu, var.log())
        return torch.cat(zs, dim=-1), log_q

    def rsample(
        self, num: int | None = None, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """Reparameterized top-down sample z (B, D) or (num, B, D) and log q(z | x), nats."""
        eps = []
        for mu in self.mu_hat:
            shape = mu.shape if num is None else (num, *mu.shape)
            eps.append(torch.randn(shape, device=mu.device, dtype=mu.dtype, generator=generator))
        return self._top_down(eps)


class LadderPosterior(nn.Module):
    """The LVAE posterior family: encoder output (mu_hat, pre_var_hat) (B, D) -> ``LadderQ``
    (variance softplus(pre) + 1e-6, as the paper's softplus head). Needs ``LadderPrior``; the
    VAE calls :meth:`bind` with itself."""

    def __init__(self) -> None:
        super().__init__()
        self.__dict__["_owner"] = None  # the VAE, not a submodule

    def bind(self, model: nn.Module) -> None:
        """Use ``model.prior`` (a ``LadderPrior``) for the top-down pass."""
        if not isinstance(model.prior, LadderPrior):
            raise ValueError(
                "model.posterior=ladder needs model.prior=ladder (the top-down nets are the "
                f"prior's); got {type(model.prior).__name__}"
            )
        self.__dict__["_owner"] = model

    def forward(self, enc_out: tuple[Tensor, Tensor]) -> LadderQ:
        """Return q(z | x) for the encoder's bottom-up (mu_hat, pre-variance)."""
        model = self.__dict__["_owner"]
        if model is None:
            raise RuntimeError("LadderPosterior is not bound to a model: call bind(model)")
        mu_hat, pre = enc_out
        return LadderQ(model.prior, mu_hat.float(), F.softplus(pre.float()) + _MIN_VAR)


class WarmupELBO:
    """ELBO with KL warm-up (Sønderby et al. Sec. 2.3): loss = -(recon - beta_t kl) with
    beta_t = min(1, t / warmup_steps) at optimizer step t (``model.global_step``); the paper
    warms up linearly over its first 200 epochs. Terms: loss, elbo (beta = 1), recon, kl,
    kl_weight; validation and test use beta = 1 (the model is not training).

    Args:
        warmup_steps: optimizer steps until beta = 1 (0 = no warm-up).
    """

    RANGES = {"warmup_steps": Num(integer=True, low=0)}

    def __init__(self, warmup_steps: int = 2000) -> None:
        check_ranges(self, warmup_steps=warmup_steps)
        self.warmup_steps = int(warmup_steps)

    def weight(self, step: int) -> float:
        """beta_t in [0, 1] at optimizer step ``step``."""
        if self.warmup_steps == 0:
            return 1.0
        return min(1.0, step / self.warmup_steps)

    def __call__(self, model: Any, x: Tensor, y: Tensor | None, q: Posterior, generator=None):
        """Return {loss, elbo, recon, kl, kl_weight} (B,) / scalar, nats."""
        terms = elbo_terms(model, x, y, q, generator)
        beta = self.weight(int(model.global_step)) if model.training else 1.0
        loss = -bounds.elbo(terms["recon"], terms["kl"], beta)
        return {"loss": loss, **terms, "kl_weight": torch.tensor(beta)}

    def __repr__(self) -> str:
        return f"WarmupELBO(warmup_steps={self.warmup_steps})"
