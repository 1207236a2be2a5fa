"""Shared fakes for the metrics and callback tests: a tiny generative module implementing
genlab's sampling contract, a datamodule with ``real_images``, and image sets."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from genlab.contract import GenerativeModel


def smooth_images(
    num: int, channels: int, size: int, seed: int, gamma: float = 1.0
) -> torch.Tensor:
    """Return float (num, channels, size, size) images in [0, 1]: upsampled 4x4 noise blobs with a
    random brightness per image (``gamma`` bends the intensities to make a shifted set)."""
    generator = torch.Generator().manual_seed(seed)
    low = torch.rand(num, channels, 4, 4, generator=generator)
    images = F.interpolate(low, size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1)
    return (images**gamma) * (0.3 + 0.7 * torch.rand(num, 1, 1, 1, generator=generator))


class UInt8Dataset(Dataset):
    """uint8 CHW tensors, the Dataset form torch-fidelity's calculate_metrics accepts."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.images[index]


class TinyGenerator(GenerativeModel, pl.LightningModule):
    """A linear 'generator' of (1, size, size) images that implements only the abstract part of
    genlab's model contract (latent_shape, data_shape, generate): everything else is the
    contract's defaults."""

    def __init__(self, size: int = 16, latent_dim: int = 8, lr: float = 0.1) -> None:
        super().__init__()
        self.size, self.latent_dim, self.lr = size, latent_dim, lr
        self.net = nn.Linear(latent_dim, size * size)
        self.generate_calls = 0

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return (self.latent_dim,)

    @property
    def data_shape(self) -> tuple[int, ...]:
        return (1, self.size, self.size)

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images (N, 1, size, size) in [0, 1]."""
        self.generate_calls += 1
        return torch.sigmoid(self.net(z)).view(-1, 1, self.size, self.size)

    def training_step(self, batch, batch_idx):
        x = batch[0]
        fake = self.generate(self.sample_noise(len(x)))
        return (fake.mean() - x.mean()) ** 2

    def validation_step(self, batch, batch_idx):
        return None

    def test_step(self, batch, batch_idx):
        return None

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


class TinyImageData(pl.LightningDataModule):
    """In-memory images with ``name`` and ``real_images(split, num)`` (float [0, 1])."""

    name = "tiny"

    def __init__(self, size: int = 16, num: int = 64) -> None:
        super().__init__()
        self.images = {
            split: smooth_images(num, 1, size, seed)
            for seed, split in enumerate(("train", "val", "test"))
        }
        self.real_calls: list[tuple[str, int]] = []

    def real_images(self, split: str, num: int, grey: bool = False) -> torch.Tensor:
        self.real_calls.append((split, num))
        return self.images[split][:num].clone()

    def _loader(self, split: str) -> DataLoader:
        return DataLoader(TensorDataset(self.images[split]), batch_size=16)

    def train_dataloader(self):
        return self._loader("train")

    def val_dataloader(self):
        return self._loader("val")

    def test_dataloader(self):
        return self._loader("test")


class TinyConditionalGenerator(TinyGenerator):
    """A conditional TinyGenerator: ``num_classes`` classes, each class adds its own offset."""

    def __init__(self, size: int = 16, latent_dim: int = 8, num_classes: int = 10) -> None:
        super().__init__(size=size, latent_dim=latent_dim)
        self.num_classes = num_classes
        self.class_offset = nn.Embedding(num_classes, size * size)

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images (N, 1, size, size) in [0, 1] for the requested ``labels`` (N,)."""
        self.generate_calls += 1
        labels = self.sample_labels(len(z)) if labels is None else labels  # training_step
        h = self.net(z) + self.class_offset(labels.to(z.device))
        return torch.sigmoid(h).view(-1, 1, self.size, self.size)


class TinyLabelledData(TinyImageData):
    """TinyImageData whose images have labels ``i % num_classes`` (``real_labels``)."""

    def __init__(self, size: int = 16, num: int = 64, num_classes: int = 10) -> None:
        super().__init__(size=size, num=num)
        self.num_classes = num_classes

    def real_labels(self, split: str, num: int) -> torch.Tensor:
        return torch.arange(num) % self.num_classes
