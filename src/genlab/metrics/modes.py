"""Stacked MNIST mode metrics (Metz et al. 2017; VEEGAN, Srivastava et al. 2017; PacGAN, Lin
et al. 2018, Sec. 5.2): classify each of the three channels of a generated 28x28 image with a
digit classifier, the mode is the triple (1,000 modes), and report

* ``modes_1000``: modes that at least one generated sample falls into (of 1,000);
* ``kl_1000``: KL(p || uniform) in nats of the generated mode histogram p (PacGAN's "reverse
  KL"; 0 = every mode equally often).

The extractor ``stacked_mnist_classifier`` runs genlab's ``DigitsNet`` trained on the train
split of ``data=mnist5k`` (``scripts/train_mnist5k_classifier.py``, weights shipped in
``genlab/assets/mnist5k_classifier.pt``; test accuracy in docs/gan.md) on every channel: features
are the three channels' 128-d features side by side (384-d, for FID), logits (N, 1000) are
log p(d_R) + log p(d_G) + log p(d_B) for mode 100 d_R + 10 d_G + d_B, so argmax = the mode.
Importing this module registers the extractor and the metric
(``metrics.modules=[genlab.metrics.modes]``).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F

from genlab.metrics import digits_net, weights
from genlab.metrics.extractors import (
    ASSETS_DIR,
    ExtractorOutput,
    FeatureExtractor,
    register_extractor,
)
from genlab.metrics.registry import register_metric

WEIGHTS = ASSETS_DIR / "mnist5k_classifier.pt"
NUM_MODES = 1000


def mode_counts(logits: torch.Tensor, num_modes: int = NUM_MODES) -> torch.Tensor:
    """Histogram (num_modes,) int64 of argmax(logits (N, num_modes))."""
    return torch.bincount(logits.argmax(dim=1).cpu(), minlength=num_modes)


def modes_and_kl(counts: torch.Tensor) -> tuple[int, float]:
    """(modes with count > 0, KL(p || uniform) in nats) of a mode histogram ``counts``."""
    p = counts.double() / counts.sum().clamp_min(1)
    nz = p > 0
    kl = float((p[nz] * (p[nz] * counts.numel()).log()).sum())
    return int(nz.sum()), kl


@register_extractor
class StackedMNISTExtractor(FeatureExtractor):
    """Per-channel digit classifier for 3-channel 28x28 images (see the module doc)."""

    name = "stacked_mnist_classifier"
    feature_layers = "3 x penultimate 128-d (FID/KID/PR), 1000 mode log-probabilities (IS, modes)"
    datasets = ("stacked_mnist",)
    num_features = 3 * digits_net.NUM_FEATURES
    num_classes = NUM_MODES
    resize_mode = "bilinear to 28x28 per channel (torch)"

    def __init__(self, weights_path: str | os.PathLike = WEIGHTS, **_: object) -> None:
        super().__init__()
        path = Path(weights_path)
        if not path.is_file():
            raise FileNotFoundError(
                f"Stacked MNIST classifier weights not found at {path}; regenerate them with "
                "`python scripts/train_mnist5k_classifier.py`"
            )
        self.net = digits_net.DigitsNet()
        self.net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        self.weights_path, self.weights_hash = str(path.resolve()), weights.file_hash(path)
        self.eval()

    def _extract(self, images: torch.Tensor) -> ExtractorOutput:
        if images.shape[1] != 3:
            raise ValueError(f"stacked_mnist_classifier takes 3 channels, got {images.shape[1]}")
        n = images.shape[0]
        x = images.float().div(255.0).reshape(n * 3, 1, *images.shape[-2:])
        feats, logits = self.net.features_and_logits(digits_net.resize_to_input(x))
        lp = F.log_softmax(logits, dim=1).view(n, 3, 10)
        modes = lp[:, 0, :, None, None] + lp[:, 1, None, :, None] + lp[:, 2, None, None, :]
        return ExtractorOutput(feats.reshape(n, -1), modes.reshape(n, NUM_MODES))


@register_metric("modes_1000", keys=("modes_1000", "kl_1000"), needs=("fake_logits",))
def _modes_1000(suite: object, state: dict) -> dict:
    """Modes covered (of 1,000) and KL to uniform of the fakes' classified modes."""
    logits = state["fake_logits"]
    if logits.shape[1] != NUM_MODES:
        raise ValueError(
            f"modes_1000 needs 1,000 mode logits (metrics.extractor=stacked_mnist_classifier); "
            f"the extractor gave {logits.shape[1]}"
        )
    modes, kl = modes_and_kl(mode_counts(logits))
    return {"modes_1000": float(modes), "kl_1000": kl}
