"""GAN terms: the configured parts of the D and G losses (``model.d_terms`` / ``model.g_terms``).

A term is an ``nn.Module`` subclass of :class:`GANTerm`. The GAN module calls
``term(model, step)`` with a :class:`DStep` (discriminator step) or a :class:`GStep` (generator
step); the term returns a mapping with ``loss`` (an unweighted scalar to minimise) and any
named diagnostics (scalars). The module adds ``weight * every * loss`` of the terms that are
active on the step (``step.index % every == 0``: lazy regularization with the loss scaled by
the interval, as StyleGAN2, Karras et al. 2020, NVlabs/stylegan2-ada-pytorch
``training/training_loop.py``: ``gain=phase.interval``), logs each loss as ``train/d_<name>``
or ``train/g_<name>`` and each diagnostic as ``train/<key>``. A term's state (LeCam's anchors)
is a buffer of the term, so it is in the model's state dict and in every checkpoint.

The adversarial terms are here; GP, R1, LeCam and ACGAN are in ``gan_regularizers``. The terms
wrap the pure functions of ``gan_losses``, ``penalties``, ``lecam`` and ``acgan``.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from genlab.objectives.gan_losses import d_output_mean, get_loss
from genlab.utils.ranges import Num, check_ranges

WEIGHT, EVERY = Num(low=0), Num(integer=True, low=1)

#: Noise streams (``step.noise(stream)``; ``genlab.models.noise`` seeds one generator per
#: (seed, rank, step index, stream)): G's input noise in the D and G steps, the GP
#: interpolation weights, the augmentation draws in the D and G steps. The order of draws
#: within a step is fixed, so a run repeats bit for bit and resumes exactly.
D_STEP, G_STEP, GP_STEP, AUG_D_STEP, AUG_G_STEP = 0, 1, 2, 3, 4


def stream_id(name: str) -> int:
    """A noise stream id for a term outside genlab: 1000 + crc32(name) mod 10**6, so it never
    collides with genlab's streams 0-4 and is the same in every process."""
    return 1000 + zlib.crc32(name.encode()) % 10**6


@dataclass
class DStep:
    """What a D term sees. Images are in the nets' range [-1, 1] (points (N, 2) unchanged).

    Attributes:
        real: the real batch (N, ...), not augmented. fake: G's samples (N, ...), detached.
        labels: class labels (N,) (the fakes use the real batch's labels) or None.
        real_logits, fake_logits: D's logits (N,) (float32) on the augmented real / fake inputs.
        real_aux, fake_aux: D's auxiliary class logits (N, K), when a term ``needs_aux``.
        index: the D-step counter (0-based, checkpointed).
        noise: ``noise(stream)`` -> a ``torch.Generator`` seeded for (seed, rank, index, stream).
        critic: ``critic(x)`` -> D's logits (N,) (float32) of x, not augmented, with the labels.
    """

    real: Tensor
    fake: Tensor
    labels: Tensor | None
    real_logits: Tensor
    fake_logits: Tensor
    real_aux: Tensor | None
    fake_aux: Tensor | None
    index: int
    noise: Callable[[int], torch.Generator]
    critic: Callable[[Tensor], Tensor]


@dataclass
class GStep:
    """What a G term sees: z (N, latent_dim), fake = G(z) (N, ...) with its graph, labels (N,)
    or None, fake_logits (N,) / fake_aux (N, K) or None of D on the augmented fakes, index (the
    G-step counter), ``noise(stream)`` and ``generate(z)`` -> G(z) with the step's labels (with
    graph, in [-1, 1])."""

    z: Tensor
    fake: Tensor
    labels: Tensor | None
    fake_logits: Tensor
    fake_aux: Tensor | None
    index: int
    noise: Callable[[int], torch.Generator]
    generate: Callable[[Tensor], Tensor]


class GANTerm(nn.Module):
    """Base of D and G terms.

    Args:
        weight: factor of the term's loss in the total (>= 0).
        every: apply the term on steps with ``index % every == 0`` only, its loss multiplied
            by ``every`` (lazy regularization; integer >= 1).

    Class attributes: ``needs_aux`` (the term reads D's auxiliary class logits),
    ``double_backward`` (the term differentiates D's input gradients: D is then not compiled).
    """

    RANGES = {"weight": WEIGHT, "every": EVERY}
    needs_aux = False
    double_backward = False

    def __init__(self, weight: float = 1.0, every: int = 1) -> None:
        super().__init__()
        check_ranges(self, weight=weight, every=every)
        self.weight, self.every = float(weight), int(every)

    def active(self, index: int) -> bool:
        """True when the term runs on step ``index`` (``index % every == 0``)."""
        return index % self.every == 0

    def check(self, model: nn.Module) -> None:
        """Raise ValueError when the term cannot work with ``model`` (called at construction)."""

    def forward(self, model: nn.Module, step: DStep | GStep) -> dict[str, Tensor]:
        """Return {"loss": unweighted scalar, <diagnostic>: scalar, ...}."""
        raise NotImplementedError


