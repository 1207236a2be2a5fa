"""One LightningModule for GANs, trained with Lightning's manual-optimization idiom.

Steps: one ``training_step`` (one batch) = one discriminator step on that batch, plus one
generator step on every ``n_critic``-th batch. Lightning's ``global_step`` counts optimizer
steps (it advances on every ``opt.step()``), so ``trainer.max_steps`` counts D steps + G steps:
``max_steps = max_g_steps * (n_critic + 1)``. Use ``max_g_steps`` to set the length in
generator steps; the module stops the trainer when it is reached. Counters ``g_steps`` and
``d_steps`` are checkpointed.

Data: images arrive in [0, 1] (N, C, H, W) and are mapped to [-1, 1] for the nets; ``generate``
maps back to [0, 1]. 2D points (N, 2) pass through unchanged. Labels: with ``num_classes > 0``
the nets are called as ``generator(z, y)`` and ``discriminator(x, y)``; fakes in a step use the
labels of the real batch, so the class frequencies follow the data.

The parts that are not training logic live in their own units: training-noise streams
(``genlab.models.noise``), penalty composition (``genlab.objectives.penalties``), the
generator EMA (``genlab.models.ema``) and the DDP setting (``setup`` below).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.strategies import DDPStrategy
from pytorch_lightning.utilities import rank_zero_info
from torch import Tensor, nn

from genlab.contract import GenerativeModel, split_batch
from genlab.models.compile import compile_nets
from genlab.models.ema import EMASchedule
from genlab.models.gan_terms import GANTerms
from genlab.models.noise import AUG_D_STEP, AUG_G_STEP, D_STEP, G_STEP, GP_STEP, NoiseStreams
from genlab.models.outputs import GANStepOutput
from genlab.objectives.diffaugment import parse_policy
from genlab.objectives.gan_losses import d_output_mean, get_loss
from genlab.objectives.penalties import DiscriminatorPenalties
from genlab.utils.finite import raise_if_not_finite

PARTIALS = ("optimizer_g", "optimizer_d", "scheduler_g", "scheduler_d")


def _grad_norm(module: nn.Module) -> Tensor:
    """Total L2 norm of the gradients of ``module``'s parameters (before clipping)."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    return torch.nn.utils.get_total_norm(grads) if grads else torch.zeros(())


