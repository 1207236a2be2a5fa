"""2D Gaussian-mixture toys for the mode-collapse benchmark (VEEGAN / PacGAN protocol).

Constants follow PacGAN's code (`synthetic_data_experiments/2DRing_GAN&PacGAN/config.py` and
`2DGrid_GAN&PacGAN/config.py`), which reproduces VEEGAN's setting:
- ring2d: 8 modes at (cos 2 pi k/8, sin 2 pi k/8) (radius 1), std 0.01;
- grid2d: 25 modes at {-4, -2, 0, 2, 4}^2 (spacing 2), std 0.05.
Unrolled GAN (Metz et al. 2017) used radius 2 and std 0.02 for the ring: the same problem
scaled by 2, and the metrics (in units of std) are unchanged by the scale.
The training set is a fixed number of points drawn once from ``seed``.
"""

from __future__ import annotations

import math

import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from genlab.data.batched import BatchedTensorDataset, keep_batch
from genlab.data.errors import check_num_classes
from genlab.utils.ranges import Num, check_ranges


def ring_centers(n_modes: int = 8, radius: float = 1.0) -> Tensor:
    """Return (n_modes, 2) centres evenly spaced on a circle of ``radius``."""
    angles = torch.arange(n_modes, dtype=torch.float64) * (2 * math.pi / n_modes)
    return (radius * torch.stack([angles.cos(), angles.sin()], dim=1)).float()


def grid_centers(side: int = 5, spacing: float = 2.0) -> Tensor:
    """Return (side**2, 2) centres on a side x side grid with ``spacing``, centred at 0."""
    coords = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    xs, ys = torch.meshgrid(coords, coords, indexing="ij")
    return torch.stack([xs.flatten(), ys.flatten()], dim=1)


def sample_mixture(
    centers: Tensor, std: float, num: int, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Draw ``num`` points from the equal-weight isotropic mixture; returns (x (num, 2), mode
    labels (num,) int64)."""
    labels = torch.randint(len(centers), (num,), generator=generator)
    noise = torch.randn(num, centers.shape[1], generator=generator)
    return centers[labels] + std * noise, labels


class Toy2DDataModule(pl.LightningDataModule):
    """Yields ``(x, y)``: x (B, 2) float points, y (B,) mode index. Base of ring2d / grid2d."""

    RANGES = {
        "std": Num(low=0, low_open=True),  # a NaN/inf/0 std gave a non-finite loss later
        "num_train": Num(integer=True, low=1),
        "num_val": Num(integer=True, low=1),
        "batch_size": Num(integer=True, low=1),
        "seed": Num(integer=True),
        "num_workers": Num(integer=True, low=0),
        "n_modes": Num(integer=True, low=1),
        "radius": Num(low=0, low_open=True),
        "side": Num(integer=True, low=1),
        "spacing": Num(low=0, low_open=True),
    }

    def __init__(
        self,
        centers: Tensor,
        std: float,
        name: str,
        num_train: int = 100_000,
        num_val: int = 2_500,
        batch_size: int = 100,
        seed: int = 0,
        num_workers: int = 0,
        num_classes: int | None = None,
    ) -> None:
        check_ranges(self, std=std, num_train=num_train, num_val=num_val)
        check_ranges(self, batch_size=batch_size, seed=seed, num_workers=num_workers)
        super().__init__()
        check_num_classes(num_classes, len(centers), name)
        self.centers, self.std, self._name = centers, float(std), name
        self.num_train, self.num_val = num_train, num_val
        self.batch_size, self.seed, self.num_workers = batch_size, seed, num_workers
        self.train_set: BatchedTensorDataset | None = None
        self.val_set: BatchedTensorDataset | None = None

    @property
    def name(self) -> str:
        """Dataset name, e.g. 'ring2d'."""
        return self._name

    @property
    def data_shape(self) -> tuple[int]:
        """Shape of one example: (2,)."""
        return (int(self.centers.shape[1]),)

    @property
    def num_classes(self) -> int:
        """Number of label values: labels are mode indices."""
        return len(self.centers)

    @property
    def num_modes(self) -> int:
        """Number of mixture components."""
        return len(self.centers)

    def real_samples(self, num: int, seed: int | None = None) -> Tensor:
        """Return ``num`` fresh points (num, 2) from the true mixture (seeded if given)."""
        gen = torch.Generator().manual_seed(self.seed + 2 if seed is None else seed)
        return sample_mixture(self.centers, self.std, num, gen)[0]

    def setup(self, stage: str | None = None) -> None:
        """Draw the fixed train / val sets from ``seed`` (same on every DDP rank)."""
        if self.train_set is None:
            gen = torch.Generator().manual_seed(self.seed)
            self.train_set = BatchedTensorDataset(
                *sample_mixture(self.centers, self.std, self.num_train, gen)
            )
            gen = torch.Generator().manual_seed(self.seed + 1)
            self.val_set = BatchedTensorDataset(
                *sample_mixture(self.centers, self.std, self.num_val, gen)
            )

    def train_dataloader(self) -> DataLoader:
        """Shuffled training batches (drop_last keeps every batch the same size)."""
        return DataLoader(
            self.train_set,
            batch_size=self.batch_size,
            shuffle=True,
            drop_last=True,
            num_workers=self.num_workers,
            collate_fn=keep_batch,
        )

    def val_dataloader(self) -> DataLoader:
        """Held-out points, in order."""
        return DataLoader(
            self.val_set,
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            collate_fn=keep_batch,
        )

    def test_dataloader(self) -> DataLoader:
        """Same as the validation set (the toy has no separate test split)."""
        return self.val_dataloader()


class Ring2DDataModule(Toy2DDataModule):
    """8 Gaussians on a circle (PacGAN / VEEGAN ring: radius 1, std 0.01)."""

    def __init__(self, n_modes: int = 8, radius: float = 1.0, std: float = 0.01, **kwargs) -> None:
        check_ranges(self, n_modes=n_modes, radius=radius)
        super().__init__(ring_centers(n_modes, radius), std, name="ring2d", **kwargs)


class Grid2DDataModule(Toy2DDataModule):
    """25 Gaussians on a 5x5 grid (PacGAN / VEEGAN grid: spacing 2, std 0.05)."""

    def __init__(self, side: int = 5, spacing: float = 2.0, std: float = 0.05, **kwargs) -> None:
        check_ranges(self, side=side, spacing=spacing)
        super().__init__(grid_centers(side, spacing), std, name="grid2d", **kwargs)
