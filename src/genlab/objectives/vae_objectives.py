"""Training objectives of the VAE family, in the style of NVlabs/edm's ``training/loss.py``.

An objective is a callable ``objective(model, x, y, q, generator=None) -> terms``:

* ``model``: the VAE; an objective reaches its parts through it: ``model.prior``,
  ``model.likelihood``, ``model.decode(z, y)``, ``model.log_px(x, z, y)``,
  ``model.log_weights(x, y, q, k, generator)``;
* ``x`` (B, C, H, W) in [0, 1], ``y`` labels (B,) or None;
* ``q``: the batch's posterior ``model.posterior_of(x, y)`` (computed once by the module);
* ``generator``: the step's noise source (None: the global RNG, seeded by ``seed_everything``).

It returns a mapping of named terms: ``loss`` (per example (B,) or a scalar, to minimise) and any
diagnostics ((B,) or scalars, nats). The module logs every term by name (``train/<name>``,
``val/<name>``, ...), so a new objective needs no logging code. A new objective is one class
(here or in any importable module) and one config ``conf/model/objective/<name>.yaml``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genlab.objectives import bounds
from genlab.objectives.posteriors import Posterior
from genlab.utils.ranges import Num, check_ranges

Terms = dict[str, Tensor]


def elbo_terms(
    model: Any, x: Tensor, y: Tensor | None, q: Posterior, generator: torch.Generator | None
) -> Terms:
    """Single-sample ELBO terms per example (B,), nats: ``recon`` = log p(x | z) for one
    z ~ q(z | x), ``kl`` = KL(q || p) (closed form when there is one, else log q(z) - log p(z)
    at that z) and ``elbo`` = recon - kl."""
    z, log_q = q.rsample(generator=generator)
    recon = model.log_px(x, z, y)
    kl_dims = q.analytic_kl(model.prior)
    kl = kl_dims.sum(-1) if kl_dims is not None else log_q - model.prior.log_prob(z)
    return {"elbo": bounds.elbo(recon, kl), "recon": recon, "kl": kl}


class ELBO:
    """The (beta-weighted) ELBO E_q[log p(x|z)] - beta * KL (Kingma & Welling 2014; beta-VAE,
    Higgins et al. 2017, for beta > 1). Terms: loss, elbo (beta = 1), recon, kl.

    Args:
        beta: weight of the KL term, >= 0 (1 = the ELBO).
    """

    RANGES = {"beta": Num(low=0)}

    def __init__(self, beta: float = 1.0) -> None:
        check_ranges(self, beta=beta)
        self.beta = float(beta)

    def __call__(self, model: Any, x: Tensor, y: Tensor | None, q: Posterior, generator=None):
        """Return {loss: -(recon - beta kl), elbo, recon, kl}, each (B,), nats."""
        terms = elbo_terms(model, x, y, q, generator)
        loss = -bounds.elbo(terms["recon"], terms["kl"], self.beta)
        return {"loss": loss, **terms}

    def __repr__(self) -> str:
        return f"ELBO(beta={self.beta})"


class IWAE:
    """The importance-weighted bound logsumexp_k log w_k - log K (Burda et al. 2016).

    Terms: loss (= -iw_bound), iw_bound, and the single-sample elbo, recon, kl as diagnostics.

    Args:
        k: importance samples per example, integer >= 1 (k = 1 is the ELBO).
    """

    RANGES = {"k": Num(integer=True, low=1)}

    def __init__(self, k: int = 5) -> None:
        check_ranges(self, k=k)
        self.k = int(k)

    def __call__(self, model: Any, x: Tensor, y: Tensor | None, q: Posterior, generator=None):
        """Return {loss, iw_bound, elbo, recon, kl}, each (B,), nats."""
        terms = elbo_terms(model, x, y, q, generator)
        iw = bounds.iw_bound(model.log_weights(x, y, q, self.k, generator))
        return {"loss": -iw, **terms, "iw_bound": iw}

    def __repr__(self) -> str:
        return f"IWAE(k={self.k})"
