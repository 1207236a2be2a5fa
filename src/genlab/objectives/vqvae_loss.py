"""The VQ-VAE objective (van den Oord et al. 2017, eq. 3), as a configured callable.

``objective(model, x, y, q, generator=None) -> terms`` like the VAE objectives, where ``q`` is
the batch's quantization ``model.quantizer(model.encoder(x))`` (computed once by the module).
The loss per batch is the reconstruction NLL in nats per data dimension plus the quantizer's
loss (beta * commitment, plus the codebook term when codes are not EMA-updated): the
per-element scale of the paper's MSE objective, so ``beta`` keeps its meaning (0.25).
"""

from __future__ import annotations

import math
from typing import Any

from torch import Tensor

from genlab.nets.quantizer import QuantizerOutput, perplexity
from genlab.objectives import bounds


class VQVAELoss:
    """Terms: ``loss``; ``recon`` = log p(x | z_q) (nats); ``recon_bpd`` (bits/dim of -recon);
    ``bpd`` (bits/dim adding the code grid's cost under the uniform prior, h*w*log K nats: the
    KL from a one-hot q to the uniform prior); ``commitment`` (unweighted); ``perplexity`` of
    the batch's code assignments."""

    def __call__(
        self, model: Any, x: Tensor, y: Tensor | None, q: QuantizerOutput, generator=None
    ) -> dict[str, Tensor]:
        """Return the VQ-VAE terms of a batch (scalars)."""
        num_dims = math.prod(model.data_shape)
        log_px = model.likelihood.log_prob(model.decoder(q.quantized), x)
        nll = -log_px.mean()
        _, h, w = model.latent_shape
        prior_nats = h * w * math.log(model.quantizer.num_codes)
        discrete = model.likelihood.discrete
        return {
            "loss": nll / num_dims + model.quantizer.loss(q),
            "recon": -nll,
            "recon_bpd": bounds.bits_per_dim(nll, num_dims, discrete),
            "bpd": bounds.bits_per_dim(nll + prior_nats, num_dims, discrete),
            "commitment": q.commitment_loss,
            "perplexity": perplexity(q.counts),
        }

    def __repr__(self) -> str:
        return "VQVAELoss()"
