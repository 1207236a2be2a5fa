"""The nets' side of :class:`genlab.models.gan.GAN`: calling G and D (labels, float32 logits,
augmentation), the model contract (shapes, ``generate``) and the held-out D logging."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from genlab.contract import split_batch
from genlab.models.ema_standing import STANDING_STREAM, standing_statistics
from genlab.objectives.gan_losses import d_output_mean
from genlab.utils.eval_mode import eval_mode


class GANNets:
    """Mixin of the GAN LightningModule; expects ``generator``, ``discriminator``,
    ``num_classes``, ``augment``, ``loss_fns`` and ``latent_dim`` attributes."""

    generator: nn.Module
    discriminator: nn.Module
    num_classes: int
    augment: Any
    loss_fns: Any
    latent_dim: int

    def _check_nets(
        self, generator: nn.Module, discriminator: nn.Module, truncation_psi: float | None = None
    ) -> None:
        """Check shapes and classes of the nets; set the generator's ``truncation_psi``."""
        if truncation_psi is not None:
            if not hasattr(generator, "truncation_psi"):
                raise ValueError(
                    f"model.truncation_psi={truncation_psi}: {type(generator).__name__} has no "
                    "truncation trick (a style-based generator has, e.g. model=stylegan2)."
                )
            generator.truncation_psi = float(truncation_psi)
        out = tuple(getattr(generator, "data_shape", ()))
        inp = tuple(getattr(discriminator, "data_shape", out))
        if out != inp:
            raise ValueError(
                f"generator data_shape {out} != discriminator data_shape {inp}; "
                "give both nets the same data.image_size / data.channels."
            )
        for name, net in (("generator", generator), ("discriminator", discriminator)):
            net_classes = int(getattr(net, "num_classes", 0) or 0)
            if net_classes and net_classes != self.num_classes:
                raise ValueError(
                    f"model.{name}.num_classes={net_classes} but model.num_classes="
                    f"{self.num_classes}; set both to ${{data.num_classes}} (labelled data)."
                )

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
        self, x: Tensor, labels: Tensor | None, gen: torch.Generator, aux: bool
    ) -> tuple[Tensor, Tensor | None]:
        """D on augment(x): (logits (N,), auxiliary class logits (N, K) when ``aux``)."""
        x = x if self.augment is None else self.augment(x, gen)
        if aux:
            logits, cls = self.discriminator.forward_with_aux(x, self._require_labels(labels))
            return logits.float(), cls.float()
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
        with eval_mode(net):  # no batch-norm statistics updates; outputs independent of batch
            out = self._g(net, z.to(self.device), labels)
        return ((out + 1.0) / 2.0).clamp(0.0, 1.0) if self.is_image_model else out

    def generate(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Samples for z: images (N, C, H, W) in [0, 1] or points (N, 2); the EMA generator
        when EMA is enabled. Runs the net in eval mode, without gradients."""
        return self._run(self.generator_ema or self.generator, z, labels)

    @property
    def has_mapping(self) -> bool:
        """True for a style-based generator (``styles(z, labels)`` and ``synthesis(ws)``)."""
        net = self.generator
        return callable(getattr(net, "styles", None)) and hasattr(net, "synthesis")

    def map_latent(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Styles ws (N, num_ws, w_dim) of z from the sampling generator's mapping network
        (eval mode: truncation as configured, no style mixing), without gradients."""
        net = self.generator_ema or self.generator
        if not self.has_mapping:
            return super().map_latent(z, labels)
        with eval_mode(net):
            labels = self._require_labels(labels) if self.conditional else None
            ws = net.styles(z.to(self.device).flatten(start_dim=1), labels)
        return ws

    def generate_mapped(self, w: Tensor, labels: Tensor | None = None) -> Tensor:
        """Images (N, C, H, W) in [0, 1] for styles ``w`` (from ``map_latent``)."""
        net = self.generator_ema or self.generator
        if not self.has_mapping:
            return super().generate_mapped(w, labels)
        with eval_mode(net):
            out = net.synthesis(w.to(self.device))
        return ((out + 1.0) / 2.0).clamp(0.0, 1.0)

    def generate_raw(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Like ``generate`` but always with the trained (non-EMA) generator."""
        return self._run(self.generator, z, labels)

    def _standing_stats(self) -> None:
        """Re-estimate the sampling generator's batch-norm statistics (``standing_stats``
        batches of the data batch size, noise seeded by the G-step counter) before evaluation."""
        num = int(self.hparams.get("standing_stats", 0))
        if num > 0:
            dm = getattr(self.trainer, "datamodule", None)
            gen = self.noise_generator(self.g_steps, STANDING_STREAM)
            standing_statistics(self.generator_ema or self.generator, num,
                                int(getattr(dm, "batch_size", 64)), self.num_classes,
                                noise=gen, device=self.device)  # fmt: skip

    def on_validation_start(self) -> None:
        """Standing statistics (when configured) before the validation samples and metrics."""
        self._standing_stats()

    def on_test_start(self) -> None:
        """Standing statistics (when configured) before the test samples and metrics."""
        self._standing_stats()

    def _eval_step(self, batch: Any, prefix: str) -> None:
        x, y = split_batch(batch)
        x = x * 2.0 - 1.0 if self.is_image_model else x
        logits = self._d(x, y if self.conditional else None)
        mean = d_output_mean(logits, self.loss_fns)
        self.log(f"{prefix}/d_real", mean, on_epoch=True, sync_dist=True)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """Log ``val/d_real``: mean D output on held-out real data. Compared with
        ``train/d_real`` it shows D overfitting the training set (Karras et al. 2020, ADA)."""
        self._eval_step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        """Log ``test/d_real`` (as ``validation_step``); sample metrics run in genlab-eval."""
        self._eval_step(batch, "test")
