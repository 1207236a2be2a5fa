"""ViT feature extractors: DINOv2 ViT-B/14 and ViT-L/14 (timm), CLIP ViT-L/14 (open-clip).

* ``dinov2_vitb14`` (768-d), ``dinov2_vitl14`` (1024-d): the CLS token after the final norm
  (``x_norm_clstoken`` of facebookresearch/dinov2, what dgm-eval and EDM2's FD_DINOv2 use) at
  224x224, ImageNet mean/std normalization (dgm-eval, ``dgm_eval/models/dinov2.py``; Stein et
  al. 2023, "Exposing flaws of generative model evaluation metrics"). The architecture is timm's
  ``vit_{base,large}_patch14_dinov2`` built for 224 px; a file in the official DINOv2 layout or
  timm's is converted by timm's ``checkpoint_filter_fn`` (the 37x37 position embedding is resampled
  to 16x16 once, bicubic with antialias, where torch.hub's DINOv2 interpolates at each forward
  without antialias: features are close to, not bit-equal with, torch.hub's).
  torch-fidelity 0.4's DINOv2 extractor loads only through torch.hub (NotImplementedError for a
  local file), hence timm.
* ``clip_vitl14``: CLIP ViT-L/14 at 336 px (OpenAI weights, what google-research/cmmd embeds
  with, ``cmmd/embedding.py``: ``vit_l14_336px``), the 768-d image embedding divided by its L2
  norm, OpenAI mean/std normalization. Built with open-clip's vision tower only (no text tower);
  a full open-clip state dict is accepted (its ``visual.*`` entries are used).
  torch-fidelity's CLIP extractor uses ``torch.jit.load`` (runs code), hence open-clip.

Weights: ``metrics.extractor_weights.<name>=/path/file`` (a state dict, loaded with
``torch.load(weights_only=True)``, or a ``.safetensors`` file), else ``$GENLAB_<NAME>_WEIGHTS``,
else the library's download (timm / open-clip through the Hugging Face hub). The protocol
records the file's sha256 (or, for a download, the sha256 of the loaded state dict).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

import torch

from genlab.metrics import weights as weights_mod
from genlab.metrics.extractors import ExtractorOutput, FeatureExtractor, register_extractor
from genlab.metrics.resize import resize_images

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


def resolve_weights(name: str, extractor_weights: Mapping[str, str] | None) -> Path | None:
    """Return the local weights file of extractor ``name`` (config, then env var), or None for
    the library's download; ``FileNotFoundError`` naming the source when a given file is absent."""
    env = f"GENLAB_{name.upper()}_WEIGHTS"
    given, source = (extractor_weights or {}).get(name), f"metrics.extractor_weights.{name}"
    if not given and os.environ.get(env):
        given, source = os.environ[env], f"${env}"
    if not given:
        return None
    path = Path(given).expanduser().resolve()
    if not path.is_file():
        raise FileNotFoundError(f"{source} points at {path}, no such file")
    return path


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Load a state dict from ``.safetensors`` or a torch file (``weights_only=True``); a
    checkpoint holding it under ``state_dict`` or ``model`` is unwrapped."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    return state


def state_dict_hash(module: torch.nn.Module, length: int = 12) -> str:
    """First ``length`` hex digits of the sha256 of a module's state dict (sorted names, bytes)."""
    digest = hashlib.sha256()
    for key, value in sorted(module.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:length]