class GAN(GenerativeModel, pl.LightningModule):
    """GAN with pluggable nets, losses (``loss``), penalties, ``n_critic`` and generator EMA.

    Args:
        generator: nn.Module with ``latent_dim`` and ``data_shape``; images in [-1, 1];
            called as ``generator(z)`` or, when conditional, ``generator(z, y)``.
        discriminator: nn.Module mapping data (and labels, when conditional) to logits (N,).
        optimizer_g, optimizer_d: partial optimizers (Hydra ``_partial_: true``), called with
            ``params=``.
        scheduler_g, scheduler_d: optional partial LR schedulers, stepped once per G step and
            once per D step respectively.
        num_classes: classes of the labels fed to both nets (0 = unconditional).
        loss: a name in ``genlab.objectives.gan_losses.LOSSES``.
        n_critic: discriminator steps (batches) per generator step.
        gp_weight: WGAN-GP penalty weight lambda (0 = off). r1_gamma: R1 weight (0 = off).
        max_g_steps: stop training after this many generator steps (None = no limit).
        grad_clip_g, grad_clip_d: max gradient L2 norm per net (None = no clipping).
        ema_decay: generator EMA decay (None = no EMA); ema_start_step, ema_rampup: see
            ``genlab.models.ema.ema_beta``.
        seed: base seed of the training noise; None = the ``seed_everything`` seed.
        diffaugment, lecam_weight, lecam_decay, acgan_weight: DiffAugment policy, LeCam and
            ACGAN terms, see :class:`genlab.models.gan_terms.GANTerms` (all off by default).
        compile: ``model.compile``: false, true or a torch.compile mode; compiles G and (when
            no gradient penalty needs a double backward, which torch.compile does not support)
            D in place (``genlab.models.compile``); the EMA copy stays eager.

    Mixed precision (``trainer.precision=bf16-mixed|16-mixed``): D's logits are cast to
    float32, so losses and penalties are float32; the penalties' input gradients are taken
    unscaled from them (O(1) values), and Lightning scales the total loss in
    ``manual_backward``. Gradients are measured and clipped in ``on_before_optimizer_step``,
    after Lightning has unscaled them (16-mixed) and before the optimizer step.
    """

    data_binarize = "none"  # GANs learn grey values; genlab-train serves them unbinarized
    optimizer_names = ("g", "d")  # configure_optimizers order; logged as lr/g, lr/d

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        optimizer_g: Callable[..., torch.optim.Optimizer],
        optimizer_d: Callable[..., torch.optim.Optimizer],
        scheduler_g: Callable[..., Any] | None = None,
        scheduler_d: Callable[..., Any] | None = None,
        num_classes: int = 0,
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
        diffaugment: str | None = None,
        lecam_weight: float = 0.0,
        lecam_decay: float = 0.99,
        acgan_weight: float = 0.0,
        compile: bool | str = False,
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
        if num_classes < 0:
            raise ValueError(
                f"model.num_classes must be >= 0 (0 = unconditional), got {num_classes}"
            )
        self.num_classes = int(num_classes)
        self._check_conditioning(generator, discriminator)
        self.terms = GANTerms(diffaugment, lecam_weight, lecam_decay, acgan_weight)
        self.terms.check(discriminator, self.num_classes)
        self.penalties = DiscriminatorPenalties(gp_weight, r1_gamma)
        if self.penalties.per_example and any(
            isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d) for m in discriminator.modules()
        ):
            raise ValueError(
                "model.gp_weight > 0 needs a discriminator without batch norm (the "
                "penalty is per example); set model.discriminator.norm=layer|none."
            )
        self._check_shapes(generator, discriminator)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(generator.latent_dim)
        # The EMA copy is a registered submodule: it is in the state dict (so in checkpoints),
        # moves with .to(device), and, having requires_grad=False, is left out of DDP's
        # gradient reducer; every rank applies the same update to identical G weights.
        self.ema = None if ema_decay is None else EMASchedule(ema_decay, ema_start_step, ema_rampup)
        self.generator_ema = None if self.ema is None else self.ema.averaged_copy(generator)
        self.noise = NoiseStreams(seed)
        self.g_steps = 0
        self.d_steps = 0
        self._sched_for: dict[int, Any] = {}
        self._grad_job: tuple[nn.Module, float | None, bool] | None = None
        self._grad_norm: Tensor | None = None
        d_eager = self.penalties.gp_weight > 0 or self.penalties.r1_gamma > 0
        compile_nets(compile, generator=generator, discriminator=None if d_eager else discriminator)

    @staticmethod
    def _check_shapes(generator: nn.Module, discriminator: nn.Module) -> None:
        out = tuple(getattr(generator, "data_shape", ()))
        inp = tuple(getattr(discriminator, "data_shape", out))
        if out != inp:
            raise ValueError(
                f"generator data_shape {out} != discriminator data_shape {inp}; "
                "give both nets the same data.image_size / data.channels."
            )

    def _check_conditioning(self, generator: nn.Module, discriminator: nn.Module) -> None:
        """Conditional nets need ``model.num_classes`` equal to theirs (and > 0)."""
        for name, net in (("generator", generator), ("discriminator", discriminator)):
            net_classes = int(getattr(net, "num_classes", 0) or 0)
            if net_classes and net_classes != self.num_classes:
                raise ValueError(
                    f"model.{name}.num_classes={net_classes} but model.num_classes="
                    f"{self.num_classes}; set both to ${{data.num_classes}} (labelled data)."
                )

    # ------------------------------------------------------------------ the model contract
    @property
    def latent_shape(self) -> tuple[int, ...]:
        """(latent_dim,): G's input noise."""
        return (self.latent_dim,)

    @property
    def data_shape(self) -> tuple[int, ...]:
        """Shape of one example: (C, H, W) images or (2,) points."""
        return tuple(self.generator.data_shape)

    @property
    def has_ema(self) -> bool:
        """True when a generator EMA is kept (``generate`` then uses it)."""
        return self.generator_ema is not None

    def _g(self, net: nn.Module, z: Tensor, labels: Tensor | None) -> Tensor:
        return net(z) if not self.conditional else net(z, self._require_labels(labels))

    def _d(self, x: Tensor, labels: Tensor | None) -> Tensor:
        """D's logits as float32 (also under autocast: losses and penalties in float32)."""
        if not self.conditional:
            return self.discriminator(x).float()
        return self.discriminator(x, self._require_labels(labels)).float()

    def _discriminate(
        self, x: Tensor, labels: Tensor | None, generator: torch.Generator
    ) -> tuple[Tensor, Tensor | None]:
        """D on DiffAugment(x) (identity when off): (logits (N,), ACGAN class logits or None)."""
        x = self.terms.augment(x, generator)
        if self.terms.acgan_weight > 0:
            logits, aux = self.discriminator.forward_with_aux(x, self._require_labels(labels))
            return logits.float(), aux.float()  # float32 losses under autocast too
        return self._d(x, labels), None

    def _require_labels(self, labels: Tensor | None) -> Tensor:
        if labels is None:
            raise ValueError(
                f"this GAN is class-conditional (model.num_classes={self.num_classes}) and "
                "needs labels: use labelled data (data.num_classes > 0) or set "
                "model.num_classes=0 with unconditional nets."
            )
        return labels.to(self.device).long()

    def _run(self, net: nn.Module, z: Tensor, labels: Tensor | None) -> Tensor:
        was_training = net.training
        net.eval()  # no batch-norm statistics updates; outputs independent of batch makeup
        with torch.no_grad():
            out = self._g(net, z.to(self.device), labels)
        net.train(was_training)
        return ((out + 1.0) / 2.0).clamp(0.0, 1.0) if self.is_image_model else out

    def generate(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Samples for z: images (N, C, H, W) in [0, 1] or points (N, 2); the EMA generator
        when EMA is enabled. Runs the net in eval mode, without gradients."""
        return self._run(self.generator_ema or self.generator, z, labels)

    def generate_raw(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Like ``generate`` but always with the trained (non-EMA) generator."""
        return self._run(self.generator, z, labels)

    # ------------------------------------------------------------------ setup
    def setup(self, stage: str) -> None:
        """Enable DDP's unused-parameter detection before the strategy wraps the model.

        Each backward here uses only one net: the D loss uses detached fakes and G is toggled
        off; the G loss flows through D, whose parameters are toggled off and so never get a
        gradient. With ``find_unused_parameters=False`` DDP's reducer waits for those
        gradients forever (Lightning issues #20328, #20866). The need comes from the model, not
        from the trainer config, so the model turns it on here, before ``strategy.setup``
        wraps the module. ``_ddp_kwargs`` is private (no public setter exists between
        instantiation and wrapping): listed in docs/extending.md.
        """
        strategy = self.trainer.strategy
        if isinstance(strategy, DDPStrategy):
            kwargs = strategy._ddp_kwargs
            if not kwargs.get("find_unused_parameters"):
                kwargs["find_unused_parameters"] = True
                rank_zero_info("GAN: setting DDP find_unused_parameters=True (G and D alternate).")

    def on_fit_start(self) -> None:
        """Fix the training-noise seed (``seed`` or the ``seed_everything`` seed)."""
        self.noise.start(self.device)

    def noise_generator(self, step: int, stream: int) -> torch.Generator:
        """The training-noise generator, re-seeded for (seed, global_rank, step, stream)."""
        return self.noise.get(self.global_rank, step, stream, self.device)

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
        """zero_grad, backward, (measure, clip: see ``on_before_optimizer_step``), step;
        returns the pre-clipping grad norm if ``measure``."""
        opt.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        self._grad_job, self._grad_norm = (net, clip, measure), None
        opt.step()
        self._grad_job = None
        return self._grad_norm

    def on_before_optimizer_step(self, optimizer: Any) -> None:
        """Measure and clip the stepping net's gradients. Lightning calls this inside
        ``opt.step()``, after unscaling them under 16-mixed, so norms and clipping see the
        true gradients."""
        if self._grad_job is None:
            return
        net, clip, measure = self._grad_job
        self._grad_norm = _grad_norm(net) if measure else None
        if clip is not None:
            self.clip_gradients(optimizer, gradient_clip_val=clip, gradient_clip_algorithm="norm")

    def _noise(self, num: int, step: int, stream: int) -> Tensor:
        gen = self.noise_generator(step, stream)
        return torch.randn(num, self.latent_dim, device=self.device, generator=gen)

    def _d_step(
        self, real: Tensor, y: Tensor | None, opt_d: Any, log: bool
    ) -> tuple[GANStepOutput, Tensor | None]:
        self.toggle_optimizer(opt_d)
        z = self._noise(real.shape[0], self.d_steps, D_STEP)
        with torch.no_grad():
            fake = self._g(self.generator, z, y)  # detached fakes: no graph into G
        aug = self.noise_generator(self.d_steps, AUG_D_STEP)  # real's draws, then fake's
        real_logits, real_cls = self._discriminate(real, y, aug)
        fake_logits, fake_cls = self._discriminate(fake, y, aug)
        loss = self.loss_fns.d_loss(real_logits, fake_logits)
        extra = self.terms.d_terms(real_logits, fake_logits, real_cls, fake_cls, y, y)
        loss = loss + self.terms.weighted(extra)
        gen = self.noise_generator(self.d_steps, GP_STEP)
        penalty, terms = self.penalties(lambda x: self._d(x, y), real, fake, generator=gen)
        if penalty is not None:
            loss = loss + penalty
        raise_if_not_finite(loss, "discriminator loss", self.global_step)
        norm = self._optimize(opt_d, loss, self.discriminator, self.hparams.grad_clip_d, log)
        self.untoggle_optimizer(opt_d)
        self.d_steps += 1
        self._step_scheduler(opt_d)
        out = GANStepOutput(
            loss.detach(),
            d_output_mean(real_logits, self.loss_fns),
            d_output_mean(fake_logits, self.loss_fns),
            **{k: v.detach() for k, v in terms.items()},
            lecam=extra["lecam"].detach() if "lecam" in extra else None,
            d_acgan=extra["acgan"].detach() if "acgan" in extra else None,
        )
        return out, norm

    def _g_step(
        self, y: Tensor | None, num: int, opt_g: Any, log: bool
    ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        self.toggle_optimizer(opt_g)
        z = self._noise(num, self.g_steps, G_STEP)
        aug = self.noise_generator(self.g_steps, AUG_G_STEP)
        fake_logits, fake_cls = self._discriminate(self._g(self.generator, z, y), y, aug)
        extra = self.terms.g_terms(fake_cls, y)
        loss = self.loss_fns.g_loss(fake_logits) + self.terms.weighted(extra)
        raise_if_not_finite(loss, "generator loss", self.global_step)
        norm = self._optimize(opt_g, loss, self.generator, self.hparams.grad_clip_g, log)
        self.untoggle_optimizer(opt_g)
        if self.ema is not None:  # right after the G step
            self.ema.update(self.generator_ema, self.generator, self.g_steps)
        self.g_steps += 1
        self._step_scheduler(opt_g)
        if self.hparams.max_g_steps is not None and self.g_steps >= self.hparams.max_g_steps:
            self.trainer.should_stop = True
        acgan = extra["acgan"].detach() if "acgan" in extra else None
        return loss.detach(), norm, acgan

    def _should_log(self) -> bool:
        """True on the batches whose step metrics reach the loggers. Each ``self.log`` call
        costs ~1 ms of bookkeeping, several times the step itself for small nets, so the
        module logs only every ``trainer.log_every_n_steps`` D steps, counted on its own
        checkpointed ``d_steps`` (one per batch, like Lightning's logging counter)."""
        return (self.d_steps + 1) % self.trainer.log_every_n_steps == 0 or self.trainer.should_stop

    def training_step(self, batch: Any, batch_idx: int) -> dict[str, Tensor]:
        """One D step on ``batch``; one G step after every ``n_critic``-th D step.
        Returns the step's detached scalars as a dict (see ``GANStepOutput``)."""
        x, y = split_batch(batch)
        y = y if self.conditional else None
        real = self._to_model_range(x)
        opt_g, opt_d = self.optimizers()
        log = self._should_log()
        out, norm_d = self._d_step(real, y, opt_d, log)
        norm_g = None
        if self.d_steps % self.hparams.n_critic == 0:
            out.g_loss, norm_g, out.g_acgan = self._g_step(y, real.shape[0], opt_g, log)
        values = {f.name: getattr(out, f.name) for f in dataclasses.fields(out)}
        values = {k: v for k, v in values.items() if v is not None}
        if log:
            logged = {f"train/{k}": v for k, v in values.items()}
            logged.update({"train/grad_norm_d": norm_d, "train/g_steps": float(self.g_steps)})
            if norm_g is not None:
                logged["train/grad_norm_g"] = norm_g
            self.log_dict(logged, on_step=True, on_epoch=False)
        return values

    def _eval_step(self, batch: Any, prefix: str) -> None:
        x, y = split_batch(batch)
        logits = self._d(self._to_model_range(x), y if self.conditional else None)
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
