"""Resize modes of the feature extractors: one protocol key, ``metrics.resize``.

The resize changes the score (clean-fid, Parmar et al. 2022, "On Aliased Resizing and Surprising
Subtleties in GAN Evaluation": CIFAR-10 StyleGAN2 + DiffAugment FID 9.89 legacy vs 10.85 clean),
so the mode is recorded in every protocol. Every mode maps uint8 (N, C, H, W) images to float32
(N, C, size, size) values in [0, 255]:

* ``legacy_tf``: TF1's bilinear resize without antialiasing (torch-fidelity's
  ``interpolate_bilinear_2d_like_tensorflow1x``, align_corners=False): what the original TF FID
  code, torch-fidelity and StudioGAN's default compute. Not quantized.
* ``clean``: clean-fid's resize (GaudiLab/clean-fid, ``cleanfid/resize.py``, ``make_resizer("PIL",
  False, "bicubic", size)``): each channel as a PIL float image (mode ``F``), PIL's antialiased
  bicubic, clipped to [0, 255], not quantized.
* ``dgm_eval``: dgm-eval's DINOv2 preprocessing (layer6ai-labs/dgm-eval,
  ``dgm_eval/models/dinov2.py``, default ``clean_resize=False``): torchvision
  ``Resize((224, 224), BICUBIC)`` on the uint8 PIL image, i.e. PIL's bicubic on uint8 channels,
  quantized to uint8 (Stein et al. 2023, the FD_DINOv2 of EDM2's tables).
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

RESIZE_MODES = ("legacy_tf", "clean", "dgm_eval")


def check_resize_mode(mode: str) -> str:
    """Return ``mode`` after checking it is one of ``RESIZE_MODES`` (else ``ValueError``)."""
    if mode not in RESIZE_MODES:
        allowed = ", ".join(RESIZE_MODES)
        raise ValueError(f"metrics.resize={mode!r} is not known; allowed: {allowed}")
    return mode


def _pil_float_channel(channel: np.ndarray, size: int) -> np.ndarray:
    """One (H, W) float32 channel through PIL's bicubic in mode F, clipped to [0, 255]."""
    image = Image.fromarray(channel.astype(np.float32), mode="F")
    return np.asarray(image.resize((size, size), resample=Image.BICUBIC)).clip(0, 255)


def _pil_uint8_image(image: np.ndarray, size: int) -> np.ndarray:
    """One (H, W, C) uint8 image through PIL's bicubic (grey as L, 3 channels as RGB)."""
    pil = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
    out = np.asarray(pil.resize((size, size), resample=Image.BICUBIC))
    return out[..., None] if out.ndim == 2 else out


def resize_images(images: torch.Tensor, size: int, mode: str) -> torch.Tensor:
    """Resize uint8 images (N, C, H, W) to float32 (N, C, size, size) in [0, 255] with ``mode``.

    ``legacy_tf`` runs on the images' device; ``clean`` and ``dgm_eval`` go through PIL on the
    CPU (one image at a time) and come back on the images' device.
    """
    check_resize_mode(mode)
    if images.dtype != torch.uint8 or images.dim() != 4:
        got = f"{images.dtype} {tuple(images.shape)}"
        raise ValueError(f"resize_images takes uint8 (N, C, H, W), got {got}")
    if mode == "legacy_tf":
        return interpolate_bilinear_2d_like_tensorflow1x(
            images.float(), size=(size, size), align_corners=False
        )
    array = images.permute(0, 2, 3, 1).cpu().numpy()
    if mode == "clean":
        out = [
            np.stack([_pil_float_channel(img[..., c], size) for c in range(img.shape[-1])], 0)
            for img in array
        ]
    else:
        out = [_pil_uint8_image(img, size).transpose(2, 0, 1) for img in array]
    return torch.from_numpy(np.stack(out).astype(np.float32)).to(images.device)
