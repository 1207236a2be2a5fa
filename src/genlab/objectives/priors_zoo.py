"""Learned priors of the VAE zoo: VampPrior and a mixture of Gaussians (``model.prior``).

Both follow the prior interface of ``genlab.objectives.priors`` (``log_prob(z) -> (...)`` nats,
``sample(num, generator) -> (num, D)``, ``standard_normal = False``), so every objective uses
the Monte Carlo KL log q(z|x) - log p(z) with them and ``test/nll_iw`` evaluates them exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.objectives.priors import Prior
from genlab.utils.ranges import Num, check_ranges

_LOG_2PI = math.log(2 * math.pi)


def log_gaussian_mixture(z: Tensor, mu: Tensor, logvar: Tensor, log_pi: Tensor) -> Tensor:
    """Return log sum_k pi_k N(z; mu_k, diag(exp(logvar_k))): z (..., D), mu/logvar (K, D),
    log_pi (K,) normalized -> (...), nats."""
    zz = z.unsqueeze(-2)  # (..., 1, D)
    comp = -0.5 * (_LOG_2PI + logvar + (zz - mu) ** 2 * torch.exp(-logvar)).sum(-1)  # (..., K)
    return torch.logsumexp(comp + log_pi, dim=-1)


def sample_gaussian_mixture(
    num: int, mu: Tensor, logvar: Tensor, log_pi: Tensor, generator: torch.Generator | None
) -> Tensor:
    """Return ``num`` draws of the mixture, (num, D), on mu's device (CPU noise when a generator
    is given, as ``StandardNormal.sample``)."""
    dev = mu.device if generator is None else torch.device("cpu")
    probs = log_pi.detach().exp().to(dev)
    idx = torch.multinomial(probs, num, replacement=True, generator=generator)
    eps = torch.randn(num, mu.shape[-1], generator=generator, device=dev).to(mu)
    idx = idx.to(mu.device)
    return mu[idx] + (0.5 * logvar[idx]).exp() * eps


class VampPrior(Prior):
    """Variational mixture of posteriors p(z) = (1/K) sum_k q(z | u_k) with K learned
    pseudo-inputs u_k (Tomczak & Welling, "VAE with a VampPrior", AISTATS 2018; official
    jmtomczak/vae_vampprior ``models/VAE.py`` ``log_p_z``; pythae ``models/vamp/vamp_model.py``).

    The pseudo-inputs are a parameter (K, C, H, W) passed through hardtanh(0, 1) (the official
    code's ``Linear(K, D) + Hardtanh(0, 1)`` on the identity is the same map) and initialised
    N(init_mean, init_std^2) (the official MNIST settings: 0.05, 0.01). The encoder and the
    posterior family are the model's own, reached through :meth:`bind` (called by the VAE once
    it owns the prior) and not registered here, so their weights are stored once.

    Args:
        latent_dim: D (>= 1).
        data_shape: (C, H, W) of the encoder's images.
        num_components: K pseudo-inputs (>= 1; paper and default 500).
        init_mean, init_std: initialisation of the pseudo-inputs (std >= 0).

    Needs a diagonal Gaussian posterior family (``mean``, ``logvar``) and an unconditional
    encoder.
    """

    standard_normal = False
    RANGES = {
        "latent_dim": Num(integer=True, low=1),
        "num_components": Num(integer=True, low=1),
        "init_mean": Num(),
        "init_std": Num(low=0),
    }

    def __init__(
        self,
        latent_dim: int,
        data_shape: Sequence[int],
        num_components: int = 500,
        init_mean: float = 0.05,
        init_std: float = 0.01,
    ) -> None:
        check_ranges(
            self,
            latent_dim=latent_dim,
            num_components=num_components,
            init_mean=init_mean,
            init_std=init_std,
        )
        super().__init__(latent_dim)
        self.num_components = int(num_components)
        self.data_shape = tuple(int(s) for s in data_shape)
        u = torch.randn(self.num_components, *self.data_shape) * init_std + init_mean
        self.pseudo_inputs = nn.Parameter(u)
        self.__dict__["_owner"] = None  # the VAE, not a submodule (see bind)

    def bind(self, model: nn.Module) -> None:
        """Use ``model.encoder`` and ``model.posterior`` for q(z | u_k)."""
        self.__dict__["_owner"] = model

    def components(self) -> tuple[Tensor, Tensor]:
        """Return the K components' (mu, logvar), each (K, D), float32."""
        model = self.__dict__["_owner"]
        if model is None:
            raise RuntimeError("VampPrior is not bound to a model: call prior.bind(model)")
        if getattr(model, "conditional", False):
            raise ValueError("VampPrior needs an unconditional encoder (model.num_classes=0)")
        u = F.hardtanh(self.pseudo_inputs, 0.0, 1.0)
        post = model.posterior(model.encoder(u))
        if not hasattr(post, "logvar"):
            raise ValueError("VampPrior needs a diagonal Gaussian posterior (model.posterior)")
        return post.mean.float(), post.logvar.float()

    def log_prob(self, z: Tensor) -> Tensor:
        """Return log (1/K) sum_k q(z | u_k): z (..., D) -> (...), nats."""
        mu, logvar = self.components()
        log_pi = torch.full((self.num_components,), -math.log(self.num_components)).to(mu)
        return log_gaussian_mixture(z, mu, logvar, log_pi)

    def sample(self, num: int, generator: torch.Generator | None = None) -> Tensor:
        """Return ``num`` draws: a uniform component k, then z ~ q(z | u_k); (num, D)."""
        mu, logvar = self.components()
        log_pi = torch.full((self.num_components,), -math.log(self.num_components)).to(mu)
        return sample_gaussian_mixture(num, mu, logvar, log_pi, generator)

    def extra_repr(self) -> str:
        return f"latent_dim={self.latent_dim}, num_components={self.num_components}"


