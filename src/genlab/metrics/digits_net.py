"""The small CNN behind the ``digits_classifier`` feature extractor.

Trained by ``scripts/train_digits_classifier.py`` on scikit-learn's bundled 8x8 digits resized to
28x28; its weights ship in ``genlab/assets/digits_classifier.pt``. This module holds only the
architecture and the data preparation shared by the training script and the extractor, so the two
cannot drift apart.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

INPUT_SIZE = 28
NUM_FEATURES = 128
NUM_CLASSES = 10


class DigitsNet(nn.Module):
    """Three 3x3 conv blocks (28 -> 14 -> 7 -> 3) and a 128-unit hidden layer; ~0.13M parameters.

    Input: float (N, 1, 28, 28) in [0, 1] (ink is high, as in scikit-learn's digits and MNIST).
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.hidden = nn.Linear(64 * 3 * 3, NUM_FEATURES)
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(NUM_FEATURES, NUM_CLASSES)

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (penultimate features (N, 128) after ReLU, logits (N, 10)), both float32."""
        h = F.relu(self.hidden(self.conv(x).flatten(1)))
        return h, self.head(self.dropout(h))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return class logits (N, 10) for float (N, 1, 28, 28) images in [0, 1]."""
        return self.features_and_logits(x)[1]


def resize_to_input(images: torch.Tensor) -> torch.Tensor:
    """Resize float (N, 1, H, W) images to (N, 1, 28, 28) with bilinear interpolation.

    Downsizing uses antialiasing; a 28x28 input is returned unchanged.
    """
    if images.shape[-2:] == (INPUT_SIZE, INPUT_SIZE):
        return images
    down = images.shape[-1] > INPUT_SIZE or images.shape[-2] > INPUT_SIZE
    return F.interpolate(
        images, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False, antialias=down
    )


def load_sklearn_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """Return scikit-learn's 1,797 digits as float (N, 1, 8, 8) images in [0, 1] and int64 labels.

    The raw values 0..16 are divided by 16.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    return images, torch.tensor(bunch.target, dtype=torch.int64)
