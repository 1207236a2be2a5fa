"""Multi-sample bounds of Rainforth et al. 2018: MIWAE, PIWAE and CIWAE.

Rainforth, Kosiorek, Le, Maddison, Igl, Wood & Teh, "Tighter Variational Bounds are Not
Necessarily Better", ICML 2018 (sec. 4: MIWAE, CIWAE, PIWAE); IWAE: Burda et al. 2016.
Reference implementations checked in the slow parity tests: pythae
``pythae/models/miwae/miwae_model.py``, ``piwae/piwae_model.py``, ``ciwae/ciwae_model.py``.

Log-weights log w = log p(x, z) - log q(z | x) come from the model's configured prior and
posterior (``model.log_weights``), so a flow posterior or a VampPrior is used exactly.
"""

from __future__ import annotations

import math

from torch import Tensor

from genlab.utils.ranges import Num, check_ranges


def iw_bound(log_w: Tensor, dim: int = 0) -> Tensor:
    """Return logsumexp(log w) - log K over ``dim`` (K = its size), nats."""
    return log_w.logsumexp(dim) - math.log(log_w.shape[dim])


def miwae_bound(log_w: Tensor, m: int, k: int) -> Tensor:
    """Return (1/M) sum_m [logsumexp_k log w_mk - log K] for log w (M K, B) laid out m-major
    (row m K + k), (B,), nats."""
    return iw_bound(log_w.reshape(m, k, -1), dim=1).mean(0)


class MIWAE:
    """Multiply importance weighted bound: the mean of M independent K-sample IWAE bounds.

    Rainforth et al. 2018 eq. 8; M = 1 is the IWAE, K = 1 the ELBO averaged over M samples.

    Args:
        m: number of IWAE estimates averaged (>= 1).
        k: importance samples per estimate (>= 1).

    Returns ``loss`` = -bound (B,), ``miwae`` (the bound), ``elbo`` (mean single-sample ELBO
    over the M K samples); all (B,), nats.
    """

    RANGES = {"m": Num(integer=True, low=1), "k": Num(integer=True, low=1)}

    def __init__(self, m: int = 8, k: int = 8) -> None:
        check_ranges(self, m=m, k=k)
        self.m, self.k = int(m), int(k)

    def __call__(self, model, x: Tensor, y: Tensor | None, q, generator=None) -> dict[str, Tensor]:
        """Return the MIWAE terms of a batch."""
        log_w = model.log_weights(x, y, q, self.m * self.k, generator=generator)
        bound = miwae_bound(log_w, self.m, self.k)
        return {"loss": -bound, "miwae": bound, "elbo": log_w.mean(0)}

    def __repr__(self) -> str:
        return f"MIWAE(m={self.m}, k={self.k})"


class CIWAE:
    """Combination bound beta * ELBO + (1 - beta) * IWAE_K on the same K samples.

    Rainforth et al. 2018 eq. 7 (the ELBO term is the mean of the K single-sample ELBOs).

    Args:
        k: importance samples (>= 1).
        beta: weight of the ELBO, in [0, 1] (0 = IWAE, 1 = the ELBO with K samples).

    Returns ``loss`` (B,), ``ciwae``, ``iw_bound``, ``elbo``; all (B,), nats.
    """

    RANGES = {"k": Num(integer=True, low=1), "beta": Num(low=0, high=1)}

    def __init__(self, k: int = 64, beta: float = 0.5) -> None:
        check_ranges(self, k=k, beta=beta)
        self.k, self.beta = int(k), float(beta)

    def __call__(self, model, x: Tensor, y: Tensor | None, q, generator=None) -> dict[str, Tensor]:
        """Return the CIWAE terms of a batch."""
        log_w = model.log_weights(x, y, q, self.k, generator=generator)
        elbo, iw = log_w.mean(0), iw_bound(log_w)
        bound = self.beta * elbo + (1 - self.beta) * iw
        return {"loss": -bound, "ciwae": bound, "iw_bound": iw, "elbo": elbo}

    def __repr__(self) -> str:
        return f"CIWAE(k={self.k}, beta={self.beta})"


class PIWAE:
    """Partially importance weighted AE: the encoder ascends MIWAE(M, K), the generative model
    (decoder, likelihood and prior) ascends IWAE(M K), from one set of M K samples.

    Rainforth et al. 2018 sec. 4 (PIWAE); pythae ``piwae_model.py`` trains the two losses with
    two optimizers. Here one loss has both gradient paths: with log w' = log p(x, sg(z)) -
    sg(log q) (sg = stop-gradient; equal in value to log w),

        loss = -IWAE_{MK}(log w') - MIWAE_{M,K}(log w) + MIWAE_{M,K}(log w').

    The last two terms cancel in value and in their gradient with respect to the parameters of
    log p(x, z) (same values and weights), so those parameters get exactly the IWAE(M K)
    gradient; log w' carries no gradient to the encoder, which gets exactly the MIWAE gradient.
    Parameters shared by q and p (a VampPrior's encoder) get both. Costs a second decoder pass.

    Args:
        m, k: as :class:`MIWAE` (>= 1 each).

    Returns ``loss`` (B,) (its value is -IWAE_{MK}), ``iw_bound`` (the IWAE(M K) bound),
    ``miwae`` and ``elbo``; all (B,), nats.
    """

    RANGES = MIWAE.RANGES

    def __init__(self, m: int = 8, k: int = 8) -> None:
        check_ranges(self, m=m, k=k)
        self.m, self.k = int(m), int(k)

    def __call__(self, model, x: Tensor, y: Tensor | None, q, generator=None) -> dict[str, Tensor]:
        """Return the PIWAE terms of a batch."""
        z, log_q = q.rsample(self.m * self.k, generator=generator)
        log_w = model.log_px(x, z, y) + model.prior.log_prob(z) - log_q
        z_d = z.detach()
        log_w_d = model.log_px(x, z_d, y) + model.prior.log_prob(z_d) - log_q.detach()
        iw = iw_bound(log_w_d)
        mi, mi_d = miwae_bound(log_w, self.m, self.k), miwae_bound(log_w_d, self.m, self.k)
        loss = -iw - mi + mi_d
        return {"loss": loss, "iw_bound": iw.detach(), "miwae": mi.detach(), "elbo": log_w.mean(0)}

    def __repr__(self) -> str:
        return f"PIWAE(m={self.m}, k={self.k})"