class MixtureOfGaussians(Prior):
    """A learned mixture of K diagonal Gaussians p(z) = sum_k pi_k N(mu_k, diag(sigma_k^2))
    (e.g. Dilokthanakul et al. 2016, "Deep Unsupervised Clustering with Gaussian Mixture VAEs";
    the VampPrior paper's "MoG" baseline, jmtomczak/vae_vampprior).

    Args:
        latent_dim: D (>= 1).
        num_components: K (>= 1).
        init_spread: std of the initial means around 0 (>= 0); variances start at 1 and the
            weights uniform.
        learn_weights: learn the mixture weights pi (softmax of logits) or keep them uniform.
    """

    standard_normal = False
    RANGES = {
        "latent_dim": Num(integer=True, low=1),
        "num_components": Num(integer=True, low=1),
        "init_spread": Num(low=0),
    }

    def __init__(
        self,
        latent_dim: int,
        num_components: int = 10,
        init_spread: float = 1.0,
        learn_weights: bool = True,
    ) -> None:
        check_ranges(
            self, latent_dim=latent_dim, num_components=num_components, init_spread=init_spread
        )
        super().__init__(latent_dim)
        self.num_components = int(num_components)
        self.means = nn.Parameter(torch.randn(num_components, latent_dim) * init_spread)
        self.logvars = nn.Parameter(torch.zeros(num_components, latent_dim))
        self.logits = nn.Parameter(torch.zeros(num_components), requires_grad=learn_weights)

    def log_prob(self, z: Tensor) -> Tensor:
        """Return log sum_k pi_k N(z; mu_k, sigma_k^2): z (..., D) -> (...), nats."""
        log_pi = torch.log_softmax(self.logits, 0)
        return log_gaussian_mixture(z, self.means, self.logvars, log_pi)

    def sample(self, num: int, generator: torch.Generator | None = None) -> Tensor:
        """Return ``num`` draws, (num, D)."""
        log_pi = torch.log_softmax(self.logits, 0)
        return sample_gaussian_mixture(num, self.means, self.logvars, log_pi, generator)

    def extra_repr(self) -> str:
        return f"latent_dim={self.latent_dim}, num_components={self.num_components}"
