"""One LightningModule for GANs: the D/G alternation, noise, optimizers, clipping and EMA.

What the losses are is configured: ``d_terms`` and ``g_terms`` map names to
:class:`genlab.objectives.gan_terms.GANTerm` modules (adversarial loss, GP, R1, LeCam, ACGAN,
or a user's own), ``augment`` is an optional :class:`genlab.objectives.augment.Augmentation`
applied to every D input. See docs/gan.md.

Steps: one ``training_step`` (one batch) = one D step on that batch, plus one G step after every
``n_critic``-th D step. Lightning's ``global_step`` counts optimizer steps, so
``trainer.max_steps`` counts D + G steps = ``max_g_steps * (n_critic + 1)``; ``max_g_steps``
stops the trainer. The counters ``g_steps`` and ``d_steps`` are checkpointed. Images arrive in
[0, 1] and are mapped to [-1, 1] for the nets (2D points pass unchanged); with
``num_classes > 0`` both nets take labels, and fakes use the real batch's labels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.strategies import DDPStrategy
from pytorch_lightning.utilities import rank_zero_info
from torch import Tensor, nn

from genlab.contract import GenerativeModel, split_batch
from genlab.models.compile import compile_nets
from genlab.models.ema import EMASchedule
from genlab.models.gan_nets import GANNets
from genlab.models.noise import AUG_D_STEP, AUG_G_STEP, D_STEP, G_STEP, NoiseStreams
from genlab.objectives.augment import Augmentation
from genlab.objectives.gan_losses import get_loss
from genlab.objectives.gan_terms import DStep, GANTerm, GStep, apply_terms, check_terms, term_dict
from genlab.utils.finite import raise_if_not_finite
from genlab.utils.ranges import Num, check_ranges

PARTIALS = ("optimizer_g", "optimizer_d", "scheduler_g", "scheduler_d")
COUNTERS = ("g_steps", "d_steps", "g_images")  # checkpointed; g_images: images of G steps
PARTS = ("generator", "discriminator", "d_terms", "g_terms", "augment", *PARTIALS)


class GAN(GANNets, GenerativeModel, pl.LightningModule):
    """GAN with configured nets, D/G terms, augmentation, ``n_critic`` and generator EMA.

    Args:
        generator: nn.Module with ``latent_dim`` and ``data_shape``; output in [-1, 1].
        discriminator: nn.Module mapping data (and labels) to logits (N,).
        optimizer_g, optimizer_d: partial optimizers (``_partial_: true``), called with params.
        d_terms, g_terms: name -> GANTerm for the D and G losses (logged as train/d_<name>,
            train/g_<name>). augment: an Augmentation of every D input, or None.
        scheduler_g, scheduler_d: optional partial LR schedulers, stepped once per G / D step.
        num_classes: label classes fed to both nets (0 = unconditional).
        loss: a name in ``gan_losses.LOSSES``; the adversarial terms' default, and the
            meaning of ``val/d_real`` (a probability for the logistic losses).
        n_critic: D steps (batches) per G step. max_g_steps: stop after this many G steps.
        grad_clip_g, grad_clip_d: max gradient L2 norm per net (None = no clipping).
        ema_decay, ema_start_step, ema_rampup: generator EMA per G step, or ema_halflife_kimg,
            ema_halflife_rampup: StyleGAN2-ADA's half-life in kimg (``genlab.models.ema``).
        standing_stats: batches of BigGAN's standing statistics re-estimated in the sampling
            generator before each validation and test (0 = off; ``models.ema_standing``).
        truncation_psi: sets the generator's ``truncation_psi`` (sampling only; None = the net's).
        seed: base seed of the training noise; None = the ``seed_everything`` seed.
        compile: false, true or a torch.compile mode: compiles G, and D unless a term needs a
            double backward (``GANTerm.double_backward``).

    Gradients are measured and clipped in ``on_before_optimizer_step``: Lightning calls it
    inside ``opt.step()`` after unscaling them under 16-mixed, so norms are the true ones.
    """

    data_binarize = "none"  # GANs learn grey values; genlab-train serves them unbinarized
    RANGES = {
        "num_classes": Num(integer=True, low=0),
        "n_critic": Num(integer=True, low=1),
        "max_g_steps": Num(integer=True, low=1, optional=True),
        "grad_clip_g": Num(low=0, low_open=True, optional=True),
        "grad_clip_d": Num(low=0, low_open=True, optional=True),
        "ema_decay": Num(low=0, high=1, high_open=True, optional=True),
        "ema_start_step": Num(integer=True, low=0),
        "ema_halflife_kimg": Num(low=0, low_open=True, optional=True),
        "ema_halflife_rampup": Num(low=0, low_open=True, optional=True),
        "standing_stats": Num(integer=True, low=0),
        "truncation_psi": Num(optional=True),
        "seed": Num(integer=True, optional=True),
    }
    optimizer_names = ("g", "d")  # configure_optimizers order; logged as lr/g, lr/d

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        optimizer_g: Callable[..., torch.optim.Optimizer],
        optimizer_d: Callable[..., torch.optim.Optimizer],
        d_terms: Mapping[str, GANTerm] | None = None,
        g_terms: Mapping[str, GANTerm] | None = None,
        augment: Augmentation | None = None,
        scheduler_g: Callable[..., Any] | None = None,
        scheduler_d: Callable[..., Any] | None = None,
        num_classes: int = 0,
        loss: str = "non_saturating",
        n_critic: int = 1,
        max_g_steps: int | None = None,
        grad_clip_g: float | None = None,
        grad_clip_d: float | None = None,
        ema_decay: float | None = None,
        ema_start_step: int = 0,
        ema_rampup: bool = False,
        ema_halflife_kimg: float | None = None,
        ema_halflife_rampup: float | None = None,
        standing_stats: int = 0,
        truncation_psi: float | None = None,
        seed: int | None = None,
        compile: bool | str = False,
    ) -> None:
        super().__init__()
        check_ranges(self, **{k: v for k, v in locals().items() if k in self.RANGES})
        if not isinstance(ema_rampup, bool):
            raise TypeError(f"GAN: ema_rampup={ema_rampup!r} must be true or false.")
        if augment is not None and not isinstance(augment, Augmentation):
            raise TypeError(f"model.augment is a {type(augment).__name__}, not an Augmentation.")
        # nets, terms and partials stay out of hparams: checkpoints hold plain values only
        self.save_hyperparameters(logger=False, ignore=list(PARTS))
        self._partials = dict(
            zip(PARTIALS, (optimizer_g, optimizer_d, scheduler_g, scheduler_d), strict=True)
        )
        self.automatic_optimization = False
        self.loss_fns = get_loss(loss)
        self.num_classes, self.n_critic = int(num_classes), int(n_critic)
        self.max_g_steps = None if max_g_steps is None else int(max_g_steps)
        self._check_nets(generator, discriminator, truncation_psi)
        self.generator, self.discriminator = generator, discriminator
        self.d_terms, self.g_terms = term_dict(d_terms, "d_terms"), term_dict(g_terms, "g_terms")
        self.augment = augment
        check_terms(self, d_terms=self.d_terms, g_terms=self.g_terms)
        self.latent_dim = int(generator.latent_dim)
        # The EMA copy is a frozen registered submodule: checkpointed, moved with the module and
        # outside DDP's reducer; every rank applies the same update to identical G weights.
        ema_args = (ema_decay, ema_start_step, ema_rampup, ema_halflife_kimg, ema_halflife_rampup)
        self.ema = EMASchedule.from_config(*ema_args)
        self.generator_ema = None if self.ema is None else self.ema.averaged_copy(generator)
        self.noise = NoiseStreams(seed)
        self.g_steps = self.d_steps = self.g_images = 0
        self._sched_for: dict[int, Any] = {}
        self._clip_for: dict[int, tuple[str, nn.Module, float | None]] = {}
        self._grad_norms: dict[str, Tensor] = {}
        self._measure = False
        double = any(t.double_backward for t in (*self.d_terms.values(), *self.g_terms.values()))
        compile_nets(compile, generator=generator, discriminator=None if double else discriminator)

    # ------------------------------------------------------------------ setup
    def setup(self, stage: str) -> None:
        """Turn on DDP's ``find_unused_parameters`` before the strategy wraps the model: each
        backward uses one net only (Lightning #20328, #20866); ``_ddp_kwargs`` is private (no
        public setter exists between instantiation and wrapping; see docs/extending.md)."""
        strategy = self.trainer.strategy
        if isinstance(strategy, DDPStrategy) and not strategy._ddp_kwargs.get(
            "find_unused_parameters"
        ):
            strategy._ddp_kwargs["find_unused_parameters"] = True
            rank_zero_info("GAN: setting DDP find_unused_parameters=True (G and D alternate).")

    def on_fit_start(self) -> None:
        """Fix the training-noise seed (``seed`` or the ``seed_everything`` seed)."""
        self.noise.start(self.device)

    def noise_generator(self, step: int, stream: int) -> torch.Generator:
        """The training-noise generator, re-seeded for (seed, global_rank, step, stream)."""
        return self.noise.get(self.global_rank, step, stream, self.device)

    def configure_optimizers(self) -> Any:
        """Finish the optimizer (and scheduler) partials; returns [opt_g, opt_d] (+ schedulers)."""
        parts, hp = self._partials, self.hparams
        opt_g = parts["optimizer_g"](params=self.generator.parameters())
        opt_d = parts["optimizer_d"](params=self.discriminator.parameters())
        self._clip_for = {
            id(opt_g): ("g", self.generator, hp.grad_clip_g),
            id(opt_d): ("d", self.discriminator, hp.grad_clip_d),
        }
        scheds = [
            p(optimizer=o)
            for o, p in ((opt_g, parts["scheduler_g"]), (opt_d, parts["scheduler_d"]))
            if p
        ]
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

    def on_before_optimizer_step(self, optimizer: Any) -> None:
        """Measure (on logging steps) and clip the gradients of the net ``optimizer`` steps."""
        name, net, clip = self._clip_for[id(getattr(optimizer, "optimizer", optimizer))]
        if self._measure:
            grads = [p.grad for p in net.parameters() if p.grad is not None]
            norm = torch.nn.utils.get_total_norm(grads) if grads else torch.zeros(())
            self._grad_norms[f"grad_norm_{name}"] = norm
        if clip is not None:
            self.clip_gradients(optimizer, gradient_clip_val=clip, gradient_clip_algorithm="norm")

    # ------------------------------------------------------------------ training
    def on_train_batch_start(self, batch: Any, batch_idx: int) -> int | None:
        """Stop (return -1 and set ``trainer.should_stop``) once ``max_g_steps`` is reached."""
        if self.max_g_steps is not None and self.g_steps >= self.max_g_steps:
            self.trainer.should_stop = True
            return -1
        return None

    def _optimize(self, opt: Any, loss: Tensor, what: str) -> None:
        raise_if_not_finite(loss, f"{what} loss", self.global_step)
        opt.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        opt.step()  # -> on_before_optimizer_step: measure and clip

    def _noise(self, num: int, step: int, stream: int) -> Tensor:
        gen = self.noise_generator(step, stream)
        return torch.randn(num, self.latent_dim, device=self.device, generator=gen)

    def _d_step(self, real: Tensor, y: Tensor | None, opt_d: Any) -> dict[str, Tensor]:
        self.toggle_optimizer(opt_d)
        index, aux = self.d_steps, any(t.needs_aux for t in self.d_terms.values())
        z = self._noise(real.shape[0], index, D_STEP)
        with torch.no_grad():
            fake = self._g(self.generator, z, y)  # detached fakes: no graph into G
        gen = self.noise_generator(index, AUG_D_STEP)  # real's draws, then fake's
        real_logits, real_aux = self._discriminate(real, y, gen, aux)
        fake_logits, fake_aux = self._discriminate(fake, y, gen, aux)
        step = DStep(real, fake, y, real_logits, fake_logits, real_aux, fake_aux, index,
                     noise=lambda s: self.noise_generator(index, s),
                     critic=lambda x: self._d(x, y))  # fmt: skip
        loss, logs = apply_terms(self.d_terms, self, step, "d_")
        if self.augment is not None:
            seen = self.augment.observe(real_logits.detach())
            logs.update({k: v.detach() for k, v in seen.items()})
        self._optimize(opt_d, loss, "discriminator")
        self.untoggle_optimizer(opt_d)
        self.d_steps += 1
        self._step_scheduler(opt_d)
        return {"d_loss": loss.detach(), **logs}

    def _g_step(self, y: Tensor | None, num: int, opt_g: Any) -> dict[str, Tensor]:
        self.toggle_optimizer(opt_g)
        index, aux = self.g_steps, any(t.needs_aux for t in self.g_terms.values())
        z = self._noise(num, index, G_STEP)
        gen = self.noise_generator(index, AUG_G_STEP)
        fake = self._g(self.generator, z, y)
        fake_logits, fake_aux = self._discriminate(fake, y, gen, aux)
        step = GStep(z, fake, y, fake_logits, fake_aux, index,
                     noise=lambda s: self.noise_generator(index, s),
                     generate=lambda z2: self._g(self.generator, z2, y))  # fmt: skip
        loss, logs = apply_terms(self.g_terms, self, step, "g_")
        self._optimize(opt_g, loss, "generator")
        self.untoggle_optimizer(opt_g)
        if self.ema is not None:  # right after the G step
            self.ema.update(self.generator_ema, self.generator, self.g_steps, self.g_images, num)
        self.g_steps, self.g_images = self.g_steps + 1, self.g_images + num
        self._step_scheduler(opt_g)
        if self.max_g_steps is not None and self.g_steps >= self.max_g_steps:
            self.trainer.should_stop = True
        return {"g_loss": loss.detach(), **logs}

    def _should_log(self) -> bool:
        """True on the batches whose step metrics reach the loggers (every
        ``trainer.log_every_n_steps`` D steps, on the checkpointed ``d_steps``): each
        ``self.log`` call costs ~1 ms, several times a small net's step."""
        return (self.d_steps + 1) % self.trainer.log_every_n_steps == 0 or self.trainer.should_stop

    def training_step(self, batch: Any, batch_idx: int) -> dict[str, Tensor]:
        """One D step on ``batch``; one G step after every ``n_critic``-th D step. Returns the
        step's detached scalars (``d_loss``, ``g_loss``, ``d_<term>``, diagnostics)."""
        x, y = split_batch(batch)
        y = y if self.conditional else None
        real = x * 2.0 - 1.0 if self.is_image_model else x
        opt_g, opt_d = self.optimizers()
        self._measure, self._grad_norms = self._should_log(), {}
        values = self._d_step(real, y, opt_d)
        if self.d_steps % self.n_critic == 0:
            values.update(self._g_step(y, real.shape[0], opt_g))
        if self._measure:
            logged = {f"train/{k}": v for k, v in {**values, **self._grad_norms}.items()}
            logged["train/g_steps"] = float(self.g_steps)
            self.log_dict(logged, on_step=True, on_epoch=False)
        return values

    # ------------------------------------------------------------------ checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store the step counters (weights, terms' buffers, EMA, optimizers: Lightning)."""
        checkpoint["gan_steps"] = {k: getattr(self, k) for k in COUNTERS}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Restore the step counters (0 for one a checkpoint lacks)."""
        steps = checkpoint.get("gan_steps", {})
        for k in COUNTERS:
            setattr(self, k, int(steps.get(k, 0)))
