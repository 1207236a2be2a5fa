"""Train the per-channel digit classifier of the Stacked MNIST mode metric and write its weights
into genlab's assets (``src/genlab/assets/mnist5k_classifier.pt``).

Reproducible: fixed seed, deterministic algorithms, CPU, 1 torch thread; the same torch version
gives the same weights. Data: the train split of ``data=mnist5k`` (3,500 real MNIST digits, the
split of seed 0, val 500 / test 1,000); accuracy is measured on its test split (1,000 digits),
which ``data=stacked_mnist`` stacks for its test images. Net: genlab's ``DigitsNet``. Adam 1e-3,
batch 64, cosine schedule, small random shifts (+-2 px) as augmentation.

Usage: python scripts/train_mnist5k_classifier.py [--epochs 15] [--seed 0] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from classifier_training import accuracy, fit

from genlab.data.base import seeded_splits
from genlab.data.mnist5k import NUM_IMAGES, load_mnist5k
from genlab.metrics import digits_net
from genlab.metrics.weights import file_hash

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src/genlab/assets/mnist5k_classifier.pt"


def shift(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Roll each image by a random integer shift in [-2, 2] px per axis (zero-filled border)."""
    out = torch.zeros_like(x)
    pad = F.pad(x, (2, 2, 2, 2))
    dx, dy = torch.randint(0, 5, (2, x.shape[0]), generator=generator)
    for i in range(x.shape[0]):
        out[i] = pad[i, :, dy[i] : dy[i] + 28, dx[i] : dx[i] + 28]
    return out


def train(epochs: int, seed: int) -> tuple[digits_net.DigitsNet, dict]:
    """Train on mnist5k's train split; return the net and a summary (accuracies, settings)."""
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    raw, labels = load_mnist5k()
    images = raw.float() / 255.0
    parts = seeded_splits(NUM_IMAGES, 500, 1000, 0, "mnist5k/split")
    x_tr, y_tr = images[parts["train"]], labels[parts["train"]]
    x_te, y_te = images[parts["test"]], labels[parts["test"]]

    def report(epoch: int, loss: float) -> None:
        print(f"epoch {epoch}: loss {loss:.4f} test acc {accuracy(model, x_te, y_te):.4f}")

    model = digits_net.DigitsNet()
    gen = torch.Generator().manual_seed(seed)
    fit(model, x_tr, y_tr, shift, epochs=epochs, lr=1e-3, generator=gen, on_epoch=report)
    summary = {"train_accuracy": accuracy(model, x_tr, y_tr),
               "test_accuracy": accuracy(model, x_te, y_te), "epochs": epochs, "seed": seed,
               "torch": torch.__version__}  # fmt: skip
    return model, summary


def main() -> None:
    """Train and write the weights (and print their hash and accuracies)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    model, summary = train(args.epochs, args.seed)
    torch.save(model.state_dict(), args.out)
    summary["sha256_12"] = file_hash(args.out)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
