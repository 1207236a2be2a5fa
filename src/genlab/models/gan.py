"""One LightningModule for GANs, trained with Lightning's manual-optimization idiom.

Steps: one ``training_step`` (one batch) = one discriminator step on that batch, plus one
generator step on every ``n_critic``-th batch. Lightning's ``global_step`` counts optimizer
steps (it advances on every ``opt.step()``), so ``trainer.max_steps`` counts D steps + G steps:
``max_steps = max_g_steps * (n_critic + 1)``. Use ``max_g_steps`` to set the length in
generator steps; the module stops the trainer when it is reached. Counters ``g_steps`` and
``d_steps`` are checkpointed.

Data: images arrive in [0, 1] (N, C, H, W) and are mapped to [-1, 1] for the nets; ``generate``
maps back to [0, 1]. 2D points (N, 2) pass through unchanged.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.strategies import DDPStrategy
from pytorch_lightning.utilities import rank_zero_info
from torch import Tensor, nn

from genlab.models.gan_terms import GANTerms
from genlab.objectives.diffaugment import parse_policy
from genlab.objectives.gan_losses import d_output_mean, get_loss
from genlab.objectives.penalties import gradient_penalty, r1_penalty
from genlab.utils.checks import raise_if_not_finite
from genlab.utils.ema import ema_beta, ema_update

NOISE_D, NOISE_G, NOISE_GP = 0, 1, 2  # independent noise streams per step
LABELS_D, AUG_D, LABELS_G, AUG_G = 3, 4, 5, 6  # fake labels and DiffAugment draws
PARTIALS = ("optimizer_g", "optimizer_d", "scheduler_g", "scheduler_d")


def noise_seed(seed: int, rank: int, step: int, stream: int) -> int:
    """Return a 63-bit seed hashed from (seed, rank, step, stream) with numpy's SeedSequence:
    training noise differs across DDP ranks, and is reproducible and resumable."""
    state = np.random.SeedSequence([seed, rank, step, stream]).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))


@dataclasses.dataclass
class GANStepOutput:
    """Detached scalars of one training step (returned as a dict to callbacks)."""

    d_loss: Tensor
    d_real: Tensor
    d_fake: Tensor
    g_loss: Tensor | None = None
    gp: Tensor | None = None
    terms: dict[str, Tensor] = dataclasses.field(default_factory=dict)


def _grad_norm(module: nn.Module) -> Tensor:
    """Total L2 norm of the gradients of ``module``'s parameters (before clipping)."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    return torch.nn.utils.get_total_norm(grads) if grads else torch.zeros(())


