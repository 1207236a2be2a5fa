"""Tiny random ViT extractors (DINOv2 layout via timm, CLIP vision tower via open-clip) saved as
state-dict files and loaded through the extractors' own local-weights path. Test-only."""

from __future__ import annotations

from pathlib import Path

import timm
import torch
from open_clip.model import CLIPVisionCfg, _build_vision_tower

from genlab.metrics.extractors import register_extractor
from genlab.metrics.vit_extractors import ClipExtractor, DinoV2Extractor


@register_extractor
class TinyDinoExtractor(DinoV2Extractor):
    """DINOv2's code path with a 1-block, 24-wide ViT/14 at 224 px."""

    name = "dinov2_tiny"
    timm_name = "vit_small_patch14_dinov2"
    num_features = 24
    model_kwargs = {"depth": 1, "embed_dim": 24, "num_heads": 2}


@register_extractor
class TinyClipExtractor(ClipExtractor):
    """CLIP's code path with a 1-layer, 32-wide vision tower at 336 px, 16-d embedding."""

    name = "clip_tiny"
    num_features = 16
    vision_overrides = {"layers": 1, "width": 32, "head_width": 16}
    embed_dim_override = 16


def save_tiny_dino(path: Path, seed: int = 0) -> Path:
    """Write a random TinyDinoExtractor state dict (timm layout) to ``path``."""
    torch.manual_seed(seed)
    net = timm.create_model(
        TinyDinoExtractor.timm_name,
        pretrained=False,
        img_size=224,
        num_classes=0,
        **TinyDinoExtractor.model_kwargs,
    )
    torch.save(net.state_dict(), path)
    return path


def save_tiny_clip(path: Path, seed: int = 0) -> Path:
    """Write a random CLIP vision tower as a full open-clip state dict (``visual.*`` keys)."""
    torch.manual_seed(seed)
    cfg = CLIPVisionCfg(image_size=336, layers=1, width=32, head_width=16, patch_size=14)
    net = _build_vision_tower(16, cfg, quick_gelu=True)
    torch.save({f"visual.{k}": v for k, v in net.state_dict().items()}, path)
    return path
