"""Per-dimension latent traversals for VAEs (as in the beta-VAE paper, Higgins et al. 2017).

One row per latent dimension: the latent of one validation image is held fixed and the row's
dimension is set to each value of ``linspace(-span, span, steps)`` (prior standard deviations),
then decoded. Rows are sorted by the dimension's KL(q(z_d | x) || p(z_d)) on the validation set
(the model's ``val/kl_dim/NN``), most informative first, so collapsed dimensions (flat rows)
sink to the bottom. Models without per-dimension KL are sorted by Var_x(E_q[z_d | x]) on one
validation batch instead (the active-unit statistic). Runs for models that can encode and have
flat latents (D,); others (VQ-VAE grids, GANs) are skipped.
"""

from __future__ import annotations

import json
import re

import pytorch_lightning as pl
import torch

from genlab.callbacks.cadence import EpochCadence
from genlab.callbacks.images import real_batch, save_and_log_grid
from genlab.contract import require_generative
from genlab.utils.eval_mode import eval_mode
from genlab.utils.ranges import Num, check_ranges

KL_KEY = re.compile(r"^val/kl_dim/(\d+)$")


def traverse(z0: torch.Tensor, dims: list[int], values: torch.Tensor) -> torch.Tensor:
    """Return latents (len(dims) * S, D): row r sets z0[dims[r]] to each of the S ``values``."""
    z = z0.reshape(1, 1, -1).repeat(len(dims), values.numel(), 1)
    for row, d in enumerate(dims):
        z[row, :, d] = values.to(z)
    return z.flatten(0, 1)


def kl_per_dim(metrics: dict, latent_dim: int) -> torch.Tensor | None:
    """Return the logged ``val/kl_dim/NN`` values as a (latent_dim,) tensor in nats, or None."""
    kl = torch.full((latent_dim,), float("nan"))
    for key, value in metrics.items():
        m = KL_KEY.match(key)
        if m and int(m.group(1)) < latent_dim:
            kl[int(m.group(1))] = float(value)
    return None if torch.isnan(kl).any() else kl


class LatentTraversals(pl.Callback):
    """Save and log a traversal grid every ``every_n_epochs`` validation epochs (rank 0).

    Args:
        every_n_epochs: run after every N-th validation epoch (and after the last epoch).
        min_interval_s: but not more often than every this many seconds (wall clock;
            ``genlab.callbacks.cadence``).
        steps: values per row (columns of the grid).
        span: values go from -span to +span (prior standard deviations, the prior is N(0, I)).
        max_dims: at most this many rows (the highest-KL dimensions).
        output_dir: root of ``images/traversals/`` (default: the trainer's root dir).
    """

    RANGES = {  # noqa: RUF012 - declared ranges (genlab.utils.ranges); the cadence has its own
        "steps": Num(integer=True, low=2),
        "span": Num(low=0, low_open=True),
        "max_dims": Num(integer=True, low=1),
    }

    def __init__(
        self,
        every_n_epochs: int = 5,
        steps: int = 9,
        span: float = 3.0,
        max_dims: int = 16,
        output_dir: str | None = None,
        min_interval_s: float = 0.0,
    ) -> None:
        self.cadence = EpochCadence(every_n_epochs, min_interval_s)  # genlab.callbacks.cadence
        check_ranges(self, steps=steps, span=span, max_dims=max_dims)
        self.steps, self.span = steps, span
        self.max_dims, self.output_dir = max_dims, output_dir
        self.batch_size = 64  # validation images for the fallback variance score

    @staticmethod
    def applies(model: object, datamodule: object) -> bool:
        """True for image models that encode to flat latents (D,) (VAEs; not VQ-VAE, GANs)."""
        model = require_generative(model, "LatentTraversals")
        return model.can_encode and len(tuple(model.latent_shape)) == 1 and model.is_image_model

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Runs after the model's epoch-end hook, so this epoch's ``val/kl_dim/NN`` are logged."""
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        model = require_generative(pl_module, "LatentTraversals")
        shape = tuple(model.latent_shape)
        if not model.can_encode or len(shape) != 1 or not model.is_image_model:
            return  # traversals vary one entry of a vector latent of an autoencoder
        if not self.cadence.due(trainer):
            return
        with eval_mode(pl_module):
            self.make_images(trainer, pl_module, shape[0])

    def make_images(self, trainer: pl.Trainer, pl_module, latent_dim: int) -> None:
        """Encode one validation batch, pick and sort dims, decode the traversal grid."""
        x, labels = real_batch(trainer, pl_module, self.batch_size)
        mu = pl_module.encode(x, labels)
        score = kl_per_dim(trainer.callback_metrics, latent_dim)
        source = "kl_nats"
        if score is None:
            score, source = mu.double().var(0).cpu(), "var_posterior_mean"
        dims = torch.argsort(score, descending=True)[: self.max_dims].tolist()
        values = torch.linspace(-self.span, self.span, self.steps)
        z = traverse(mu[0], dims, values)
        row_labels = None if labels is None else labels[:1].repeat(z.shape[0])
        images = pl_module.generate(z, row_labels)
        path = save_and_log_grid(trainer, "traversals", images, self.steps, self.output_dir)
        order = {"dims": dims, source: [float(score[d]) for d in dims], "values": values.tolist()}
        path.with_suffix(".json").write_text(json.dumps(order, indent=1))
