"""D and G regularizer terms (``model.d_terms.<name>`` / ``model.g_terms.<name>``): WGAN-GP,
R1 (optionally lazy), LeCam and ACGAN's auxiliary classifier, as :class:`GANTerm` modules around
the pure functions of ``penalties``, ``lecam`` and ``acgan`` (see ``gan_terms`` for the seam)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genlab.objectives.acgan import acgan_d_loss, acgan_g_loss
from genlab.objectives.gan_terms import EVERY, GP_STEP, WEIGHT, DStep, GANTerm, GStep
from genlab.objectives.lecam import debiased, lecam_penalty
from genlab.objectives.penalties import gradient_penalty, r1_penalty
from genlab.utils.ranges import Num, check_ranges


def _has_batchnorm(net: nn.Module) -> bool:
    return any(isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d) for m in net.modules())


class GradientPenalty(GANTerm):
    """WGAN-GP (Gulrajani et al. 2017, Algorithm 1): E[(||grad D(x_hat)||_2 - 1)^2] on random
    interpolates of real and fake (weights from the ``GP_STEP`` noise stream); the usual
    weight is 10. Needs a D without batch norm (the penalty is per example)."""

    double_backward = True

    def __init__(self, weight: float = 10.0, every: int = 1) -> None:
        super().__init__(weight, every)

    def check(self, model: nn.Module) -> None:
        """Refuse a batch-norm discriminator."""
        if _has_batchnorm(model.discriminator):
            raise ValueError(
                "the gradient penalty needs a discriminator without batch norm (the penalty "
                "is per example); set model.discriminator.norm=layer|none."
            )

    def forward(self, model: nn.Module, step: DStep) -> dict[str, Tensor]:
        """{"loss": the unweighted penalty}."""
        gen = step.noise(GP_STEP)
        return {"loss": gradient_penalty(step.critic, step.real, step.fake, generator=gen)}


class R1(GANTerm):
    """R1 (Mescheder et al. 2018): gamma / 2 * E[||grad_x D(x)||^2] on real data, optionally
    lazy (``every`` = StyleGAN2's ``reg_interval``, 16 there; the loss is multiplied by it).
    StyleGAN2 also rescales Adam's lr and betas by every / (every + 1): set those in the
    optimizer config if wanted.

    Args:
        gamma: R1 gamma (>= 0); ``weight`` = gamma / 2.
        every: D steps between two applications (integer >= 1).
    """

    RANGES = {"gamma": WEIGHT, "every": EVERY}
    double_backward = True

    def __init__(self, gamma: float = 10.0, every: int = 1) -> None:
        check_ranges(self, gamma=gamma, every=every)
        super().__init__(0.5 * float(gamma), every)
        self.gamma = float(gamma)

    def forward(self, model: nn.Module, step: DStep) -> dict[str, Tensor]:
        """{"loss": E||grad D(real)||^2}, unweighted."""
        return {"loss": r1_penalty(step.critic, step.real)}


class LeCamTerm(GANTerm):
    """LeCam regularizer (Tseng et al. 2021, eq. 3; one-sided form of google/lecam-gan):
    E[relu(D(x) - a_F)^2] + E[relu(a_R - D(G(z)))^2] with zero-debiased EMA anchors of mean
    D(real) / D(fake), updated with the current batch first (training mode only).

    Buffers (checkpointed): ``ema_real``, ``ema_fake`` (biased EMAs, start at 0), ``num_updates``.

    Args:
        weight: lambda (the paper uses 0.3 on CIFAR-10 with DiffAugment).
        decay: EMA decay of the anchors in [0, 1) (the paper's 0.99).
    """

    RANGES = {"weight": WEIGHT, "decay": Num(low=0, high=1, high_open=True)}

    def __init__(self, weight: float = 0.3, decay: float = 0.99) -> None:
        check_ranges(self, weight=weight, decay=decay)
        super().__init__(weight, 1)
        self.decay = float(decay)
        self.register_buffer("ema_real", torch.zeros(()))
        self.register_buffer("ema_fake", torch.zeros(()))
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))

    @property
    def anchors(self) -> tuple[Tensor, Tensor]:
        """The zero-debiased anchors (a_R, a_F): EMAs of mean D(real) and mean D(fake)."""
        n = int(self.num_updates)
        return debiased(self.ema_real, self.decay, n), debiased(self.ema_fake, self.decay, n)

    @torch.no_grad()
    def update(self, real_logits: Tensor, fake_logits: Tensor) -> None:
        """Move the EMAs towards the batch means of the (detached) logits."""
        d = self.decay
        self.ema_real.mul_(d).add_((1 - d) * real_logits.detach().float().mean())
        self.ema_fake.mul_(d).add_((1 - d) * fake_logits.detach().float().mean())
        self.num_updates += 1

    def forward(self, model: nn.Module, step: DStep) -> dict[str, Tensor]:
        """{"loss": the LeCam penalty (squared logit units)} after the anchor update."""
        if self.training:
            self.update(step.real_logits, step.fake_logits)
        anchor_real, anchor_fake = self.anchors
        return {"loss": lecam_penalty(step.real_logits, step.fake_logits, anchor_real, anchor_fake)}


class _ACGAN(GANTerm):
    RANGES = {"weight": WEIGHT}
    needs_aux = True

    def __init__(self, weight: float = 1.0) -> None:
        super().__init__(weight, 1)

    def check(self, model: nn.Module) -> None:
        """Refuse a D without an auxiliary classifier, or unlabelled data."""
        if not getattr(model.discriminator, "has_aux_classifier", False):
            raise ValueError(
                "the ACGAN term needs a discriminator with an auxiliary classifier; "
                "use model=acgan or set model.discriminator.aux_classifier=true."
            )
        if int(getattr(model, "num_classes", 0)) < 1:
            raise ValueError("the ACGAN term needs labelled data (data.num_classes > 0).")


class ACGAND(_ACGAN):
    """ACGAN (Odena et al. 2017, eq. 2), D side: CE of D's class head on the real labels + CE on
    the fakes' labels (nats); weight 1 in the paper."""

    def forward(self, model: nn.Module, step: DStep) -> dict[str, Tensor]:
        """{"loss": CE(real) + CE(fake)}."""
        y = step.labels
        return {"loss": acgan_d_loss(step.real_aux, y, step.fake_aux, y)}


class ACGANG(_ACGAN):
    """ACGAN, G side: CE of D's class head on the labels G was asked for (nats)."""

    def forward(self, model: nn.Module, step: GStep) -> dict[str, Tensor]:
        """{"loss": CE(fake)}."""
        return {"loss": acgan_g_loss(step.fake_aux, step.labels)}
