"""The declared interface between a model and everything that is not the model.

Callbacks (sample grids, reconstructions, interpolations, 2D mode plots, checkpoints), the
sample-quality metrics and ``genlab-eval`` use a model only through :class:`GenerativeModel`.
A new family is a LightningModule that inherits this mixin and fills in the abstract parts;
nothing else in genlab has to change (see ``docs/extending.md``).

Shapes and ranges:
  * ``latent_shape``: the shape of ONE latent, ``(D,)`` for vectors or ``(C, H, W)`` for spatial
    latents; ``sample_noise(n)`` returns ``(n, *latent_shape)``.
  * ``data_shape``: the shape of ONE example, ``(C, H, W)`` for images or ``(2,)`` for 2D points.
  * ``generate`` returns values in ``data_range``: images in [0, 1] (the datamodules' range);
    2D points are unbounded (``data_range`` is then ``None``).
  * labels: int64 ``(n,)`` class indices in ``[0, num_classes)``; ``None`` for unconditional
    models, which ignore any labels they are given.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor


class GenerativeModel(ABC):
    """Mixin for genlab LightningModules: ``class VAE(GenerativeModel, pl.LightningModule)``.

    Class attributes a family may override:
        checkpoint_monitor: ``(metric, mode)`` for the "best" checkpoint, e.g.
            ``("val/elbo", "max")``; None keeps only the last checkpoint.
        data_binarize: the ``data.binarize`` the model needs (``"none"``: grey values, as GANs
            and Gaussian likelihoods want); None = whatever the data config says.
        can_encode: True when ``encode``/``reconstruct`` are implemented (autoencoders).
        prior_informative: False when ``sample_noise`` draws from a prior that was not fitted to
            the data (VQ-VAE's uniform prior over codes): its samples say nothing about the
            model, so genlab-train skips the sample-quality metrics (FID/IS/KID/PR), saying so.
    """

    checkpoint_monitor: tuple[str, str] | None = None
    data_binarize: str | None = None
    can_encode: bool = False
    prior_informative: bool = True
    #: names of ``configure_optimizers``' optimizers, in order (logged as ``lr/<name>``)
    optimizer_names: tuple[str, ...] = ()
    #: vector-quantized models: a codebook whose usage the codebook callback plots
    has_codebook: bool = False
    #: number of classes the model is conditioned on; 0 = unconditional. Set in __init__.
    num_classes: int = 0
    #: discrete-latent models: code histogram (K,) of the last validation epoch; else None
    code_counts: Tensor | None = None
    #: False when ``generate`` snaps latents to discrete codes (VQ-VAE): latent paths are then
    #: piecewise constant, so path metrics (the perceptual path length) are refused
    continuous_latent: bool = True

    # ----- what every family declares -----------------------------------------------------
    @property
    @abstractmethod
    def latent_shape(self) -> tuple[int, ...]:
        """Shape of one latent: (D,) or (C, H, W)."""

    @property
    @abstractmethod
    def data_shape(self) -> tuple[int, ...]:
        """Shape of one data example the networks take: (C, H, W) or (2,)."""

    @abstractmethod
    def generate(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Return samples for latents ``z`` (n, *latent_shape): (n, *data_shape) in
        ``data_range``; eval mode, no gradients. ``labels`` (n,) for conditional models."""

    # ----- defaults every family can keep ---------------------------------------------------
    @property
    def conditional(self) -> bool:
        """True when the model takes class labels (``num_classes > 0``)."""
        return self.num_classes > 0

    @property
    def is_image_model(self) -> bool:
        """True for (C, H, W) data; image callbacks and FID/IS/KID skip other data."""
        return len(self.data_shape) == 3

    @property
    def data_range(self) -> tuple[float, float] | None:
        """Range of ``generate``'s output: (0, 1) for images, None for unbounded 2D points."""
        return (0.0, 1.0) if self.is_image_model else None

    @property
    def has_ema(self) -> bool:
        """True when ``generate`` uses an averaged copy of the weights (see ``generate_raw``)."""
        return False

    @property
    def has_mapping(self) -> bool:
        """True when a mapping network z -> w exists (``map_latent`` / ``generate_mapped``;
        style-based generators): the perceptual path length can then be measured in w."""
        return False

    def map_latent(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Return the intermediate latents w of ``z`` (style-based generators only)."""
        raise NotImplementedError(f"{type(self).__name__} has no mapping network (has_mapping)")

    def generate_mapped(self, w: Tensor, labels: Tensor | None = None) -> Tensor:
        """Return samples for intermediate latents ``w`` (from ``map_latent``), as ``generate``."""
        raise NotImplementedError(f"{type(self).__name__} has no mapping network (has_mapping)")

    def sample_noise(self, num: int, generator: torch.Generator | None = None) -> Tensor:
        """Return prior latents z ~ N(0, I), (num, *latent_shape), on the module's device.

        ``generator`` (a CPU ``torch.Generator``) makes the draw reproducible; families with
        another prior (e.g. discrete codes) override this."""
        z = torch.randn(num, *self.latent_shape, generator=generator)
        return z.to(self.device)  # type: ignore[attr-defined]

    def sample_labels(self, num: int, generator: torch.Generator | None = None) -> Tensor | None:
        """Return ``num`` labels drawn uniformly from [0, num_classes) (int64, on the module's
        device), or None for unconditional models."""
        if not self.conditional:
            return None
        labels = torch.randint(0, self.num_classes, (num,), generator=generator)
        return labels.to(self.device)  # type: ignore[attr-defined]

    def grid_labels(self, num_per_class: int) -> Tensor | None:
        """Return labels 0,0,..,1,1,.. (``num_per_class`` of each class, one grid row per class)
        for sample grids, or None for unconditional models."""
        if not self.conditional:
            return None
        labels = torch.arange(self.num_classes).repeat_interleave(num_per_class)
        return labels.to(self.device)  # type: ignore[attr-defined]

    def generate_raw(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Samples from the trained (non-averaged) weights; equals ``generate`` without EMA."""
        return self.generate(z, labels)

    def encode(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """Return latents for data ``x`` (B, *latent_shape); only when ``can_encode``."""
        raise NotImplementedError(f"{type(self).__name__} cannot encode (can_encode=False)")

    def reconstruct(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """Return reconstructions of ``x`` in ``data_range``; only when ``can_encode``."""
        return self.generate(self.encode(x, labels), labels)


def require_generative(model: object, who: str) -> GenerativeModel:
    """Return ``model`` if it implements :class:`GenerativeModel`, else raise a TypeError that
    names ``who`` needs it and how to fix it."""
    if isinstance(model, GenerativeModel):
        return model
    raise TypeError(
        f"{who} needs a model implementing genlab.contract.GenerativeModel; "
        f"{type(model).__name__} does not. Inherit it (class MyModel(GenerativeModel, "
        "pl.LightningModule)) and define latent_shape, data_shape and generate, or switch the "
        "callback off (callbacks=none / metrics=none). See docs/extending.md."
    )


def split_batch(batch: object) -> tuple[Tensor, Tensor | None]:
    """Return ``(x, y)`` of a batch: ``(x, y)`` tuples/lists, or a bare tensor ``x`` (y None)."""
    if isinstance(batch, list | tuple):
        return batch[0], (batch[1] if len(batch) > 1 else None)
    return batch, None  # type: ignore[return-value]
