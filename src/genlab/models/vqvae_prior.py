"""Second stage of VQ-VAE (van den Oord et al. 2017, Sec. 3.2 / 4.1): a learned prior over the
code grid, a gated PixelCNN (van den Oord et al. 2016), fitted to the codes z_q(x) of a trained,
frozen VQ-VAE loaded from its checkpoint (``model=vqvae_prior model.vqvae_ckpt=...``).

Sampling: ``sample_noise`` draws uniform noise u (num, h, w) in [0, 1); ``generate(u, labels)``
turns it into a code grid by inverse-CDF ancestral sampling from the PixelCNN (conditional on
the labels when the data has them) and decodes it with the VQ-VAE. ``sampler: uniform`` keeps
the uniform prior over codes (code floor(u * K) at every position, independently): the
baseline of the first stage, named as such and marked ``prior_informative = False``.

Logged (nats and bits): ``prior_nll`` (-log p(c) per grid, nats), ``prior_bpc`` (bits per
code), ``recon_bpd`` (-log p(x | z_q) in bits/dim) and ``bpd``: the full model's bits/dim,
(-log p(x | z_q(x)) - log p(z_q(x))) / (D ln 2), an upper bound on -log2 p(x) / D because
q(z | x) is one-hot (the KL is -log p(z_q)).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.contract import GenerativeModel, split_batch
from genlab.models.step_logging import TermLogger, batch_means
from genlab.models.vqvae import VQVAE
from genlab.nets.pixelcnn import GatedPixelCNN
from genlab.objectives import bounds
from genlab.utils.checkpoint_io import load_checkpoint_file
from genlab.utils.finite import raise_if_not_finite

SAMPLERS = ("pixelcnn", "uniform")


class VQVAEPrior(GenerativeModel, pl.LightningModule):
    """A gated PixelCNN prior p(c [| y]) over the code grid of a frozen VQ-VAE.

    Args:
        vqvae: the first stage, built from the same config as the checkpoint's run
            (``conf/model/vqvae_prior.yaml`` composes ``model/vqvae`` under ``model.vqvae``);
            its weights come from ``vqvae_ckpt`` and stay frozen.
        vqvae_ckpt: path of the VQ-VAE's Lightning checkpoint, read with
            ``torch.load(weights_only=True)``.
        pixelcnn: partial ``GatedPixelCNN`` (Hydra ``_partial_: true``); this module fills in
            ``num_codes``, ``grid_shape`` and ``num_classes``.
        optimizer: partial optimizer, finished with the PixelCNN's parameters.
        num_classes: > 0: the prior is conditional on labels (``${data.num_classes}``).
        sampler: ``pixelcnn`` (the learned prior) or ``uniform`` (uniform over codes, the
            first stage's baseline; samples not fitted to the data).
        scheduler: optional partial LR scheduler.
    """

    checkpoint_monitor = ("val/prior_bpc", "min")
    continuous_latent = False  # noise -> sampled discrete codes: no latent paths (ppl)

    def __init__(
        self,
        vqvae: VQVAE,
        vqvae_ckpt: str,
        pixelcnn: Callable[..., GatedPixelCNN],
        optimizer: Callable[..., torch.optim.Optimizer],
        num_classes: int = 0,
        sampler: str = "pixelcnn",
        scheduler: Callable[..., Any] | None = None,
    ) -> None:
        super().__init__()
        if sampler not in SAMPLERS:
            raise ValueError(f"model.sampler={sampler!r}; allowed: {', '.join(SAMPLERS)}")
        if int(num_classes) < 0:
            raise ValueError(f"model.num_classes={num_classes} must be >= 0")
        self.save_hyperparameters(
            logger=False, ignore=["vqvae", "pixelcnn", "optimizer", "scheduler"]
        )
        self.vqvae = vqvae
        load_vqvae_weights(vqvae, Path(str(vqvae_ckpt)))
        self.vqvae.requires_grad_(False)
        self.vqvae.eval()
        _, h, w = vqvae.latent_shape
        self.num_classes, self.sampler = int(num_classes), sampler
        self.pixelcnn = pixelcnn(
            num_codes=vqvae.quantizer.num_codes, grid_shape=(h, w), num_classes=self.num_classes
        )
        self.prior_informative = sampler == "pixelcnn"  # uniform codes: FID etc. skipped
        self.data_binarize = vqvae.data_binarize
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.terms_log = TermLogger(self, prog_bar="prior_bpc")

    def train(self, mode: bool = True) -> VQVAEPrior:
        """Set the PixelCNN's mode; the VQ-VAE stays in eval mode (no codebook updates)."""
        super().train(mode)
        self.vqvae.eval()
        return self

    # ----- the contract -----
    @property
    def latent_shape(self) -> tuple[int, ...]:
        """(h, w): one uniform number per code position (the sampler's noise)."""
        return tuple(self.vqvae.latent_shape[1:])

    @property
    def data_shape(self) -> tuple[int, ...]:
        """(C, H, W) of the VQ-VAE's images."""
        return self.vqvae.data_shape

    def sample_noise(self, num: int, generator: torch.Generator | None = None) -> Tensor:
        """Uniform noise u (num, h, w) in [0, 1); ``generate`` maps it to a code grid."""
        return torch.rand(num, *self.latent_shape, generator=generator).to(self.device)

    def sample_codes(self, u: Tensor, labels: Tensor | None = None) -> Tensor:
        """Code grids (N, h, w) int64 for noise u: PixelCNN ancestral sampling, or uniform."""
        u = u.to(self.device)
        if self.sampler == "uniform":
            return (u * self.vqvae.quantizer.num_codes).long()
        y = self._labels(labels, u.shape[0])
        return self.pixelcnn.sample(u, y)

    @torch.no_grad()
    def generate(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Mean images (N, C, H, W) in [0, 1] decoded from the codes sampled with noise z."""
        codes = self.sample_codes(z, labels)
        vq = self.vqvae
        return vq.likelihood.mean(vq.decoder(vq.quantizer.lookup(codes)))

    def _labels(self, y: Tensor | None, num: int) -> Tensor | None:
        if not self.conditional:
            return None
        if y is None:
            raise ValueError(
                f"this prior is conditional (model.num_classes={self.num_classes}) and needs "
                "labels for sampling"
            )
        return y.to(self.device).long().view(num)

    # ----- objective -----
    @torch.no_grad()
    def codes_of(self, x: Tensor) -> Tensor:
        """The frozen VQ-VAE's code indices of images x, (B, h, w) int64."""
        return self.vqvae.quantizer.nearest_grid(self.vqvae.encoder(x))

    def step(self, x: Tensor, y: Tensor | None = None, full: bool = False) -> dict[str, Tensor]:
        """Terms: ``loss`` (nats per code), ``prior_nll`` (nats per grid), ``prior_bpc``; with
        ``full`` also ``recon_bpd`` and ``bpd`` (full model, bits/dim)."""
        codes = self.codes_of(x)
        logits = self.pixelcnn(codes, self._labels(y, x.shape[0]))
        nll = F.cross_entropy(logits.float(), codes, reduction="none").flatten(1).sum(1)
        num_codes = codes[0].numel()
        terms = {
            "loss": nll.mean() / num_codes,
            "prior_nll": nll,
            "prior_bpc": nll / (num_codes * math.log(2.0)),
        }
        if full:
            vq = self.vqvae
            with torch.no_grad():
                recon_nll = -vq.likelihood.log_prob(vq.decoder(vq.quantizer.lookup(codes)), x)
            num_dims, discrete = math.prod(self.data_shape), vq.likelihood.discrete
            terms["recon_bpd"] = bounds.bits_per_dim(recon_nll, num_dims, discrete)
            terms["bpd"] = bounds.bits_per_dim(recon_nll + nll, num_dims, discrete)
        return terms

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        """One step on the PixelCNN's cross-entropy of the codes."""
        x, y = split_batch(batch)
        means = batch_means(self.step(x, y))
        raise_if_not_finite(means["loss"], "PixelCNN prior loss", self.global_step)
        self.terms_log.train_step(means, x.shape[0])
        return means["loss"]

    def on_train_epoch_end(self) -> None:
        self.terms_log.train_epoch_end()

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """Log ``val/prior_bpc``, ``val/prior_nll``, ``val/recon_bpd``, ``val/bpd``."""
        x, y = split_batch(batch)
        self.terms_log.eval_step("val", batch_means(self.step(x, y, full=True)), x.shape[0])

    def on_validation_epoch_end(self) -> None:
        """Log the epoch's ``val/...`` means (``TermLogger.eval_epoch_end``)."""
        self.terms_log.eval_epoch_end("val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        """Log ``test/prior_bpc``, ``test/prior_nll``, ``test/recon_bpd``, ``test/bpd``."""
        x, y = split_batch(batch)
        self.terms_log.eval_step("test", batch_means(self.step(x, y, full=True)), x.shape[0])

    def on_test_epoch_end(self) -> None:
        """Log the epoch's ``test/...`` means."""
        self.terms_log.eval_epoch_end("test")

    def configure_optimizers(self) -> Any:
        """Finish the partial optimizer over the PixelCNN only (the VQ-VAE is frozen)."""
        optimizer = self.optimizer_factory(params=self.pixelcnn.parameters())
        if self.scheduler_factory is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": self.scheduler_factory(optimizer)}


def load_vqvae_weights(vqvae: nn.Module, path: Path) -> None:
    """Load the ``vqvae`` weights of a genlab VQ-VAE checkpoint (weights_only=True) into
    ``vqvae``; raise naming ``model.vqvae_ckpt`` when the file or its architecture differ."""
    ckpt = load_checkpoint_file(path, map_location="cpu", weights_only=True)
    state = ckpt["state_dict"]
    if any(k.startswith("pixelcnn.") for k in state):  # a prior's own checkpoint
        state = {k[len("vqvae.") :]: v for k, v in state.items() if k.startswith("vqvae.")}
    try:
        vqvae.load_state_dict(state)
    except RuntimeError as err:
        raise RuntimeError(
            f"model.vqvae_ckpt={path}: its weights do not fit model.vqvae ({err}). Build "
            "model.vqvae with the first stage's settings (e.g. model.vqvae.quantizer.num_codes)."
        ) from err
