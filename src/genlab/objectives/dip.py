"""DIP-VAE I and II: the ELBO plus a penalty matching the covariance of q(z) to the identity.

Kumar, Sattigeri & Balakrishnan, "Variational Inference of Disentangled Latent Concepts from
Unlabeled Observations", ICLR 2018 (eqs. 6-8). No official code was released; pythae has no
DIP-VAE, so there is no parity test (the covariance formulas are unit-tested by hand).
A second reference: AntixK/PyTorch-VAE ``models/dip_vae.py``.
"""

from __future__ import annotations

from torch import Tensor

from genlab.utils.ranges import Num, check_ranges


def batch_covariance(v: Tensor) -> Tensor:
    """Return the (D, D) covariance of the rows of v (B, D) with the 1/B (biased) estimate."""
    c = v - v.mean(0, keepdim=True)
    return c.T @ c / v.shape[0]


def dip_penalty(cov: Tensor, lambda_od: float, lambda_d: float) -> Tensor:
    """Return lambda_od sum_{i != j} C_ij^2 + lambda_d sum_i (C_ii - 1)^2 (scalar)."""
    diag = cov.diagonal()
    off = cov - diag.diag_embed()
    return lambda_od * off.pow(2).sum() + lambda_d * (diag - 1).pow(2).sum()


class DIPVAE:
    """DIP-VAE objective: minimise -ELBO + penalty(Cov), per example (B,).

    Kumar et al. 2018: DIP-VAE-I uses C = Cov_p(x)[mu(x)] (eq. 7); DIP-VAE-II uses
    C = Cov_p(x)[mu(x)] + E_p(x)[Sigma(x)], the covariance of the aggregate posterior q(z)
    (eq. 8). Both are batch estimates; the scalar penalty is added to every example's loss.

    Args:
        kind: ``i`` | ``ii``.
        lambda_od: off-diagonal weight (>= 0; the paper: 10 for I, 1..500 for II).
        lambda_d: diagonal weight (>= 0; the paper: 10 * lambda_od for I, lambda_od for II).

    Needs a diagonal Gaussian posterior for ``ii`` (``q.logvar``). Returns ``loss``, ``elbo``,
    ``recon``, ``kl`` (B,) and the batch's ``dip`` penalty.
    """

    RANGES = {"lambda_od": Num(low=0), "lambda_d": Num(low=0)}

    def __init__(self, kind: str = "i", lambda_od: float = 10.0, lambda_d: float = 100.0) -> None:
        check_ranges(self, lambda_od=lambda_od, lambda_d=lambda_d)
        if str(kind).lower() not in ("i", "ii"):
            raise ValueError(f"model.objective.kind={kind!r}: expected i or ii")
        self.kind = str(kind).lower()
        self.lambda_od, self.lambda_d = float(lambda_od), float(lambda_d)

    def __call__(self, model, x: Tensor, y: Tensor | None, q, generator=None) -> dict[str, Tensor]:
        """Return the DIP-VAE terms of a batch."""
        z, log_q = q.rsample(generator=generator)
        recon = model.log_px(x, z, y)
        kl_dims = q.analytic_kl(model.prior)
        kl = kl_dims.sum(-1) if kl_dims is not None else log_q - model.prior.log_prob(z)
        cov = batch_covariance(q.mean)
        if self.kind == "ii":
            if not hasattr(q, "logvar"):
                raise ValueError("DIP-VAE-II needs a diagonal Gaussian posterior")
            cov = cov + q.logvar.exp().mean(0).diag_embed()
        pen = dip_penalty(cov, self.lambda_od, self.lambda_d)
        return {"loss": kl - recon + pen, "elbo": recon - kl, "recon": recon, "kl": kl, "dip": pen}

    def __repr__(self) -> str:
        return f"DIPVAE(kind={self.kind!r}, lambda_od={self.lambda_od}, lambda_d={self.lambda_d})"
