"""VAE family as one LightningModule: ELBO, beta-VAE, IWAE (objective by `_target_`), and the
conditional VAE (labels into encoder and decoder)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor, nn

from genlab.contract import GenerativeModel, split_batch
from genlab.models.compile import compile_nets
from genlab.models.outputs import VAEOutput
from genlab.models.step_logging import EpochMeans, should_log_step
from genlab.objectives import bounds
from genlab.objectives.likelihoods import Likelihood
from genlab.objectives.vae_objectives import ELBO
from genlab.utils.finite import raise_if_not_finite

#: a VAE objective: (recon (B,), kl (B,), log_weights(k) -> (k, B)) -> objective (B,), nats
Objective = Callable[[Tensor, Tensor, Callable[[int], Tensor]], Tensor]


class VAE(GenerativeModel, pl.LightningModule):
    """Variational autoencoder with a diagonal Gaussian posterior and a N(0, I) prior.

    Args:
        encoder: module x -> (mu, logvar), each (B, latent_dim); called ``encoder(x, y)`` when
            conditional.
        decoder: module z -> likelihood parameters (B, C * params_per_channel, H, W); called
            ``decoder(z, y)`` when conditional.
        likelihood: observation model p(x | z) (Bernoulli, Gaussian, DiscretizedLogistic).
        optimizer: partial optimizer (Hydra ``_partial_: true``), finished with the parameters.
        latent_dim: size of z.
        objective: the training objective, a callable from
            ``genlab.objectives.vae_objectives`` (``ELBO(beta)``, ``IWAE(k)``) or your own.
        scheduler: optional partial LR scheduler, stepped per epoch.
        num_classes: classes of the labels fed to encoder and decoder (0 = unconditional; a
            conditional VAE, Sohn et al. 2015, models p(x | y)).
        test_iw_samples: K for the test-time importance-sampled NLL (``test/nll_iw``).
        test_iw_chunk: samples per chunk when computing the test NLL (memory bound).
        active_unit_threshold: a latent dim is active when Cov_x(E_q[z|x]) exceeds this.
        compile: ``model.compile``: false, true or a torch.compile mode; compiles the encoder
            and decoder in place (``genlab.models.compile``).

    Mixed precision (``trainer.precision=bf16-mixed|16-mixed``): the nets run under autocast;
    their outputs are cast to float32 before the likelihood, the KL and the importance
    weights, so every sum over pixels and the log-sum-exp are float32.
    """

    checkpoint_monitor = ("val/elbo", "max")
    can_encode = True

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        likelihood: Likelihood,
        optimizer: Callable[..., torch.optim.Optimizer],
        latent_dim: int,
        objective: Objective | None = None,
        scheduler: Callable[..., Any] | None = None,
        num_classes: int = 0,
        test_iw_samples: int = 1000,
        test_iw_chunk: int = 100,
        active_unit_threshold: float = 0.01,
        compile: bool | str = False,
    ) -> None:
        super().__init__()
        if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim < 1:
            raise ValueError(f"model.latent_dim={latent_dim!r} must be an integer >= 1.")
        if test_iw_samples < 1 or test_iw_chunk < 1:
            raise ValueError("model.test_iw_samples and model.test_iw_chunk must be >= 1")
        if num_classes < 0:
            raise ValueError(
                f"model.num_classes must be >= 0 (0 = unconditional), got {num_classes}"
            )
        enc_shape, dec_shape = tuple(encoder.data_shape), tuple(decoder.data_shape)
        if enc_shape != dec_shape:
            raise ValueError(f"encoder expects images {enc_shape} but decoder makes {dec_shape}")
        # nets, objective and optimizer partials stay out of hparams: checkpoints hold plain
        # values only and load with torch.load(weights_only=True); the config recreates them.
        self.save_hyperparameters(
            logger=False,
            ignore=["encoder", "decoder", "likelihood", "optimizer", "scheduler", "objective"],
        )
        self.encoder, self.decoder, self.likelihood = encoder, decoder, likelihood
        if objective is not None and not callable(objective):
            raise ValueError(
                f"model.objective={objective!r} is not an objective; pick one with "
                "model/objective=elbo|iwae, or give a node with a _target_ callable "
                "(see genlab/objectives/vae_objectives.py)."
            )
        self.objective = objective if objective is not None else ELBO()
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.latent_dim = latent_dim
        self.num_classes = int(num_classes)
        self._val_stats: dict[str, torch.Tensor] = {}
        self._train_means = EpochMeans()
        compile_nets(compile, encoder=self.encoder, decoder=self.decoder)

    # ----- the model contract used by callbacks, metrics and genlab-eval -----
    @property
    def latent_shape(self) -> tuple[int, ...]:
        """(latent_dim,)."""
        return (self.latent_dim,)

    @property
    def data_shape(self) -> tuple[int, ...]:
        """(C, H, W) of the images the networks were built for."""
        return tuple(self.encoder.data_shape)

    def _labels(self, y: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
        """Extra net arguments: (y,) for conditional models, () otherwise."""
        if not self.conditional:
            return ()
        if y is None:
            raise ValueError(
                f"this VAE is conditional (model.num_classes={self.num_classes}) and needs "
                "labels: use labelled data (data.num_classes > 0)."
            )
        return (y.to(self.device).long(),)

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Return the decoder's mean images for latents z, (N, C, H, W) in [0, 1]."""
        return self.likelihood.mean(self.decoder(z.to(self.device), *self._labels(labels)))

    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Return the posterior means E_q[z | x], (B, latent_dim)."""
        return self.encoder(x, *self._labels(labels))[0]

    # ----- objectives -----
    def _log_weights(self, x, y, num: int, mu, logvar) -> torch.Tensor:
        """Return log p(x, z_k) - log q(z_k | x) for ``num`` samples, (num, B), nats."""
        std = (0.5 * logvar).exp()
        z = mu + std * torch.randn(num, *mu.shape, device=mu.device, dtype=mu.dtype)
        extra = tuple(t.repeat(num) for t in self._labels(y))
        params = self.decoder(z.flatten(0, 1), *extra).float()
        log_px = self.likelihood.log_prob(params, x.repeat(num, 1, 1, 1)).view(num, -1)
        return log_px + bounds.log_standard_normal(z) - bounds.log_normal_diag(z, mu, logvar)

    def step(self, x: torch.Tensor, y: torch.Tensor | None = None) -> VAEOutput:
        """Compute the training objective and its terms on a batch of images in [0, 1]."""
        mu, logvar = (t.float() for t in self.encoder(x, *self._labels(y)))
        kl_per_dim = bounds.gaussian_kl_per_dim(mu, logvar)
        kl = kl_per_dim.sum(-1)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        recon = self.likelihood.log_prob(self.decoder(z, *self._labels(y)).float(), x)
        value = self.objective(recon, kl, lambda k: self._log_weights(x, y, k, mu, logvar))
        extra = value if self.objective.log_key else None
        return VAEOutput(
            -value.mean(), bounds.elbo(recon, kl), recon, kl, kl_per_dim, mu.detach(), extra
        )

    @torch.no_grad()
    def iw_nll(
        self, x: torch.Tensor, num_samples: int, chunk: int, y: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Importance-sampled NLL estimate -log p(x) (-log p(x | y) when conditional), (B,),
        nats: -(logsumexp(log w) - log K).

        Samples are drawn in chunks of ``chunk`` to bound memory; the K log-weights are kept
        (K x B floats) and reduced with one logsumexp, so the estimator is exact in K.
        """
        mu, logvar = (t.float() for t in self.encoder(x, *self._labels(y)))
        chunks = []
        for start in range(0, num_samples, chunk):
            chunks.append(self._log_weights(x, y, min(chunk, num_samples - start), mu, logvar))
        return -bounds.iw_bound(torch.cat(chunks, dim=0))

    # ----- Lightning hooks -----
    def _terms(self, out: VAEOutput) -> dict[str, torch.Tensor]:
        """Batch means of the objective's terms (nats per example; bpd in bits per dim)."""
        elbo = out.elbo.mean()
        num_dims = math.prod(self.data_shape)
        terms = {
            "loss": out.loss,
            "elbo": elbo,
            "recon": out.recon.mean(),
            "kl": out.kl.mean(),
            "bpd": bounds.bits_per_dim(-elbo, num_dims, self.likelihood.discrete),
        }
        if out.iw_bound is not None:
            terms[self.objective.log_key] = out.iw_bound.mean()
        return terms

    def _log_terms(self, stage: str, out: VAEOutput, batch_size: int) -> None:
        """Log ``<stage>/<term>`` epoch means (synced across ranks) for val and test."""
        kw = dict(batch_size=batch_size, sync_dist=True, on_step=False, on_epoch=True)
        for name, value in self._terms(out).items():
            self.log(f"{stage}/{name}", value, prog_bar=stage == "val" and name == "elbo", **kw)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int):
        """One optimization step on the objective. Logs ``train/<term>_step`` on the steps
        Lightning writes, and ``train/<term>_epoch`` (this rank's mean) at the epoch end."""
        x, y = split_batch(batch)
        out = self.step(x, y)
        raise_if_not_finite(out.loss, "VAE loss", self.global_step)
        terms = self._terms(out)
        self._train_means.update(terms, x.shape[0])
        if should_log_step(self.trainer):
            kw = dict(on_step=True, on_epoch=False, batch_size=x.shape[0])
            self.log("train/loss_step", out.loss, prog_bar=True, **kw)
            self.log_dict({f"train/{k}_step": v for k, v in terms.items() if k != "loss"}, **kw)
        return out.loss

    def on_train_epoch_start(self) -> None:
        self._train_means.reset()

    def on_train_epoch_end(self) -> None:
        """Log the epoch means of the training terms as ``train/<term>_epoch``."""
        means = self._train_means.compute()
        self.log_dict({f"train/{k}_epoch": v.float() for k, v in means.items()}, on_epoch=True)

    def on_validation_epoch_start(self) -> None:
        d = math.prod(self.latent_shape)
        zeros = lambda *s: torch.zeros(*s, dtype=torch.float64, device=self.device)  # noqa: E731
        self._val_stats = {"n": zeros(()), "mu": zeros(d), "mu2": zeros(d), "kl": zeros(d)}

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        """Log ``val/*`` ELBO terms and accumulate statistics for active units and KL per dim."""
        x, y = split_batch(batch)
        out = self.step(x, y)
        self._log_terms("val", out, x.shape[0])
        s, mu = self._val_stats, out.mu.double().flatten(1)  # (B, D) or (B, C, H, W) latents
        s["n"] += mu.shape[0]
        s["mu"] += mu.sum(0)
        s["mu2"] += (mu**2).sum(0)
        s["kl"] += out.kl_per_dim.detach().double().flatten(1).sum(0)

    def on_validation_epoch_end(self) -> None:
        """Log active units (Burda et al. 2016) and KL per latent dimension (nats)."""
        if not self._val_stats or self._val_stats["n"] == 0:
            return
        stats = {k: self.all_gather(v) for k, v in self._val_stats.items()}
        if self.trainer.world_size > 1:
            stats = {k: v.sum(0) for k, v in stats.items()}
        n = stats["n"]
        var_mu = stats["mu2"] / n - (stats["mu"] / n) ** 2
        active = (var_mu > self.hparams.active_unit_threshold).sum()
        self.log("val/active_units", active.float(), sync_dist=False)
        for i, kl_i in enumerate((stats["kl"] / n).tolist()):
            self.log(f"val/kl_dim/{i:02d}", kl_i, sync_dist=False)

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        """Log ``test/elbo`` and the importance-sampled NLL ``test/nll_iw`` (nats per example)."""
        x, y = split_batch(batch)
        out = self.step(x, y)
        self._log_terms("test", out, x.shape[0])
        nll = self.iw_nll(x, self.hparams.test_iw_samples, self.hparams.test_iw_chunk, y)
        kw = dict(batch_size=x.shape[0], sync_dist=True, on_epoch=True)
        self.log("test/nll_iw", nll.mean(), **kw)
        num_dims = math.prod(self.data_shape)
        bpd = bounds.bits_per_dim(nll.mean(), num_dims, self.likelihood.discrete)
        self.log("test/bpd_iw", bpd, **kw)

    def configure_optimizers(self) -> Any:
        """Finish the partial optimizer (and scheduler) configured in Hydra."""
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": self.scheduler_factory(optimizer)}
