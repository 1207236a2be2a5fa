"""scikit-learn's bundled 8x8 handwritten digits: 1,797 real images, no download needed."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from genlab.data.base import ImageDataModule, check_split_sizes, seeded_generator, seeded_splits
from genlab.utils.ranges import Num, check_ranges

NUM_DIGITS = 1797  #: images in sklearn.datasets.load_digits
RESIZE_MODES = ("bilinear", "pad")


def resize_digits(images: torch.Tensor, image_size: int, mode: str) -> torch.Tensor:
    """Bring float images (N, 1, 8, 8) in [0, 1] to (N, 1, image_size, image_size) in [0, 1].

    ``bilinear``: bilinear interpolation (antialiased when shrinking); ``pad``: zero-padding
    that keeps the 8x8 digit centred (one extra pixel right/bottom when the margin is odd).
    """
    if mode == "pad":
        total = image_size - images.shape[-1]
        before = total // 2
        return F.pad(images, (before, total - before, before, total - before))
    resized = TF.resize(
        images, [image_size, image_size], interpolation=InterpolationMode.BILINEAR, antialias=True
    )
    return resized.clamp_(0.0, 1.0)


def train_subset(indices: torch.Tensor, fraction: float, seed: int) -> torch.Tensor:
    """Return ``round(fraction * len(indices))`` (at least 1) of ``indices``, drawn without
    replacement by a generator seeded from ``seed`` (the same subset on every run and rank),
    in their original order. ``fraction`` 1 returns ``indices`` unchanged."""
    if fraction >= 1.0:
        return indices
    keep = max(1, round(fraction * len(indices)))
    order = torch.randperm(len(indices), generator=seeded_generator(seed, "digits/train_fraction"))
    return indices[order[:keep].sort().values]


class DigitsDataModule(ImageDataModule):
    """The offline default dataset: sklearn digits scaled to [0, 1], resized or padded.

    Images are stored as float32 in [0, 1] (not uint8: the 17 grey levels value/16 are not
    exact in 8 bits, and the whole set is 5.6 MB at 28x28). The train/val/test split is a
    permutation drawn from ``seed``: identical on every run and every DDP rank. After setup,
    ``split_indices[split]`` holds each split's indices into ``load_digits()``.

    ``train_fraction`` in (0, 1] keeps only that share of the training split (rounded, at least
    one image), a subset drawn from ``seed`` (limited-data GAN benchmarks, e.g. ADA on 10 %);
    val and test are unchanged, so scores stay comparable across fractions.
    """

    RANGES = {"train_fraction": Num(low=0, low_open=True, high=1)}

    name = "digits"
    num_channels = 1
    min_image_size = 8
    max_image_size = 64

    def __init__(
        self,
        image_size: int = 28,
        resize: str = "bilinear",
        val_size: int = 250,
        test_size: int = 250,
        train_fraction: float = 1.0,
        **kwargs: Any,
    ) -> None:
        check_ranges(self, train_fraction=train_fraction)
        super().__init__(image_size=image_size, **kwargs)
        self.train_fraction = float(train_fraction)
        if resize not in RESIZE_MODES:
            raise ValueError(
                f"data.resize={resize!r} is not allowed; use one of {'|'.join(RESIZE_MODES)}."
            )
        self.resize = resize
        self.val_size, self.test_size = check_split_sizes(val_size, test_size, NUM_DIGITS)

    def _load_tensors(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Return split -> (float images (N, 1, S, S) in [0, 1], int64 labels)."""
        digits = load_digits()
        images = torch.from_numpy(digits.images).float().div_(16.0).unsqueeze(1)
        images = resize_digits(images, self.image_size, self.resize)
        labels = torch.from_numpy(digits.target).long()
        parts = seeded_splits(len(images), self.val_size, self.test_size, self.seed, "digits/split")
        parts["train"] = train_subset(parts["train"], self.train_fraction, self.seed)
        self.split_indices = parts
        return {split: (images[idx], labels[idx]) for split, idx in parts.items()}

    def protocol(self) -> dict[str, Any]:
        """Return the base protocol plus the resize mode."""
        return {**super().protocol(), "resize": self.resize, "train_fraction": self.train_fraction}
