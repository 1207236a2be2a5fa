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

import torch
from torch import nn
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

from genlab.metrics import digits_net, weights
from genlab.metrics.inception_float import inception_float_forward
from genlab.metrics.resize import resize_images
from genlab.utils.images import to_uint8

#: name -> extractor class (``metrics.extractor=<name>``); add one with ``@register_extractor``
EXTRACTORS: dict[str, type[FeatureExtractor]] = {}
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

    Attributes: ``name``, ``num_features``, ``num_classes``, ``resize_mode``, ``feature_layers``
    (for the protocol record), ``datasets`` (``extractor: auto`` picks this extractor for these
    dataset names), ``weights_path``, ``weights_hash`` (first 12 hex digits of the weights
    file's sha256). Constructors take keyword options and ignore those meant for others
    (``inception_weights``...), so ``build_extractor`` needs no per-name code.
    """

    name: str = ""
    feature_layers: str = "features/logits"
    datasets: tuple[str, ...] = ()
    num_features: int = 0
    num_classes: int = 0
    #: the resize modes (``genlab.metrics.resize``) it supports, the first is its default
    resize_modes: tuple[str, ...] = ()
    #: the active resize mode (recorded in the protocol and in the reference-cache key)
    resize_mode: str = ""
    #: side of the square network input the images are resized to (pixels)
    input_size: int = 0
    weights_path: str = ""
    weights_hash: str = ""

    def _set_resize(self, resize: str | None) -> None:
        """Set ``resize_mode``: ``resize`` (``metrics.resize``) or the default; ``ValueError``
        naming the allowed modes when this extractor does not support ``resize``."""
        mode = resize or self.resize_modes[0]
        if mode not in self.resize_modes:
            raise ValueError(
                f"metrics.resize={mode!r} is not supported by extractor {self.name!r}; allowed: "
                f"{', '.join(self.resize_modes)}"
            )
        self.resize_mode = mode

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


def register_extractor(cls: type[FeatureExtractor]) -> type[FeatureExtractor]:
    """Class decorator: make ``cls`` available as ``metrics.extractor=<cls.name>``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} needs a non-empty class attribute 'name'")
    EXTRACTORS[cls.name] = cls
    return cls


@register_extractor
class InceptionExtractor(FeatureExtractor):
    """torch-fidelity's TF1-compatible InceptionV3; grey inputs are repeated to 3 channels.

    Repeating the grey channel is what torch-fidelity does for grey image files (PIL's
    ``convert("RGB")`` copies L into R, G and B).
    """

    name = "inception"
    feature_layers = "pool3 2048-d (FID/KID/PR), logits_unbiased 1008 (IS)"
    num_features = 2048
    num_classes = 1008
    resize_modes = ("legacy_tf", "clean")
    input_size = 299

    def __init__(
        self,
        inception_weights: str | os.PathLike | None = None,
        resize: str | None = None,
        **_: object,
    ) -> None:
        super().__init__()
        self._set_resize(resize)
        path = weights.resolve_inception_weights(inception_weights)
        try:
            if path is None:  # genlab downloads, so torch-fidelity never loads an unchecked file
                path = weights.download_inception_weights()
            weights.check_weights_file(path)  # weights_only=True, before torch-fidelity unpickles
            self.net = FeatureExtractorInceptionV3(
                "inception-v3-compat",
                ["2048", "logits_unbiased"],
                feature_extractor_weights_path=str(path),
                verbose=False,
            )
        except weights.UnsafeWeightsError as err:
            raise weights.UnsafeWeightsError(
                weights.how_to_provide(f"could not load {path}: {err}")
            ) from None
        except weights.InceptionWeightsError:
            raise
        except (OSError, RuntimeError, EOFError, ValueError) as err:
            where = f"could not load {path}" if path else f"download of {weights.INCEPTION_URL}"
            raise weights.InceptionWeightsError(
                weights.how_to_provide(f"{where} failed ({type(err).__name__}: {err}).")
            ) from err
        self.weights_path = str(path)
        self.weights_hash = weights.file_hash(path)
        self.eval()

    def _extract(self, images: torch.Tensor) -> ExtractorOutput:
        if images.shape[1] == 1:
            images = images.repeat(1, 3, 1, 1)
        if images.shape[1] != 3:
            raise ValueError(f"inception takes 1 or 3 channels, got {images.shape[1]}")
        if self.resize_mode == "clean":  # float 299x299 input: the internal resize is skipped
            x = resize_images(images, self.input_size, "clean")
            return ExtractorOutput(*inception_float_forward(self.net, x))
        features, logits = self.net(images)
        return ExtractorOutput(features.float(), logits.float())


@register_extractor
class DigitsClassifierExtractor(FeatureExtractor):
    """genlab's digits CNN; colour inputs are averaged over channels, sizes resized to 28x28."""

    name = "digits_classifier"
    feature_layers = "penultimate 128-d (FID/KID/PR), logits 10 (IS)"
    datasets = ("digits",)
    num_features = digits_net.NUM_FEATURES
    num_classes = digits_net.NUM_CLASSES
    resize_modes = ("torch_bilinear_antialias",)
    input_size = 28

    def __init__(
        self,
        weights_path: str | os.PathLike = DIGITS_WEIGHTS,
        resize: str | None = None,
        **_: object,
    ) -> None:
        super().__init__()
        self._set_resize(resize)
        path = Path(weights_path)
        if not path.is_file():
            raise FileNotFoundError(
                f"digits classifier weights not found at {path}; they ship with genlab "
                "(src/genlab/assets/digits_classifier.pt): reinstall genlab or regenerate them "
                "with `python scripts/train_digits_classifier.py`"
            )
        self.net = digits_net.DigitsNet()
        self.net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        # channels_last: ~2.4x faster on CPU (vectorized max-pool), same values to float rounding
        self.net = self.net.to(memory_format=torch.channels_last)
        self.weights_path = str(path.resolve())
        self.weights_hash = weights.file_hash(path)
        self.eval()

    def _extract(self, images: torch.Tensor) -> ExtractorOutput:
        x = digits_net.resize_to_input(images.float().div(255.0).mean(dim=1, keepdim=True))
        x = x.contiguous(memory_format=torch.channels_last)
        return ExtractorOutput(*self.net.features_and_logits(x))


def build_extractor(name: str, **options: object) -> FeatureExtractor:
    """Return the extractor registered as ``name`` (``metrics.extractor``), built with
    ``options`` (e.g. ``inception_weights``: a local InceptionV3 weights file).

    Raises:
        ValueError: ``name`` is not registered (the message lists the registered names).
    """
    if name not in EXTRACTORS:
        raise ValueError(
            f"metrics.extractor={name!r} is not known; allowed: auto, {', '.join(EXTRACTORS)}"
        )
    return EXTRACTORS[name](**options)


def auto_extractor(dataset: str | None) -> str:
    """Return the extractor for ``metrics.extractor=auto``: the registered one that lists
    ``dataset`` in its ``datasets`` (digits -> digits_classifier), else ``inception``."""
    for name, cls in EXTRACTORS.items():
        if dataset in cls.datasets:
            return name
    return InceptionExtractor.name


# the ViT extractors (DINOv2 via timm, CLIP via open-clip) register on import
from genlab.metrics import vit_extractors as _vit_extractors  # noqa: E402, F401