class GAN(pl.LightningModule):
    """GAN with pluggable nets, losses (``loss``), penalties, ``n_critic`` and generator EMA.

    Args:
        generator: nn.Module with ``latent_dim`` and ``output_shape``; images in [-1, 1].
        discriminator: nn.Module mapping data to logits (N,).
        optimizer_g, optimizer_d: partial optimizers (Hydra ``_partial_: true``), called with
            ``params=``.
        scheduler_g, scheduler_d: optional partial LR schedulers, stepped once per G step and
            once per D step respectively.
        loss: a name in ``genlab.objectives.gan_losses.LOSSES``.
        n_critic: discriminator steps (batches) per generator step.
        gp_weight: WGAN-GP penalty weight lambda (0 = off). r1_gamma: R1 weight (0 = off).
        max_g_steps: stop training after this many generator steps (None = no limit).
        grad_clip_g, grad_clip_d: max gradient L2 norm per net (None = no clipping).
        ema_decay: generator EMA decay (None = no EMA); ema_start_step, ema_rampup: see
            ``genlab.utils.ema.ema_beta``.
        seed: base seed of the training noise; None = the ``seed_everything`` seed.
        num_classes: number of classes (``${data.num_classes}``); > 0 makes the GAN
            class-conditional: its nets take labels, ``generator(z, y)`` and
            ``discriminator(x, y)``; fake labels are drawn uniformly.
        diffaugment, lecam_weight, lecam_decay, acgan_weight: see
            :class:`genlab.models.gan_terms.GANTerms` (all off by default).
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        optimizer_g: Callable[..., torch.optim.Optimizer],
        optimizer_d: Callable[..., torch.optim.Optimizer],
        scheduler_g: Callable[..., Any] | None = None,
        scheduler_d: Callable[..., Any] | None = None,
        loss: str = "non_saturating",
        n_critic: int = 1,
        gp_weight: float = 0.0,
        r1_gamma: float = 0.0,
        max_g_steps: int | None = None,
        grad_clip_g: float | None = None,
        grad_clip_d: float | None = None,
        ema_decay: float | None = None,
        ema_start_step: int = 0,
        ema_rampup: bool = False,
        seed: int | None = None,
        num_classes: int = 0,
        diffaugment: str | None = None,
        lecam_weight: float = 0.0,
        lecam_decay: float = 0.99,
        acgan_weight: float = 0.0,
    ) -> None:
        super().__init__()
        # a plain string in hparams (a ListConfig would not load with weights_only=True)
        diffaugment = ",".join(parse_policy(diffaugment)) or None
        # Nets and optimizer/scheduler partials stay out of hparams so checkpoints hold plain
        # values and load with torch.load(weights_only=True); the config recreates them.
        self.save_hyperparameters(logger=False, ignore=["generator", "discriminator", *PARTIALS])
        self._partials = dict(
            zip(PARTIALS, (optimizer_g, optimizer_d, scheduler_g, scheduler_d), strict=True)
        )
        self.automatic_optimization = False
        self.loss_fns = get_loss(loss)
        if n_critic < 1:
            raise ValueError(f"model.n_critic must be >= 1, got {n_critic}.")
        if gp_weight > 0 and any(
            isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d) for m in discriminator.modules()
        ):
            raise ValueError(
                "model.gp_weight > 0 needs a discriminator without batch norm (the "
                "penalty is per example); set model.discriminator.norm=layer|none."
            )
        self._check_shapes(generator, discriminator)
        self.num_classes = int(num_classes or 0)
        self._check_conditioning(generator, discriminator)
        self.terms = GANTerms(diffaugment, lecam_weight, lecam_decay, acgan_weight)
        self.terms.check(discriminator, self.num_classes)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(generator.latent_dim)
        # The EMA copy is a registered submodule: it is in the state dict (so in checkpoints),
        # moves with .to(device), and, having requires_grad=False, is left out of DDP's
        # gradient reducer (no unused-parameter error); every rank applies the same update
        # to identical G weights, so the copies stay identical across ranks.
        self.generator_ema = (
            copy.deepcopy(generator).requires_grad_(False) if ema_decay is not None else None
        )
        self.g_steps = 0
        self.d_steps = 0
        self._noise_gen: torch.Generator | None = None
        self._seed = 0
        self._sched_for: dict[int, Any] = {}

    @staticmethod
    def _check_shapes(generator: nn.Module, discriminator: nn.Module) -> None:
        out = tuple(getattr(generator, "output_shape", ()))
        inp = tuple(getattr(discriminator, "input_shape", out))
        if out != inp:
            raise ValueError(
                f"generator output_shape {out} != discriminator input_shape {inp}; "
                "give both nets the same data.image_size / data.channels."
            )

    def _check_conditioning(self, generator: nn.Module, discriminator: nn.Module) -> None:
        """Nets and ``num_classes`` must agree: conditional nets need model.num_classes."""
        for name, net in (("generator", generator), ("discriminator", discriminator)):
            net_classes = int(getattr(net, "num_classes", 0) or 0)
            if net_classes and net_classes != self.num_classes:
                raise ValueError(
                    f"model.{name}.num_classes={net_classes} but model.num_classes="
                    f"{self.num_classes}; set both to ${{data.num_classes}}."
                )

    @property
    def conditional(self) -> bool:
        """True when the nets take class labels (``num_classes > 0``)."""
        return self.num_classes > 0

    def sample_labels(self, num: int, generator: torch.Generator | None = None) -> Tensor | None:
        """Uniform class labels, int64 (num,), on the module's device; None if unconditional."""
        if not self.conditional:
            return None
        device = generator.device if generator is not None else self.device
        y = torch.randint(0, self.num_classes, (num,), device=device, generator=generator)
        return y.to(self.device)

    def _g(self, net: nn.Module, z: Tensor, y: Tensor | None) -> Tensor:
        return net(z, y) if self.conditional else net(z)

    def _discriminate(
        self, x: Tensor, y: Tensor | None, generator: torch.Generator | None
    ) -> tuple[Tensor, Tensor | None]:
        """DiffAugment x (if configured), then D: (logits (N,), class logits or None)."""
        x = self.terms.augment(x, generator)
        if self.terms.acgan_weight > 0:
            return self.discriminator.forward_with_aux(x, y)
        return (self.discriminator(x, y) if self.conditional else self.discriminator(x)), None

    checkpoint_monitor = None  # ModelMonitorCheckpoint keeps the last checkpoint only

    # ------------------------------------------------------------------ public sampling API
    @property
    def ema_enabled(self) -> bool:
        """True when a generator EMA is kept (``generate`` then uses it)."""
        return self.generator_ema is not None

    @property
    def expected_input_shape(self) -> tuple:
        """Shape of one data example the model trains on: (C, H, W) images or (2,) points."""
        return tuple(self.generator.output_shape)

    @property
    def is_image_model(self) -> bool:
        """True for (C, H, W) data, which is mapped between [0, 1] and the nets' [-1, 1]."""
        return len(self.expected_input_shape) == 3

    def sample_noise(self, num: int, generator: torch.Generator | None = None) -> Tensor:
        """Return z ~ N(0, I), shape (num, latent_dim), on the module's device."""
        device = generator.device if generator is not None else self.device
        z = torch.randn(num, self.latent_dim, device=device, generator=generator)
        return z.to(self.device)

    def _run(self, net: nn.Module, z: Tensor, labels: Tensor | None) -> Tensor:
        if self.conditional and labels is None:  # balanced classes: 0, 1, ..., K-1, 0, ...
            labels = torch.arange(z.shape[0], device=self.device) % self.num_classes
        if labels is not None:
            labels = labels.to(self.device)
        was_training = net.training
        net.eval()  # no batch-norm statistics updates; outputs independent of batch makeup
        with torch.no_grad():
            out = self._g(net, z.to(self.device), labels)
        net.train(was_training)
        return ((out + 1.0) / 2.0).clamp(0.0, 1.0) if self.is_image_model else out

    def generate(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Samples for z: images (N, C, H, W) in [0, 1] or points (N, 2); the EMA generator
        when EMA is enabled. Runs the net in eval mode, without gradients. A conditional GAN
        makes class ``labels`` (N,); None gives the balanced labels 0, 1, ..., K-1, 0, ..."""
        return self._run(self.generator_ema or self.generator, z, labels)

    def generate_raw(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Like ``generate`` but always with the trained (non-EMA) generator."""
        return self._run(self.generator, z, labels)

    # ------------------------------------------------------------------ setup
    def setup(self, stage: str) -> None:
        """Enable DDP's unused-parameter detection before the strategy wraps the model.

        Each backward here uses only one net: the D loss uses detached fakes and G is toggled
        off; the G loss flows through D, whose parameters are toggled off (requires_grad=False)
        and so never get a gradient. With ``find_unused_parameters=False`` DDP's reducer waits
        for those gradients forever and the next step fails with "Expected to have finished
        reduction in the prior iteration" (Lightning issues #20328, #20866). With it True,
        DDP walks the loss graph at each ``manual_backward`` and all-reduces only the
        parameters that took part. The need comes from the model, not from the trainer config
        (``trainer=ddp_cpu`` sets False for the VAEs' speed), so the model turns it on here:
        ``setup`` runs before ``strategy.setup`` wraps the module in DistributedDataParallel.
        """
        strategy = self.trainer.strategy
        if isinstance(strategy, DDPStrategy):
            kwargs = strategy._ddp_kwargs  # DDPStrategy keeps DDP's kwargs here until wrapping
            if not kwargs.get("find_unused_parameters"):
                kwargs["find_unused_parameters"] = True
                rank_zero_info(
                    "GAN: setting DDP find_unused_parameters=True (each backward "
                    "uses only G or only D)."
                )

    def on_fit_start(self) -> None:
        """Create the training-noise generator; its seed comes from ``seed`` or
        ``seed_everything`` (PL_GLOBAL_SEED) and is mixed with the rank per step."""
        base = self.hparams.seed
        if base is None:
            base = int(os.environ.get("PL_GLOBAL_SEED", torch.initial_seed()))
        self._seed = int(base) % 2**63
        self._noise_gen = torch.Generator(device=self.device)

    def noise_generator(self, step: int, stream: int) -> torch.Generator:
        """The training-noise generator, re-seeded for (seed, global_rank, step, stream)."""
        if self._noise_gen is None:
            self.on_fit_start()
        return self._noise_gen.manual_seed(noise_seed(self._seed, self.global_rank, step, stream))

    def configure_optimizers(self) -> Any:
        """Finish the optimizer (and scheduler) partials; returns [opt_g, opt_d] (+ schedulers)."""
        parts = self._partials
        opt_g = parts["optimizer_g"](params=self.generator.parameters())
        opt_d = parts["optimizer_d"](params=self.discriminator.parameters())
        scheds = []
        for opt, partial in ((opt_g, parts["scheduler_g"]), (opt_d, parts["scheduler_d"])):
            if partial is not None:
                scheds.append(partial(optimizer=opt))
        self._sched_for = {id(s.optimizer): s for s in scheds}
        return ([opt_g, opt_d], scheds) if scheds else [opt_g, opt_d]

    def _step_scheduler(self, opt: Any) -> None:
        """Step the scheduler attached to ``opt`` (a LightningOptimizer), if there is one."""
        if not self._sched_for:
            return
        scheds = self.lr_schedulers()
        for sched in scheds if isinstance(scheds, list) else [scheds]:
            if sched.optimizer is opt.optimizer:
                sched.step()

    # ------------------------------------------------------------------ training
    def on_train_batch_start(self, batch: Any, batch_idx: int) -> int | None:
        """Stop (return -1 and set ``trainer.should_stop``) once ``max_g_steps`` is reached."""
        if self.hparams.max_g_steps is not None and self.g_steps >= self.hparams.max_g_steps:
            self.trainer.should_stop = True
            return -1
        return None

    def _to_model_range(self, x: Tensor) -> Tensor:
        return x * 2.0 - 1.0 if self.is_image_model else x

    def _optimize(
        self, opt: Any, loss: Tensor, net: nn.Module, clip: float | None, measure: bool
    ) -> Tensor | None:
        """zero_grad, backward, clip, step; returns the pre-clipping grad norm if ``measure``."""
        opt.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        norm = _grad_norm(net) if measure else None
        if clip is not None:
            self.clip_gradients(opt, gradient_clip_val=clip, gradient_clip_algorithm="norm")
        opt.step()
        return norm

    def _d_step(
        self, real: Tensor, y_real: Tensor | None, opt_d: Any, log: bool
    ) -> tuple[GANStepOutput, Tensor | None]:
        hp = self.hparams
        self.toggle_optimizer(opt_d)
        z = torch.randn(
            real.shape[0],
            self.latent_dim,
            device=self.device,
            generator=self.noise_generator(self.d_steps, NOISE_D),
        )
        y_fake = self.sample_labels(real.shape[0], self.noise_generator(self.d_steps, LABELS_D))
        with torch.no_grad():
            fake = self._g(self.generator, z, y_fake)  # detached fakes: no graph into G
        aug = self.noise_generator(self.d_steps, AUG_D)  # one stream: real, then fake draws
        real_logits, real_cls = self._discriminate(real, y_real, aug)
        fake_logits, fake_cls = self._discriminate(fake, y_fake, aug)
        loss = self.loss_fns.d_loss(real_logits, fake_logits)
        terms = self.terms.d_terms(real_logits, fake_logits, real_cls, fake_cls, y_real, y_fake)
        loss = loss + self.terms.weighted(terms)
        gp = None
        if hp.gp_weight > 0:
            gen = self.noise_generator(self.d_steps, NOISE_GP)
            critic = self.discriminator
            if self.conditional:  # interpolates keep the real labels

                def critic(x: Tensor) -> Tensor:
                    return self.discriminator(x, y_real)

            gp = gradient_penalty(critic, real, fake, generator=gen)
            loss = loss + hp.gp_weight * gp
        if hp.r1_gamma > 0:
            critic_r1 = (
                (lambda x: self.discriminator(x, y_real))
                if self.conditional
                else self.discriminator
            )
            loss = loss + 0.5 * hp.r1_gamma * r1_penalty(critic_r1, real)
        raise_if_not_finite(loss, "discriminator loss", self.global_step)
        norm = self._optimize(opt_d, loss, self.discriminator, hp.grad_clip_d, log)
        self.untoggle_optimizer(opt_d)
        self.d_steps += 1
        self._step_scheduler(opt_d)
        out = GANStepOutput(
            loss.detach(),
            d_output_mean(real_logits, self.loss_fns),
            d_output_mean(fake_logits, self.loss_fns),
            gp=None if gp is None else gp.detach(),
            terms={f"d_{k}": v.detach() for k, v in terms.items()},
        )
        return out, norm

    def _g_step(
        self, batch_size: int, opt_g: Any, log: bool
    ) -> tuple[Tensor, Tensor | None, dict[str, Tensor]]:
        self.toggle_optimizer(opt_g)
        z = torch.randn(
            batch_size,
            self.latent_dim,
            device=self.device,
            generator=self.noise_generator(self.g_steps, NOISE_G),
        )
        y_fake = self.sample_labels(batch_size, self.noise_generator(self.g_steps, LABELS_G))
        fake = self._g(self.generator, z, y_fake)
        fake_logits, fake_cls = self._discriminate(
            fake, y_fake, self.noise_generator(self.g_steps, AUG_G)
        )
        terms = self.terms.g_terms(fake_cls, y_fake)
        loss = self.loss_fns.g_loss(fake_logits) + self.terms.weighted(terms)
        raise_if_not_finite(loss, "generator loss", self.global_step)
        norm = self._optimize(opt_g, loss, self.generator, self.hparams.grad_clip_g, log)
        self.untoggle_optimizer(opt_g)
        if self.generator_ema is not None:  # right after the G step
            beta = ema_beta(
                self.g_steps,
                self.hparams.ema_decay,
                self.hparams.ema_start_step,
                self.hparams.ema_rampup,
            )
            ema_update(self.generator_ema, self.generator, beta)
        self.g_steps += 1
        self._step_scheduler(opt_g)
        if self.hparams.max_g_steps is not None and self.g_steps >= self.hparams.max_g_steps:
            self.trainer.should_stop = True
        return loss.detach(), norm, {f"g_{k}": v.detach() for k, v in terms.items()}

    def _should_log(self) -> bool:
        """True on the batches whose step metrics Lightning sends to the loggers. Each
        ``self.log`` call costs ~1 ms of bookkeeping, several times the step itself for small
        nets, so the module logs only then (same rule as Lightning's ``should_update_logs``)."""
        batches = self.trainer.fit_loop.epoch_loop._batches_that_stepped
        return (batches + 1) % self.trainer.log_every_n_steps == 0 or self.trainer.should_stop

    def training_step(self, batch: Any, batch_idx: int) -> dict[str, Tensor]:
        """One D step on ``batch``; one G step after every ``n_critic``-th D step.
        Returns the step's detached scalars as a dict (see ``GANStepOutput``)."""
        x, y = self._split_batch(batch)
        real = self._to_model_range(x)
        opt_g, opt_d = self.optimizers()
        log = self._should_log()
        out, norm_d = self._d_step(real, y, opt_d, log)
        norm_g = None
        if self.d_steps % self.hparams.n_critic == 0:
            out.g_loss, norm_g, g_terms = self._g_step(real.shape[0], opt_g, log)
            out.terms.update(g_terms)
        if log:
            values = {
                "train/d_loss": out.d_loss,
                "train/d_real": out.d_real,
                "train/d_fake": out.d_fake,
                "train/grad_norm_d": norm_d,
                "train/g_steps": float(self.g_steps),
            }
            if out.g_loss is not None:
                values.update({"train/g_loss": out.g_loss, "train/grad_norm_g": norm_g})
            if out.gp is not None:
                values["train/gp"] = out.gp
            values.update({f"train/{k}": v for k, v in out.terms.items()})
            self.log_dict(values, on_step=True, on_epoch=False)
        return {
            f.name: getattr(out, f.name)
            for f in dataclasses.fields(out)
            if f.name != "terms" and getattr(out, f.name) is not None
        } | out.terms

    def _split_batch(self, batch: Any) -> tuple[Tensor, Tensor | None]:
        """(x, y) of a batch; y is None for an unconditional GAN (labels unused)."""
        if not isinstance(batch, list | tuple):
            batch = (batch,)
        if not self.conditional:
            return batch[0], None
        if len(batch) < 2:
            raise ValueError(
                "a conditional GAN (model.num_classes > 0) needs (x, y) batches with labels."
            )
        return batch[0], batch[1].long()

    def _eval_step(self, batch: Any, prefix: str) -> None:
        x, y = self._split_batch(batch)
        real = self._to_model_range(x)
        logits = self.discriminator(real, y) if self.conditional else self.discriminator(real)
        self.log(
            f"{prefix}/d_real", d_output_mean(logits, self.loss_fns), on_epoch=True, sync_dist=True
        )

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """Log ``val/d_real``: mean D output on held-out real data. Compared with
        ``train/d_real`` it shows D overfitting the training set (Karras et al. 2020, ADA)."""
        self._eval_step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        """Log ``test/d_real`` (as ``validation_step``); sample metrics run in genlab-eval."""
        self._eval_step(batch, "test")

    # ------------------------------------------------------------------ checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store the G/D step counters (weights, EMA and optimizers are saved by Lightning)."""
        checkpoint["gan_steps"] = {"g_steps": self.g_steps, "d_steps": self.d_steps}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Restore the G/D step counters."""
        steps = checkpoint.get("gan_steps", {})
        self.g_steps = int(steps.get("g_steps", 0))
        self.d_steps = int(steps.get("d_steps", 0))
