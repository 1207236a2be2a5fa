"""Train the ``digits_classifier`` feature extractor and write its weights into genlab's assets.

Reproducible: fixed seeds, deterministic algorithms, CPU only; the same torch version and
thread count give the same weights. Data: scikit-learn's bundled digits (1,797 8x8 images,
values 0..16 -> [0, 1]), bilinearly resized to 28x28, stratified 80/20 train/held-out split.
Augmentation: a random affine transform per image (rotation, shift, and a scale that is
sometimes small, so digits zero-padded into a larger canvas by ``data.resize=pad`` are still
recognised), a random contrast scale, and a random Bernoulli binarization of some images
(the reference images of binarized data), so generated digits that are off-centre, faint or
binary are still classified.

Usage: python scripts/train_digits_classifier.py [--epochs 60] [--seed 0] [--out PATH]
(default PATH: src/genlab/assets/digits_classifier.pt)
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from classifier_training import accuracy, fit
from sklearn.model_selection import train_test_split

from genlab.metrics import digits_net
from genlab.metrics.weights import file_hash

DEFAULT_OUT = (
    Path(__file__).resolve().parents[1] / "src" / "genlab" / "assets" / "digits_classifier.pt"
)


def random_affine(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Return images warped by one random affine transform each (rotation +-12 deg, scale
    0.75-1.15, or 0.28-0.75 for 30% of them, shift +-12% of the width) and scaled in contrast
    by 0.6-1.0.

    Written by hand because torchvision's RandomAffine draws one transform per call (per batch).
    """
    n = len(images)

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=generator)

    angle = uniform(-12, 12) * math.pi / 180
    small = torch.rand(n, generator=generator) < 0.3
    scale = torch.where(small, uniform(0.28, 0.75), uniform(0.75, 1.15))
    shift = torch.stack([uniform(-0.24, 0.24), uniform(-0.24, 0.24)], dim=1)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    warped = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return warped * uniform(0.6, 1.0).view(n, 1, 1, 1)


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Return :func:`random_affine` images, a quarter of them binarized with ``torch.bernoulli``."""
    warped = random_affine(images, generator)
    binary = torch.bernoulli(warped, generator=generator)
    pick = (torch.rand(len(images), generator=generator) < 0.25).view(-1, 1, 1, 1)
    return torch.where(pick, binary, warped)


def padded(images8: torch.Tensor) -> torch.Tensor:
    """Return 8x8 digits zero-padded (centred) to 28x28, as ``data.resize=pad`` makes them."""
    return F.pad(images8, (10, 10, 10, 10))


def train(epochs: int, seed: int, batch_size: int = 64) -> tuple[digits_net.DigitsNet, dict]:
    """Train the classifier; return it and a summary dict with train/held-out accuracy."""
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    images8, labels = digits_net.load_sklearn_digits()
    images = digits_net.resize_to_input(images8)
    idx_train, idx_test = train_test_split(
        torch.arange(len(labels)).numpy(), test_size=0.2, stratify=labels.numpy(), random_state=seed
    )
    x_train, y_train = images[idx_train], labels[idx_train]
    x_test, y_test = images[idx_test], labels[idx_test]

    def report(epoch: int, loss: float) -> None:
        if epoch % 10 == 0:
            heldout = accuracy(model, x_test, y_test)
            print(f"epoch {epoch}: loss {loss:.4f} held-out acc {heldout:.4f}")

    model = digits_net.DigitsNet()
    generator = torch.Generator().manual_seed(seed)
    fit(model, x_train, y_train, augment, epochs=epochs, lr=2e-3, generator=generator,
        batch_size=batch_size, on_epoch=report)  # fmt: skip
    summary = {
        "train_accuracy": accuracy(model, x_train, y_train),
        "heldout_accuracy": accuracy(model, x_test, y_test),
        "heldout_accuracy_augmented": accuracy(model, random_affine(x_test, generator), y_test),
        "heldout_accuracy_binarized": accuracy(
            model, torch.bernoulli(x_test, generator=generator), y_test
        ),
        "heldout_accuracy_padded_28": accuracy(model, padded(images8[idx_test]), y_test),
        "num_train": len(x_train),
        "num_heldout": len(x_test),
        "epochs": epochs,
        "seed": seed,
    }
    return model, summary


def main() -> None:
    """Parse arguments, train, save the state dict and print the summary as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    model, summary = train(args.epochs, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), args.out)
    summary.update(
        weights=str(args.out), bytes=args.out.stat().st_size, sha256_12=file_hash(args.out)
    )
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
