"""Feature extractors for the sample-quality metrics: one interface, two networks.

``inception``: torch-fidelity's ``FeatureExtractorInceptionV3`` (the TF1-compatible network and its
TF1-compatible bilinear resize to 299x299). Features are the 2048-d pool features (FID, KID,
precision/recall); logits are the 1008 "unbiased" logits (fc without bias), which is what
torch-fidelity feeds to the Inception Score.

``digits_classifier``: genlab's small CNN trained on scikit-learn's digits (weights shipped in
``genlab/assets``), for FID/IS on ``data=digits`` without network. Features are its 128-d
penultimate layer, logits its 10 class logits.

Both take images as uint8 (N, C, H, W) in [0, 255] or float (N, C, H, W) in [0, 1]; floats are
converted with :func:`genlab.utils.images.to_uint8` (rounding), so real and generated images are
quantized the same way.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple
from unittest import mock

import torch
from torch import nn
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

from genlab.metrics import digits_net, weights
from genlab.utils.images import to_uint8

EXTRACTORS = ("inception", "digits_classifier")
ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
DIGITS_WEIGHTS = ASSETS_DIR / "digits_classifier.pt"


class ExtractorOutput(NamedTuple):
    """Features (N, D) and logits (N, K), float32, on the extractor's device."""

    features: torch.Tensor
    logits: torch.Tensor


