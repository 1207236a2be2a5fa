"""ACGAN's auxiliary classification loss (Odena et al. 2017, eq. 2).

D gets a second head that predicts the class of its input; L_C is the cross-entropy of that
head on the true labels of real images and on the requested labels of generated images.
D minimises ``L_adv + w * (CE(real) + CE(fake))``; G minimises ``L_adv + w * CE(fake)``, so G
is pushed to make images that D classifies as the class it was asked for.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def acgan_d_loss(
    real_class_logits: Tensor, real_labels: Tensor, fake_class_logits: Tensor, fake_labels: Tensor
) -> Tensor:
    """D's auxiliary loss in nats: mean CE on real images + mean CE on (detached) fakes.

    Args:
        real_class_logits, fake_class_logits: class logits (N, K) of D's auxiliary head.
        real_labels: the data labels (N,); fake_labels: the labels G was asked for (N,).
    """
    return F.cross_entropy(real_class_logits, real_labels.long()) + F.cross_entropy(
        fake_class_logits, fake_labels.long()
    )


def acgan_g_loss(fake_class_logits: Tensor, fake_labels: Tensor) -> Tensor:
    """G's auxiliary loss in nats: mean CE of D's class logits (N, K) on the requested labels."""
    return F.cross_entropy(fake_class_logits, fake_labels.long())
