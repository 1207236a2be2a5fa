"""Building blocks for class-conditional GAN nets.

* :class:`ConditionalBatchNorm2d` (de Vries et al. 2017; Miyato & Koyama 2018): batch norm
  without its own affine, followed by a per-class scale and shift looked up from embeddings.
* :class:`ConditionalHead`: a discriminator's last layer on pooled features ``h`` (N, F): the
  unconditional logit ``psi(h) = w^T h + b``, plus the projection term ``<embed(y), h>``
  (Miyato & Koyama 2018, eq. 3) and/or an auxiliary classifier ``W_c h`` (ACGAN, Odena et al.
  2017).

Labels are int64 class indices (N,) in [0, num_classes).
"""

from __future__ import annotations

from torch import Tensor, nn


def check_labels(y: Tensor | None, num_classes: int, who: str) -> Tensor:
    """Return ``y`` as a long tensor, or raise ValueError when it is missing or out of range.

    Args:
        y: class labels (N,) or None; num_classes: number of classes K; who: net name for
            the message.
    """
    if y is None:
        raise ValueError(
            f"{who} is class-conditional (num_classes={num_classes}) and needs labels y; "
            "use labelled data (data.num_classes > 0) or an unconditional model (model=dcgan)."
        )
    y = y.long()
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(
            f"{who}: labels must be in [0, {num_classes}), got [{int(y.min())}, {int(y.max())}]; "
            "set model num_classes to data.num_classes."
        )
    return y


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm2d(affine=False) then ``gamma[y] * x_hat + beta[y]`` per class.

    Scales start at 1 and shifts at 0, so at initialisation the layer equals plain batch norm.
    """

    def __init__(self, num_features: int, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.bn = nn.BatchNorm2d(num_features, affine=False)
        self.gamma = nn.Embedding(num_classes, num_features)
        self.beta = nn.Embedding(num_classes, num_features)
        nn.init.ones_(self.gamma.weight)
        nn.init.zeros_(self.beta.weight)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """Normalise x (N, C, H, W) and apply class ``y``'s (N,) scale and shift."""
        y = check_labels(y, self.num_classes, "ConditionalBatchNorm2d")
        h = self.bn(x)
        return self.gamma(y)[:, :, None, None] * h + self.beta(y)[:, :, None, None]


class ConditionalHead(nn.Module):
    """D's output layer on features h (N, F): unconditional logit + optional projection term,
    and an optional auxiliary class-logit layer.

    Args:
        num_features: F. num_classes: K (0 = unconditional head only).
        projection: add ``<embed(y), h>`` to the logit (needs y).
        aux_classifier: also return class logits (N, K) (ACGAN).
    """

    def __init__(
        self, num_features: int, num_classes: int, projection: bool, aux_classifier: bool
    ) -> None:
        super().__init__()
        if (projection or aux_classifier) and num_classes < 1:
            raise ValueError(
                "a projection / auxiliary-classifier discriminator needs num_classes >= 1; "
                "set model num_classes (normally ${data.num_classes}) on labelled data."
            )
        self.num_classes = num_classes
        self.linear = nn.Linear(num_features, 1)
        self.embed = nn.Embedding(num_classes, num_features) if projection else None
        self.classifier = nn.Linear(num_features, num_classes) if aux_classifier else None

    def forward(self, h: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Return (logits (N,), class logits (N, K) or None) for features h (N, F)."""
        logits = self.linear(h).flatten()
        if self.embed is not None:
            y = check_labels(y, self.num_classes, "projection discriminator")
            logits = logits + (self.embed(y) * h).sum(dim=1)
        class_logits = self.classifier(h) if self.classifier is not None else None
        return logits, class_logits


class ConditionalDiscriminatorMixin:
    """Shared API of conditional discriminators: ``features(x)`` (N, F) and ``head``.

    ``forward(x, y)`` returns the adversarial logits (N,) only, so losses and penalties that
    call ``discriminator(x)`` work unchanged; ``forward_with_aux(x, y)`` also returns the class
    logits (N, K) of an auxiliary classifier (None without one).
    """

    head: ConditionalHead

    def features(self, x: Tensor) -> Tensor:  # pragma: no cover - implemented by subclasses
        raise NotImplementedError

    @property
    def has_aux_classifier(self) -> bool:
        """True when the head has an ACGAN auxiliary classifier."""
        return self.head.classifier is not None

    def forward_with_aux(self, x: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Return (logits (N,), class logits (N, K) or None) for images x in [-1, 1]."""
        return self.head(self.features(x), y)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Return one logit per example, shape (N,)."""
        return self.forward_with_aux(x, y)[0]


def replace_batchnorm(module: nn.Module, num_classes: int) -> None:
    """Replace every ``nn.BatchNorm2d`` child of ``module`` (recursively) by a
    :class:`ConditionalBatchNorm2d` of the same width, in place."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(module, name, ConditionalBatchNorm2d(child.num_features, num_classes))
        else:
            replace_batchnorm(child, num_classes)


def run_with_labels(layers: nn.Sequential, h: Tensor, y: Tensor) -> Tensor:
    """Apply ``layers`` in order, passing ``y`` to the conditional batch norms."""
    for layer in layers:
        h = layer(h, y) if isinstance(layer, ConditionalBatchNorm2d) else layer(h)
    return h


def init_head(head: ConditionalHead, init: str) -> None:
    """Initialise a head like its backbone: 'dcgan' = N(0, 0.02), 'xavier' = Xavier uniform."""
    for m in (head.linear, head.embed, head.classifier):
        if m is None:
            continue
        if init == "dcgan":
            nn.init.normal_(m.weight, 0.0, 0.02)
        else:
            nn.init.xavier_uniform_(m.weight)
        if getattr(m, "bias", None) is not None:
            nn.init.zeros_(m.bias)