def images_to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Return uint8 (N, C, H, W) images; floats must be in [0, 1] and are rounded, not truncated.

    Raises:
        ValueError: wrong rank, dtype, or float values outside [0, 1] (e.g. [-1, 1] GAN output).
    """
    if images.dim() != 4:
        raise ValueError(f"expected images (N, C, H, W), got shape {tuple(images.shape)}")
    if images.dtype == torch.uint8:
        return images
    if not images.is_floating_point():
        raise ValueError(f"images must be uint8 or float in [0, 1], got dtype {images.dtype}")
    low, high = float(images.min()), float(images.max())
    if low < -1e-3 or high > 1 + 1e-3:
        raise ValueError(
            f"float images must be in [0, 1], got values in [{low:.3f}, {high:.3f}]; map [-1, 1] "
            "images with genlab.utils.images.to_unit_range(x, (-1, 1)) first"
        )
    return to_uint8(images, value_range=(0.0, 1.0))


class FeatureExtractor(nn.Module):
    """Base class: ``forward(images) -> ExtractorOutput``; always in eval mode, never trained.

    Attributes: ``name``, ``num_features``, ``num_classes``, ``resize_mode``, ``weights_path``,
    ``weights_hash`` (first 12 hex digits of the weights file's sha256).
    """

    name: str = ""
    num_features: int = 0
    num_classes: int = 0
    resize_mode: str = ""
    weights_path: str = ""
    weights_hash: str = ""

    def train(self, mode: bool = True) -> FeatureExtractor:
        """Keep the network in eval mode whatever is asked (BatchNorm/dropout stay frozen)."""
        return super().train(False)

    @property
    def device(self) -> torch.device:
        """The device of the network's parameters."""
        return next(self.parameters()).device

    def forward(self, images: torch.Tensor) -> ExtractorOutput:
        """Return features and logits for uint8 or [0, 1] float images (N, C, H, W)."""
        with torch.no_grad():
            return self._extract(images_to_uint8(images).to(self.device))

    def _extract(self, images: torch.Tensor) -> ExtractorOutput:
        raise NotImplementedError


class InceptionExtractor(FeatureExtractor):
    """torch-fidelity's TF1-compatible InceptionV3; grey inputs are repeated to 3 channels.

    Repeating the grey channel is what torch-fidelity does for grey image files (PIL's
    ``convert("RGB")`` copies L into R, G and B).
    """

    name = "inception"
    num_features = 2048
    num_classes = 1008
    resize_mode = "tf1-bilinear (torch-fidelity)"

    def __init__(self, inception_weights: str | os.PathLike | None = None) -> None:
        super().__init__()
        path = weights.resolve_inception_weights(inception_weights)
        try:
            self.net = FeatureExtractorInceptionV3(
                "inception-v3-compat",
                ["2048", "logits_unbiased"],
                feature_extractor_weights_path=None if path is None else str(path),
                verbose=False,
            )
        except (OSError, RuntimeError, EOFError, ValueError) as err:
            where = f"could not load {path}" if path else f"download of {weights.INCEPTION_URL}"
            raise weights.InceptionWeightsError(
                weights.how_to_provide(f"{where} failed ({type(err).__name__}: {err}).")
            ) from err
        path = path if path is not None else weights.hub_weights_path()
        self.weights_path = str(path)
        self.weights_hash = weights.file_hash(path)
        self.eval()

    def _extract(self, images: torch.Tensor) -> ExtractorOutput:
        if images.shape[1] == 1:
            images = images.repeat(1, 3, 1, 1)
        if images.shape[1] != 3:
            raise ValueError(f"inception takes 1 or 3 channels, got {images.shape[1]}")
        features, logits = self.net(images)
        return ExtractorOutput(features.float(), logits.float())


class DigitsClassifierExtractor(FeatureExtractor):
    """genlab's digits CNN; colour inputs are averaged over channels, sizes resized to 28x28."""

    name = "digits_classifier"
    num_features = digits_net.NUM_FEATURES
    num_classes = digits_net.NUM_CLASSES
    resize_mode = "bilinear to 28x28 (torch, antialias when downsizing)"

    def __init__(self, weights_path: str | os.PathLike = DIGITS_WEIGHTS) -> None:
        super().__init__()
        path = Path(weights_path)
        if not path.is_file():
            raise FileNotFoundError(
                f"digits classifier weights not found at {path}; they ship with genlab "
                "(src/genlab/assets/digits_classifier.pt): reinstall genlab or regenerate them "
                "with `python scripts/train_digits_classifier.py`"
            )
        self.net = digits_net.DigitsNet()
        self.net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        self.weights_path = str(path.resolve())
        self.weights_hash = weights.file_hash(path)
        self.eval()

    def _extract(self, images: torch.Tensor) -> ExtractorOutput:
        x = images.float().div(255.0).mean(dim=1, keepdim=True)
        return ExtractorOutput(*self.net.features_and_logits(digits_net.resize_to_input(x)))


def build_extractor(
    name: str, inception_weights: str | os.PathLike | None = None
) -> FeatureExtractor:
    """Return the extractor called ``name`` (``metrics.extractor``: inception | digits_classifier).

    Args:
        name: extractor name.
        inception_weights: local InceptionV3 weights file (``metrics.inception_weights``); only
            used by ``inception``.
    """
    if name == "inception":
        return InceptionExtractor(inception_weights)
    if name == "digits_classifier":
        return DigitsClassifierExtractor()
    raise ValueError(f"metrics.extractor={name!r} is not known; allowed values: {EXTRACTORS}")


def save_random_inception_weights(path: str | os.PathLike, seed: int = 0) -> Path:
    """Write a randomly initialised torch-fidelity InceptionV3 state dict to ``path``; return it.

    For tests and benchmarks only (the scores it gives are meaningless): it exercises the same
    loading path as the real weights without any download. Convolutions get Kaiming-normal
    weights and the classifier N(0, 0.5^2), so features and logits keep a useful scale.
    """
    no_load = mock.patch.object(
        FeatureExtractorInceptionV3, "load_state_dict", lambda *a, **k: None
    )
    no_url = mock.patch(
        "torch_fidelity.feature_extractor_inceptionv3.load_state_dict_from_url", return_value={}
    )
    generator = torch.Generator().manual_seed(seed)
    with no_load, no_url:
        net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            fan_in = module.weight[0].numel()
            std = (2.0 / fan_in) ** 0.5
            module.weight.data = torch.randn(module.weight.shape, generator=generator) * std
    net.fc.weight.data = torch.randn(net.fc.weight.shape, generator=generator) * 0.5
    net.fc.bias.data = torch.randn(net.fc.bias.shape, generator=generator) * 0.1
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)
    return path
