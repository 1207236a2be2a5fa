"""Optional parts of the GAN objective, composed by :class:`genlab.models.gan.GAN`: DiffAugment
on every D input, the LeCam regularizer and ACGAN's auxiliary classification loss.

Each is one config key of the GAN (``model.diffaugment``, ``model.lecam_weight`` /
``model.lecam_decay``, ``model.acgan_weight``); all off by default. :class:`GANTerms` is an
``nn.Module`` registered on the GAN, so LeCam's EMA anchors (buffers) are in the model's state
dict and hence in every checkpoint.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genlab.objectives.acgan import acgan_d_loss, acgan_g_loss
from genlab.objectives.diffaugment import diff_augment, parse_policy
from genlab.objectives.lecam import LeCam


class GANTerms(nn.Module):
    """DiffAugment + LeCam + ACGAN terms.

    Args:
        diffaugment: transforms applied to real and fake D inputs in D and G steps, e.g.
            'color,translation,cutout' (None/'' = off); see ``genlab.objectives.diffaugment``.
        lecam_weight: lambda of the LeCam penalty added to the D loss (0 = off).
        lecam_decay: EMA decay of LeCam's anchors.
        acgan_weight: weight of the auxiliary cross-entropy in the D and G losses (0 = off);
            needs a discriminator with ``aux_classifier: true``.
    """

    def __init__(
        self,
        diffaugment: str | None = None,
        lecam_weight: float = 0.0,
        lecam_decay: float = 0.99,
        acgan_weight: float = 0.0,
    ) -> None:
        super().__init__()
        for key, value in (("lecam_weight", lecam_weight), ("acgan_weight", acgan_weight)):
            if value < 0:
                raise ValueError(f"model.{key} must be >= 0, got {value}.")
        self.policy = parse_policy(diffaugment)
        self.lecam_weight, self.acgan_weight = float(lecam_weight), float(acgan_weight)
        self.lecam = LeCam(lecam_decay) if lecam_weight > 0 else None

    def check(self, discriminator: nn.Module, num_classes: int) -> None:
        """Fail before training when ACGAN is asked for without an auxiliary head or labels."""
        if self.acgan_weight > 0 and not getattr(discriminator, "has_aux_classifier", False):
            raise ValueError(
                "model.acgan_weight > 0 needs a discriminator with an auxiliary classifier; "
                "use model=acgan or set model.discriminator.aux_classifier=true."
            )
        if self.acgan_weight > 0 and num_classes < 1:
            raise ValueError("model.acgan_weight > 0 needs labelled data (data.num_classes > 0).")

    def augment(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        """DiffAugment x (N, C, H, W) in [-1, 1] with the configured policy (identity if off)."""
        if not self.policy or x.dim() != 4:
            return x
        return diff_augment(x, self.policy, generator)

    def d_terms(
        self,
        real_logits: Tensor,
        fake_logits: Tensor,
        real_class_logits: Tensor | None,
        fake_class_logits: Tensor | None,
        real_labels: Tensor | None,
        fake_labels: Tensor | None,
    ) -> dict[str, Tensor]:
        """Unweighted extra D terms by name ('lecam', 'acgan'); add ``weighted`` of them."""
        out: dict[str, Tensor] = {}
        if self.lecam is not None:
            out["lecam"] = self.lecam(real_logits, fake_logits)
        if self.acgan_weight > 0:
            out["acgan"] = acgan_d_loss(
                real_class_logits, real_labels, fake_class_logits, fake_labels
            )
        return out

    def g_terms(self, fake_class_logits: Tensor | None, fake_labels: Tensor | None) -> dict:
        """Unweighted extra G terms by name ('acgan')."""
        if self.acgan_weight > 0:
            return {"acgan": acgan_g_loss(fake_class_logits, fake_labels)}
        return {}

    def weighted(self, terms: dict[str, Tensor]) -> Tensor | float:
        """Sum of ``weight * term`` over ``terms`` (0.0 when empty)."""
        weights = {"lecam": self.lecam_weight, "acgan": self.acgan_weight}
        return sum((weights[k] * v for k, v in terms.items()), 0.0)
