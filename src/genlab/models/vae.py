"""VAE family as one LightningModule whose parts are configured: encoder, decoder, likelihood,
prior, posterior family and objective (ELBO, beta-VAE, IWAE, or any callable returning named
terms, see ``genlab.objectives.vae_objectives``). With ``num_classes > 0`` it is the
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
from genlab.models.step_logging import TermLogger, batch_means, log_many
from genlab.objectives import bounds
from genlab.objectives.likelihoods import Likelihood
from genlab.objectives.posteriors import DiagonalGaussian, Posterior
from genlab.objectives.priors import Prior, StandardNormal
from genlab.objectives.vae_objectives import ELBO
from genlab.utils.finite import raise_if_not_finite
from genlab.utils.ranges import Num, check_ranges

#: an objective: (model, x, y, q, generator) -> {"loss": (B,) or scalar, <name>: diagnostics}
Objective = Callable[..., dict[str, Tensor]]
PARTS = ("encoder", "decoder", "likelihood", "optimizer", "scheduler", "objective")


class VAE(GenerativeModel, pl.LightningModule):
    """Variational autoencoder: q(z | x) from ``posterior(encoder(x))``, p(z) = ``prior``,
    p(x | z) = ``likelihood(decoder(z))``, trained on ``objective``.

    Args:
        encoder: module x -> the posterior family's parameters (``(mu, logvar)`` for the
            diagonal Gaussian), each (B, latent_dim); ``encoder(x, y)`` when conditional.
        decoder: module z -> likelihood parameters (B, C * params_per_channel, H, W);
            ``decoder(z, y)`` when conditional.
        likelihood: observation model p(x | z) (Bernoulli, Gaussian, DiscretizedLogistic).
        optimizer: partial optimizer (Hydra ``_partial_: true``), finished with the parameters.
        latent_dim: size of z.
        objective: callable ``(model, x, y, q, generator) -> terms`` (default ``ELBO()``).
        prior: p(z), a ``genlab.objectives.priors.Prior`` (default N(0, I)).
        posterior: the posterior family (default ``DiagonalGaussian``).
        scheduler: optional partial LR scheduler, stepped per epoch.
        num_classes: classes of the labels fed to encoder and decoder (0 = unconditional; a
            conditional VAE, Sohn et al. 2015, models p(x | y)).
        test_iw_samples: K for the test-time importance-sampled NLL (``test/nll_iw``).
        test_iw_chunk: samples per chunk when computing the test NLL (memory bound).
        active_unit_threshold: a latent dim is active when Cov_x(E_q[z|x]) exceeds this.
        compile: false, true or a torch.compile mode; compiles encoder and decoder in place.

    Mixed precision: the nets run under autocast; the posterior family and ``decode`` cast
    their outputs to float32, so the likelihood, the KL and the importance weights are float32.
    """

    checkpoint_monitor = ("val/elbo", "max")
    can_encode = True
    RANGES = {
        "latent_dim": Num(integer=True, low=1),
        "num_classes": Num(integer=True, low=0),
        "test_iw_samples": Num(integer=True, low=1),
        "test_iw_chunk": Num(integer=True, low=1),
        "active_unit_threshold": Num(low=0),
    }

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        likelihood: Likelihood,
        optimizer: Callable[..., torch.optim.Optimizer],
        latent_dim: int,
        objective: Objective | None = None,
        prior: Prior | None = None,
        posterior: nn.Module | None = None,
        scheduler: Callable[..., Any] | None = None,
        num_classes: int = 0,
        test_iw_samples: int = 1000,
        test_iw_chunk: int = 100,
        active_unit_threshold: float = 0.01,
        compile: bool | str = False,
    ) -> None:
        super().__init__()
        check_ranges(
            self,
            latent_dim=latent_dim,
            num_classes=num_classes,
            test_iw_samples=test_iw_samples,
            test_iw_chunk=test_iw_chunk,
            active_unit_threshold=active_unit_threshold,
        )
        if tuple(encoder.data_shape) != tuple(decoder.data_shape):
            raise ValueError(
                f"encoder expects images {tuple(encoder.data_shape)} but decoder makes "
                f"{tuple(decoder.data_shape)}"
            )
        if objective is not None and not callable(objective):
            raise ValueError(
                f"model.objective={objective!r} is not an objective; pick one with "
                "model/objective=elbo|iwae, or give a node with a _target_ callable "
                "(see genlab/objectives/vae_objectives.py)."
            )
        prior = StandardNormal(latent_dim) if prior is None else prior
        if getattr(prior, "latent_dim", latent_dim) != latent_dim:
            fix = getattr(
                prior,
                "latent_dim_fix",
                f"model.prior.latent_dim={prior.latent_dim}; "
                "set model.prior.latent_dim=${model.latent_dim}",
            )
            raise ValueError(f"model.latent_dim={latent_dim}, but {fix}.")
        # nets, parts and partials stay out of hparams: checkpoints hold plain values only and
        # load with torch.load(weights_only=True); the config recreates them.
        self.save_hyperparameters(logger=False, ignore=[*PARTS, "prior", "posterior"])
        self.encoder, self.decoder, self.likelihood = encoder, decoder, likelihood
        self.prior = prior
        self.posterior = DiagonalGaussian() if posterior is None else posterior
        if hasattr(self.prior, "bind"):  # priors built from the model's own nets (VampPrior)
            self.prior.bind(self)
        if hasattr(self.posterior, "bind"):  # families that use the prior's nets (Ladder VAE)
            self.posterior.bind(self)
        self.objective = objective if objective is not None else ELBO()
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.latent_dim, self.num_classes = int(latent_dim), int(num_classes)
        self.terms_log = TermLogger(self, prog_bar="elbo")
        self._val_stats: dict[str, Tensor] = {}
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

    def sample_noise(self, num: int, generator: torch.Generator | None = None) -> Tensor:
        """Return ``num`` draws of the configured prior, (num, latent_dim)."""
        return self.prior.sample(num, generator=generator).to(self.device)

    def _labels(self, y: Tensor | None) -> tuple[Tensor, ...]:
        """Extra net arguments: (y,) for conditional models, () otherwise."""
        if not self.conditional:
            return ()
        if y is None:
            raise ValueError(
                f"this VAE is conditional (model.num_classes={self.num_classes}) and needs "
                "labels: use labelled data (data.num_classes > 0)."
            )
        return (y.to(self.device).long(),)

    def generate(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Return the decoder's mean images for latents z, (N, C, H, W) in [0, 1]."""
        return self.likelihood.mean(self.decoder(z.to(self.device), *self._labels(labels)))

    def encode(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """Return the posterior means E_q[z | x], (B, latent_dim)."""
        return self.posterior_of(x, labels).mean

    # ----- the parts objectives use -----
    def posterior_of(self, x: Tensor, y: Tensor | None = None) -> Posterior:
        """Return q(z | x) (q(z | x, y) when conditional) for a batch of images in [0, 1]."""
        return self.posterior(self.encoder(x, *self._labels(y)))

    def decode(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """Return the likelihood parameters for latents z (N, D), float32."""
        return self.decoder(z, *self._labels(y)).float()

    def log_px(self, x: Tensor, z: Tensor, y: Tensor | None = None) -> Tensor:
        """Return log p(x | z) in nats: z (B, D) -> (B,), or z (K, B, D) -> (K, B)."""
        if z.dim() == 2:
            return self.likelihood.log_prob(self.decode(z, y), x)
        num = z.shape[0]
        labels = None if y is None else y.repeat(num)
        params = self.decode(z.flatten(0, 1), labels)
        return self.likelihood.log_prob(params, x.repeat(num, 1, 1, 1)).view(num, -1)

    def log_weights(
        self, x: Tensor, y: Tensor | None, q: Posterior, num: int, generator=None
    ) -> Tensor:
        """Return log p(x, z_k) - log q(z_k | x) for ``num`` samples z_k ~ q, (num, B), nats."""
        z, log_q = q.rsample(num, generator=generator)
        return self.log_px(x, z, y) + self.prior.log_prob(z) - log_q

    def step(self, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        """Return the objective's terms on a batch (``loss`` and its diagnostics)."""
        return self._step(x, y)[0]

    def _step(self, x: Tensor, y: Tensor | None) -> tuple[dict[str, Tensor], Posterior]:
        q = self.posterior_of(x, y)  # once per step: validation statistics reuse it
        return self.objective(self, x, y, q, None), q

    @torch.no_grad()
    def iw_nll(self, x: Tensor, num_samples: int, chunk: int, y: Tensor | None = None) -> Tensor:
        """Importance-sampled NLL estimate -log p(x) (-log p(x | y) when conditional), (B,),
        nats: -(logsumexp(log w) - log K), with the configured prior and posterior.

        Samples are drawn in chunks of ``chunk`` to bound memory; the K log-weights are kept
        (K x B floats) and reduced with one logsumexp, so the estimator is exact in K.
        """
        q = self.posterior_of(x, y)
        chunks = [
            self.log_weights(x, y, q, min(chunk, num_samples - start))
            for start in range(0, num_samples, chunk)
        ]
        return -bounds.iw_bound(torch.cat(chunks, dim=0))

    # ----- Lightning hooks -----
    def _means(self, terms: dict[str, Tensor]) -> dict[str, Tensor]:
        """Batch means of the terms, plus ``bpd`` (bits/dim of -elbo) when ``elbo`` is one."""
        means = batch_means(terms)
        if "elbo" in means:
            num_dims = math.prod(self.data_shape)
            means["bpd"] = bounds.bits_per_dim(-means["elbo"], num_dims, self.likelihood.discrete)
        return means

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        """One optimization step on the objective; every term it returns is logged."""
        x, y = split_batch(batch)
        terms = self.step(x, y)
        means = self._means(terms)
        raise_if_not_finite(means["loss"], "VAE loss", self.global_step)
        self.terms_log.train_step(means, x.shape[0])
        return means["loss"]

    def on_train_epoch_end(self) -> None:
        """End of a training epoch (the terms were logged per step as ``train/<term>``)."""
        self.terms_log.train_epoch_end()

    def on_validation_epoch_start(self) -> None:
        d = math.prod(self.latent_shape)
        zeros = lambda *s: torch.zeros(*s, dtype=torch.float64, device=self.device)  # noqa: E731
        self._val_stats = {"n": zeros(()), "mu": zeros(d), "mu2": zeros(d), "kl": zeros(d)}

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """Log ``val/<term>`` and accumulate statistics for active units and KL per dim."""
        x, y = split_batch(batch)
        terms, q = self._step(x, y)
        self.terms_log.eval_step("val", self._means(terms), x.shape[0])
        s, mu = self._val_stats, q.mean.detach().double().flatten(1)
        s["n"] += mu.shape[0]
        s["mu"] += mu.sum(0)
        s["mu2"] += (mu**2).sum(0)
        kl_dims = q.analytic_kl(self.prior)
        if kl_dims is not None:
            s["kl"] += kl_dims.detach().double().sum(0)
        else:
            s.pop("kl", None)

    def on_validation_epoch_end(self) -> None:
        """Log ``val/<term>``, active units (Burda et al. 2016) and, when it has a closed form,
        the KL per latent dimension (nats)."""
        self.terms_log.eval_epoch_end("val")
        if not self._val_stats or self._val_stats["n"] == 0:
            return
        stats = {k: self.all_gather(v) for k, v in self._val_stats.items()}
        if self.trainer.world_size > 1:
            stats = {k: v.sum(0) for k, v in stats.items()}
        n = stats["n"]
        var_mu = stats["mu2"] / n - (stats["mu"] / n) ** 2
        active = (var_mu > self.hparams.active_unit_threshold).sum()
        self.log("val/active_units", active.float(), sync_dist=False)
        if "kl" in stats:
            kl = (stats["kl"] / n).float()
            log_many(self, {f"val/kl_dim/{i:02d}": kl[i] for i in range(kl.shape[0])})

    def test_step(self, batch: Any, batch_idx: int) -> None:
        """Log ``test/<term>`` and the importance-sampled NLL ``test/nll_iw`` (nats/example)."""
        x, y = split_batch(batch)
        terms = self.step(x, y)
        self.terms_log.eval_step("test", self._means(terms), x.shape[0])
        nll = self.iw_nll(x, self.hparams.test_iw_samples, self.hparams.test_iw_chunk, y)
        num_dims = math.prod(self.data_shape)
        bpd = bounds.bits_per_dim(nll.mean(), num_dims, self.likelihood.discrete)
        kw = dict(batch_size=x.shape[0], sync_dist=True, on_epoch=True)
        self.log_dict({"test/nll_iw": nll.mean(), "test/bpd_iw": bpd}, **kw)

    def on_test_epoch_end(self) -> None:
        """Log ``test/<term>`` (means over the test set and all ranks)."""
        self.terms_log.eval_epoch_end("test")

    def configure_optimizers(self) -> Any:
        """Finish the partial optimizer (and scheduler) configured in Hydra."""
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": self.scheduler_factory(optimizer)}
