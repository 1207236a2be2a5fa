"""Training objectives of the VAE family, chosen in the config by ``_target_``.

Each objective is a small callable object: given the single-sample terms of a batch and a way to
draw K importance log-weights, it returns the per-example objective to MAXIMISE, (B,), nats.
A new objective is one class here (or anywhere importable) and one config line:

    model:
      objective: {_target_: genlab.objectives.vae_objectives.IWAE, k: 50}
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from genlab.objectives import bounds

#: ``log_weights(k)`` returns (k, B) log p(x, z_k) - log q(z_k | x), z_k ~ q(z | x), nats.
LogWeights = Callable[[int], Tensor]


class ELBO:
    """The (beta-weighted) ELBO: E_q[log p(x|z)] - beta * KL (Kingma & Welling 2014; beta-VAE,
    Higgins et al. 2017, for beta > 1).

    Args:
        beta: weight of the KL term, >= 0 (1 = the ELBO; ``train/elbo`` always uses 1).
    """

    #: logged as ``<stage>/<log_key>`` beside the ELBO terms; None = nothing beyond the ELBO
    log_key: str | None = None

    def __init__(self, beta: float = 1.0) -> None:
        if not beta >= 0:  # also catches NaN
            raise ValueError(
                f"model.objective.beta={beta!r} must be >= 0: a negative beta maximises the KL "
                "term. Use 1 for the ELBO, > 1 for a beta-VAE."
            )
        self.beta = float(beta)

    def __call__(self, recon: Tensor, kl: Tensor, log_weights: LogWeights) -> Tensor:
        """Return recon - beta * kl, (B,), nats."""
        return bounds.elbo(recon, kl, self.beta)

    def __repr__(self) -> str:
        return f"ELBO(beta={self.beta})"


class IWAE:
    """The importance-weighted bound logsumexp_k log w_k - log K (Burda et al. 2016).

    Args:
        k: importance samples per example, >= 1 (k = 1 is the ELBO).
    """

    log_key: str | None = "iw_bound"

    def __init__(self, k: int = 5) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(
                f"model.objective.k={k!r} must be an integer >= 1 (Burda et al.: 5, 50)."
            )
        self.k = k

    def __call__(self, recon: Tensor, kl: Tensor, log_weights: LogWeights) -> Tensor:
        """Return the K-sample importance-weighted bound, (B,), nats."""
        return bounds.iw_bound(log_weights(self.k))

    def __repr__(self) -> str:
        return f"IWAE(k={self.k})"
