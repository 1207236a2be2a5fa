"""The training loop both shipped digit classifiers share (``train_digits_classifier.py`` and
``train_mnist5k_classifier.py``): Adam, a cosine schedule over the epochs, one random order per
epoch and one augmentation call per batch, all drawn from one seeded generator so that the same
torch version and thread count give the same weights.

Written by hand rather than with Lightning: the loop is 15 lines, and the shipped weights hash
must not depend on Lightning's seeding or sampler internals.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def accuracy(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Return the fraction of ``images`` (N, 1, 28, 28) classified as ``labels`` (eval mode)."""
    model.eval()
    with torch.no_grad():
        return float((model(images).argmax(1) == labels).float().mean())


def fit(
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor],
    *,
    epochs: int,
    lr: float,
    generator: torch.Generator,
    batch_size: int = 64,
    on_epoch: Callable[[int, float], None] | None = None,
) -> torch.nn.Module:
    """Train ``model`` with cross-entropy on augmented batches; return it in eval mode.

    ``on_epoch(epoch, last_loss)`` is called after every epoch (1-based epoch, loss in nats of
    the epoch's last batch), e.g. to print held-out accuracy.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(images), generator=generator)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            loss = F.cross_entropy(model(augment(images[batch], generator)), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        scheduler.step()
        if on_epoch is not None:
            on_epoch(epoch + 1, loss.item())
    return model.eval()
