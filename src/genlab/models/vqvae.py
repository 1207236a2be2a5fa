"""VQ-VAE (van den Oord et al. 2017): conv encoder, vector quantizer, conv decoder.

The objective is a configured callable (``model.objective``, default
``genlab.objectives.vqvae_loss.VQVAELoss``) that returns named terms; the module logs them all.

Sampling uses a **uniform prior over codes** (every position of the latent grid drawn
independently and uniformly from the K codes). This is not the model of the paper, which fits
an autoregressive PixelCNN prior over code indices after training; that is future work, and the
uniform-prior samples are only a check that the decoder maps any code grid to an image.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn

from genlab.contract import GenerativeModel, split_batch
from genlab.models.step_logging import TermLogger, should_log_step
from genlab.nets.quantizer import QuantizerOutput, VectorQuantizer, perplexity
from genlab.objectives.likelihoods import Likelihood
from genlab.objectives.vqvae_loss import VQVAELoss
from genlab.utils.finite import raise_if_not_finite


class VQVAE(GenerativeModel, pl.LightningModule):
    """Vector-quantized autoencoder with spatial latents (code_dim, h, w).

    Args:
        encoder: module x (B, C, H, W) -> encodings (B, code_dim, h, w); has ``latent_shape``.
        decoder: module codes (B, code_dim, h, w) -> likelihood parameters at full resolution.
        quantizer: the codebook (``genlab.nets.quantizer.VectorQuantizer``).
        likelihood: observation model p(x | z_q) (Bernoulli, Gaussian, DiscretizedLogistic).
        optimizer: partial optimizer (Hydra ``_partial_: true``), finished with the parameters.
        scheduler: optional partial LR scheduler, stepped per epoch.
        objective: callable ``(model, x, y, q, generator) -> terms`` with ``q`` the batch's
            ``QuantizerOutput`` (default ``VQVAELoss()``).
    """

    checkpoint_monitor = ("val/recon_bpd", "min")
    prior = "uniform"  # the sampler draws codes uniformly; no learned prior (see module doc)
    prior_informative = False  # so FID/IS/KID/PR of its samples are skipped (contract.py)
    continuous_latent = False  # generate() snaps z to codes: no latent paths (ppl)
    has_codebook = True

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        quantizer: VectorQuantizer,
        likelihood: Likelihood,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        objective: Callable[..., dict[str, torch.Tensor]] | None = None,
    ) -> None:
        super().__init__()
        enc_shape, dec_shape = tuple(encoder.data_shape), tuple(decoder.data_shape)
        if enc_shape != dec_shape:
            raise ValueError(f"encoder expects images {enc_shape} but decoder makes {dec_shape}")
        if tuple(encoder.latent_shape) != tuple(decoder.latent_shape):
            raise ValueError(
                f"encoder makes codes {tuple(encoder.latent_shape)} but decoder takes "
                f"{tuple(decoder.latent_shape)}: model.decoder.code_dim/downsample must equal "
                "model.quantizer.code_dim and model.encoder.downsample (conf/model/vqvae.yaml)"
            )
        if encoder.latent_shape[0] != quantizer.code_dim:
            raise ValueError(
                f"encoder code size {encoder.latent_shape[0]} != quantizer.code_dim "
                f"{quantizer.code_dim}: set model.encoder.code_dim=${{model.quantizer.code_dim}}"
            )
        self.save_hyperparameters(
            logger=False,
            ignore=[
                "encoder",
                "decoder",
                "quantizer",
                "likelihood",
                "optimizer",
                "scheduler",
                "objective",
            ],
        )
        self.objective = objective if objective is not None else VQVAELoss()
        self.terms_log = TermLogger(self, prog_bar="recon_bpd")
        self.encoder, self.decoder = encoder, decoder
        self.quantizer, self.likelihood = quantizer, likelihood
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.register_buffer("_epoch_counts", torch.zeros(quantizer.num_codes), persistent=False)

    # ----- the contract used by callbacks, metrics and genlab-eval -----
    can_encode = True

    @property
    def latent_shape(self) -> tuple[int, ...]:
        """(code_dim, h, w): one grid of code vectors."""
        return tuple(self.encoder.latent_shape)

    @property
    def data_shape(self) -> tuple[int, ...]:
        """(C, H, W) of the images the networks were built for."""
        return tuple(self.encoder.data_shape)

    def sample_noise(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Return code grids from the UNIFORM prior over codes, (num, code_dim, h, w).

        Not a learned prior: each position is an independent uniform draw of the K codes, so
        samples show what the decoder makes of random code grids, not the data distribution.
        """
        _, h, w = self.latent_shape
        idx = torch.randint(0, self.quantizer.num_codes, (num, h, w), generator=generator)
        return self.quantizer.lookup(idx.to(self.device)).detach()

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Snap z (N, code_dim, h, w) to the nearest codes and decode: mean images in [0, 1]."""
        idx = self.quantizer.nearest_grid(z.to(self.device))
        return self.likelihood.mean(self.decoder(self.quantizer.lookup(idx)))

    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Return the quantized codes z_q(x), (B, code_dim, h, w)."""
        return self.quantizer.lookup(self.quantizer.nearest_grid(self.encoder(x)))

    # ----- objective -----
    def step(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return the objective's terms on a batch (``loss`` and its diagnostics)."""
        return self._step(x)[0]

    def _step(self, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], QuantizerOutput]:
        q = self.quantizer(self.encoder(x))  # once per step: code counts reuse it
        return self.objective(self, x, None, q, None), q

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        """One step on the objective; codebook EMA and restarts run inside the quantizer."""
        x, _ = split_batch(batch)
        terms = self.step(x)
        raise_if_not_finite(terms["loss"], "VQ-VAE loss", self.global_step)
        state = {}
        if should_log_step(self.trainer):  # the codebook's state, in the same logged row
            alive = (self.quantizer.cluster_size >= self.quantizer.restart_threshold).sum()
            state = {"codes_alive": alive.float(), "restarts": self.quantizer.restarts.float()}
        self.terms_log.train_step({**terms, **state}, x.shape[0])
        return terms["loss"]

    def on_train_epoch_end(self) -> None:
        """End of a training epoch (the terms were logged per step as ``train/<term>``)."""
        self.terms_log.train_epoch_end()

    def _eval_step(self, stage: str, batch) -> None:
        x, _ = split_batch(batch)
        terms, q = self._step(x)
        terms.pop("perplexity")  # the epoch's perplexity over all assignments is logged instead
        self.terms_log.eval_step(stage, terms, x.shape[0])
        self._epoch_counts += q.counts

    def _log_usage(self, stage: str) -> None:
        """Log perplexity and number of codes used over the whole epoch's assignments."""
        counts = self._epoch_counts.clone()
        if self.trainer.world_size > 1:
            counts = self.all_gather(counts).sum(0)
        if counts.sum() == 0:
            return
        self.code_counts = counts.cpu()  # read by the codebook-usage callback
        self.log(f"{stage}/perplexity", perplexity(counts), sync_dist=False)
        self.log(f"{stage}/codes_used", (counts > 0).sum().float(), sync_dist=False)
        self.log(f"{stage}/code_usage", (counts > 0).float().mean(), sync_dist=False)

    def on_validation_epoch_start(self) -> None:
        self._epoch_counts.zero_()

    def validation_step(self, batch, batch_idx: int) -> None:
        """Log ``val/*`` terms and accumulate code counts for perplexity and usage."""
        self._eval_step("val", batch)

    def on_validation_epoch_end(self) -> None:
        """Log ``val/<term>``, ``val/perplexity``, ``val/codes_used`` and ``val/code_usage``."""
        self.terms_log.eval_epoch_end("val")
        self._log_usage("val")

    def on_test_epoch_start(self) -> None:
        self._epoch_counts.zero_()

    def test_step(self, batch, batch_idx: int) -> None:
        """Log ``test/*`` terms (``test/recon_bpd``: reconstruction bits/dim)."""
        self._eval_step("test", batch)

    def on_test_epoch_end(self) -> None:
        """Log ``test/<term>``, ``test/perplexity`` and code usage over the test set."""
        self.terms_log.eval_epoch_end("test")
        self._log_usage("test")

    def configure_optimizers(self) -> Any:
        """Finish the partial optimizer (and scheduler) configured in Hydra."""
        optimizer = self.optimizer_factory(params=[p for p in self.parameters() if p.requires_grad])
        if self.scheduler_factory is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": self.scheduler_factory(optimizer)}