class _ViTExtractor(FeatureExtractor):
    """Base of the ViT extractors: grey -> RGB, resize to ``input_size``, [0, 1], mean/std."""

    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    feature_layers = "CLS token after the final norm"

    def _finish_init(self, net: torch.nn.Module, path: Path | None) -> None:
        self.net = net.eval().requires_grad_(False)
        self.weights_path = str(path) if path else f"download ({type(self).__name__})"
        self.weights_hash = weights_mod.file_hash(path) if path else state_dict_hash(net)
        self.register_buffer("_mean", torch.tensor(self.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("_std", torch.tensor(self.std).view(1, 3, 1, 1), persistent=False)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, 1|3, H, W) -> normalized float (N, 3, input_size, input_size)."""
        if images.shape[1] == 1:
            images = images.repeat(1, 3, 1, 1)
        if images.shape[1] != 3:
            raise ValueError(f"{self.name} takes 1 or 3 channels, got {images.shape[1]}")
        x = resize_images(images, self.input_size, self.resize_mode) / 255.0
        return (x - self._mean) / self._std

    def _extract(self, images: torch.Tensor) -> ExtractorOutput:
        features = self.embed(self.preprocess(images)).float()
        return ExtractorOutput(features, features.new_empty(len(features), 0))


class DinoV2Extractor(_ViTExtractor):
    """DINOv2 CLS features at 224 px (timm architecture); see the module docstring."""

    name = "dinov2_vitb14"
    timm_name = "vit_base_patch14_dinov2"
    num_features = 768
    input_size = 224
    resize_modes = ("dgm_eval", "clean", "legacy_tf")
    #: extra ``timm.create_model`` arguments (tests build tiny random configs with these)
    model_kwargs: dict = {}

    def __init__(
        self,
        extractor_weights: Mapping[str, str] | None = None,
        resize: str | None = None,
        **_: object,
    ) -> None:
        super().__init__()
        import timm
        from timm.models.vision_transformer import checkpoint_filter_fn

        self._set_resize(resize)
        path = resolve_weights(self.name, extractor_weights)
        kwargs = dict(img_size=self.input_size, num_classes=0, **self.model_kwargs)
        try:
            net = timm.create_model(self.timm_name, pretrained=path is None, **kwargs)
        except Exception as err:  # offline download: say how to provide the file
            raise FileNotFoundError(
                f"{self.name}: timm could not download {self.timm_name} ({err}); download the "
                "DINOv2 weights elsewhere and set metrics.extractor_weights."
                f"{self.name}=/path/to/file or $GENLAB_{self.name.upper()}_WEIGHTS"
            ) from err
        if path is not None:
            net.load_state_dict(checkpoint_filter_fn(load_state_dict(path), net))
        self._finish_init(net, path)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """CLS token after the final norm, (N, D)."""
        return self.net.forward_features(x)[:, 0]


@register_extractor
class DinoV2B14Extractor(DinoV2Extractor):
    """DINOv2 ViT-B/14 (768-d CLS)."""


@register_extractor
class DinoV2L14Extractor(DinoV2Extractor):
    """DINOv2 ViT-L/14 (1024-d CLS): Stein et al.'s and EDM2's FD_DINOv2 network."""

    name = "dinov2_vitl14"
    timm_name = "vit_large_patch14_dinov2"
    num_features = 1024


@register_extractor
class ClipExtractor(_ViTExtractor):
    """CLIP ViT-L/14 at 336 px, L2-normalized image embeddings (CMMD's); module docstring."""

    name = "clip_vitl14"
    clip_name = "ViT-L-14-336"
    num_features = 768
    input_size = 336
    resize_modes = ("clean", "dgm_eval", "legacy_tf")
    mean, std = OPENAI_MEAN, OPENAI_STD
    feature_layers = "image embedding (projection), L2-normalized"
    #: overrides of open-clip's vision config (tests build tiny random configs with these)
    vision_overrides: dict = {}
    embed_dim_override: int | None = None

    def __init__(
        self,
        extractor_weights: Mapping[str, str] | None = None,
        resize: str | None = None,
        **_: object,
    ) -> None:
        super().__init__()
        import open_clip
        from open_clip.model import CLIPVisionCfg, _build_vision_tower

        self._set_resize(resize)
        path = resolve_weights(self.name, extractor_weights)
        config = open_clip.get_model_config(self.clip_name)
        vision = CLIPVisionCfg(**{**config["vision_cfg"], **self.vision_overrides})
        embed_dim = self.embed_dim_override or config["embed_dim"]
        if path is None:
            try:
                full = open_clip.create_model(self.clip_name, pretrained="openai")
            except Exception as err:
                raise FileNotFoundError(
                    f"{self.name}: open-clip could not download {self.clip_name} openai ({err}); "
                    f"set metrics.extractor_weights.{self.name}=/path/to/open_clip_model.bin"
                ) from err
            net = full.visual
        else:
            net = _build_vision_tower(embed_dim, vision, quick_gelu=True)  # OpenAI: QuickGELU
            state = load_state_dict(path)
            if any(k.startswith("visual.") for k in state):
                state = {k[7:]: v for k, v in state.items() if k.startswith("visual.")}
            net.load_state_dict(state)
        self._finish_init(net, path)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Image embedding divided by its L2 norm, (N, embed_dim)."""
        out = self.net(x)
        return out / out.norm(dim=-1, keepdim=True)
