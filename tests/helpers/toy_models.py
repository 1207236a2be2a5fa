"""Model families that live outside ``src/``: proof that a family is one module plus one config.

``SpatialAE`` is a tiny autoencoder whose latent is spatial, (C, H/2, W/2); ``CondMLPGenerator``
/ ``CondMLPDiscriminator`` are class-conditional nets for genlab's own GAN module. Tests point
Hydra at a config for them with ``hydra.searchpath`` and nothing under ``src/`` changes.
"""

from __future__ import annotations

import math

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.contract import GenerativeModel, split_batch


class SpatialAE(GenerativeModel, pl.LightningModule):
    """Conv autoencoder with latent (latent_channels, H/2, W/2); MSE loss; images in [0, 1].

    ``generate`` decodes any latent (prior N(0, I) from the contract's ``sample_noise``).
    """

    checkpoint_monitor = ("val/mse", "min")
    can_encode = True

    def __init__(
        self, channels: int = 1, image_size: int = 16, latent_channels: int = 4, lr: float = 1e-2
    ) -> None:
        super().__init__()
        self.save_hyperparameters(logger=False)
        self.encoder = nn.Conv2d(channels, latent_channels, 4, stride=2, padding=1)
        self.decoder = nn.ConvTranspose2d(latent_channels, channels, 4, stride=2, padding=1)

    @property
    def latent_shape(self) -> tuple[int, ...]:
        size = self.hparams.image_size // 2
        return (self.hparams.latent_channels, size, size)

    @property
    def data_shape(self) -> tuple[int, ...]:
        size = self.hparams.image_size
        return (self.hparams.channels, size, size)

    def encode(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.encoder(x.to(self.device))

    def generate(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return torch.sigmoid(self.decoder(z.to(self.device)))

    def _mse(self, batch) -> Tensor:
        x, _ = split_batch(batch)
        return F.mse_loss(self.generate(self.encode(x)), x)

    def training_step(self, batch, batch_idx):
        loss = self._mse(batch)
        self.log("train/mse", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val/mse", self._mse(batch))

    def test_step(self, batch, batch_idx):
        self.log("test/mse", self._mse(batch))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


class CondMLPGenerator(nn.Module):
    """(z, y) -> images (N, C, S, S) in [-1, 1]: an MLP on [z, embedding(y)]."""

    def __init__(
        self, latent_dim: int, num_classes: int, image_size: int, channels: int, hidden: int = 64
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.data_shape = (channels, image_size, image_size)
        self.embed = nn.Embedding(num_classes, latent_dim)
        out = math.prod(self.data_shape)
        self.net = nn.Sequential(
            nn.Linear(2 * latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, out)
        )

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        h = torch.cat([z, self.embed(y)], dim=1)
        return torch.tanh(self.net(h)).view(-1, *self.data_shape)


class CondMLPDiscriminator(nn.Module):
    """(x, y) -> logits (N,): an MLP on x plus a projection term <embedding(y), features>."""

    def __init__(self, num_classes: int, image_size: int, channels: int, hidden: int = 64) -> None:
        super().__init__()
        self.data_shape = (channels, image_size, image_size)
        self.features = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(self.data_shape), hidden))
        self.head = nn.Linear(hidden, 1)
        self.embed = nn.Embedding(num_classes, hidden)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        h = F.leaky_relu(self.features(x), 0.2)
        return self.head(h).flatten() + (self.embed(y) * h).sum(dim=1)