class AdversarialD(GANTerm):
    """D's adversarial loss ``gan_losses.LOSSES[loss].d_loss(real_logits, fake_logits)``.

    Diagnostics ``d_real``, ``d_fake``: mean D output (sigmoid probability for the logistic
    losses, raw critic value otherwise) on real and fake inputs.
    """

    RANGES = {"weight": WEIGHT}

    def __init__(self, loss: str = "non_saturating", weight: float = 1.0) -> None:
        super().__init__(weight, 1)
        self.loss_fns = get_loss(loss)

    def forward(self, model: nn.Module, step: DStep) -> dict[str, Tensor]:
        """{"loss": D loss, "d_real": mean D(real), "d_fake": mean D(fake)}."""
        return {
            "loss": self.loss_fns.d_loss(step.real_logits, step.fake_logits),
            "d_real": d_output_mean(step.real_logits, self.loss_fns),
            "d_fake": d_output_mean(step.fake_logits, self.loss_fns),
        }


class AdversarialG(GANTerm):
    """G's adversarial loss ``gan_losses.LOSSES[loss].g_loss(fake_logits)``."""

    RANGES = {"weight": WEIGHT}

    def __init__(self, loss: str = "non_saturating", weight: float = 1.0) -> None:
        super().__init__(weight, 1)
        self.loss_fns = get_loss(loss)

    def forward(self, model: nn.Module, step: GStep) -> dict[str, Tensor]:
        """{"loss": G loss}."""
        return {"loss": self.loss_fns.g_loss(step.fake_logits)}


def apply_terms(
    terms: Mapping[str, GANTerm], model: nn.Module, step: DStep | GStep, prefix: str
) -> tuple[Tensor, dict[str, Tensor]]:
    """Run the terms active on ``step.index``; return (sum of ``weight * every * loss``, logs).

    Logs (detached): ``<prefix><name>`` -> the term's unweighted loss, and each diagnostic
    under its own key. ValueError when a term returns no ``loss`` or no term is active.
    """
    total: Tensor | None = None
    logs: dict[str, Tensor] = {}
    for name, term in terms.items():
        if not term.active(step.index):
            continue
        out = term(model, step)
        if "loss" not in out:
            raise ValueError(f"GAN term {prefix}{name} returned {sorted(out)}, without 'loss'.")
        weighted = (term.weight * term.every) * out["loss"]
        total = weighted if total is None else total + weighted
        logs[f"{prefix}{name}"] = out["loss"].detach()
        logs.update({k: v.detach() for k, v in out.items() if k != "loss"})
    if total is None:
        raise ValueError(f"no {prefix}* GAN term is active on step {step.index}.")
    return total, logs


def term_dict(terms: Mapping[str, Any] | None, key: str) -> nn.ModuleDict:
    """``model.<key>`` (name -> term) as an ``nn.ModuleDict``, so the terms' buffers are in the
    model's state dict; null entries are dropped (``model.d_terms.gp=null`` switches GP off).
    Refuses a value that is not a :class:`GANTerm`, and an empty mapping."""
    out = {str(k): v for k, v in (terms or {}).items() if v is not None}
    for name, term in out.items():
        if not isinstance(term, GANTerm):
            raise TypeError(f"model.{key}.{name} is a {type(term).__name__}, not a GANTerm.")
    if not out:
        raise ValueError(f"model.{key} is empty; it needs at least the adversarial term (adv).")
    return nn.ModuleDict(out)


def check_terms(model: nn.Module, **groups: Mapping[str, GANTerm]) -> None:
    """Call every term's ``check(model)``; re-raise a ValueError naming ``model.<group>.<name>``."""
    for key, terms in groups.items():
        for name, term in terms.items():
            try:
                term.check(model)
            except ValueError as err:
                raise ValueError(f"model.{key}.{name}: {err}") from None
