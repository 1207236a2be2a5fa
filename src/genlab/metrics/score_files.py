"""Score samples made anywhere: ``genlab-eval fake=<folder|.npz> real=<dataset:split|folder|.npz>``.

* fake: a folder of image files (PNG/JPEG/..., read with PIL, sorted by name) or an ``.npz`` of
  uint8 samples (the first array, or ``samples``/``images``/``arr_0``; (N, H, W, C) as ADM/EDM
  write them, or (N, C, H, W)).
* real: ``<dataset>:<split>`` (a genlab data config, e.g. ``digits:train``: its grey images),
  another folder or uint8 ``.npz``, or precomputed reference statistics (``.npz`` with ``mu``,
  ``sigma``: pytorch-fid / clean-fid style, FID only). A statistics file written by genlab
  (``save_stats=``) carries its protocol; one whose extractor, weights hash, resize mode or input
  size differs from this evaluation's is refused with both protocols named. A file without one
  (pytorch-fid, clean-fid) is accepted when its dimension matches, and recorded as ``unknown``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
PROTOCOL_KEYS = ("extractor", "weights_hash", "resize_mode", "input_size")


class SampleFileError(ValueError):
    """Samples or statistics that cannot be scored as given (the message says why and how)."""


def load_folder(folder: Path) -> torch.Tensor:
    """Return uint8 (N, C, H, W) images of every image file in ``folder`` (C = 1 for grey, 3 for
    RGB); ``SampleFileError`` naming the first file whose size or channel count differs."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise SampleFileError(f"{folder} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
    arrays, first = [], None
    for path in files:
        with Image.open(path) as image:
            if image.mode not in ("L", "RGB"):
                image = image.convert("RGB" if image.mode in ("RGBA", "P", "CMYK") else "L")
            array = np.asarray(image)
        array = array[..., None] if array.ndim == 2 else array
        if first is None:
            first = (path, array.shape)
        elif array.shape != first[1]:
            raise SampleFileError(
                f"{path} is {hw_c(array.shape)} but {first[0].name} is {hw_c(first[1])}: every "
                "image of a folder must have one size and channel count"
            )
        arrays.append(array)
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def hw_c(shape: tuple[int, ...]) -> str:
    """'HxW, C channel(s)' of an (H, W, C) shape."""
    return f"{shape[0]}x{shape[1]} px, {shape[2]} channel(s)"


def load_npz_images(path: Path) -> torch.Tensor:
    """Return uint8 (N, C, H, W) samples of an ``.npz`` (NHWC or NCHW, C in {1, 3})."""
    with np.load(path) as data:
        key = next((k for k in ("samples", "images", "arr_0") if k in data), data.files[0])
        array = data[key]
    if array.dtype != np.uint8 or array.ndim != 4:
        raise SampleFileError(
            f"{path}[{key!r}] is {array.dtype} {array.shape}; expected uint8 (N, H, W, C) or "
            "(N, C, H, W) samples"
        )
    if array.shape[-1] in (1, 3) and array.shape[1] not in (1, 3):
        array = array.transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(array))


def is_stats_file(path: Path) -> bool:
    """True for an ``.npz`` holding ``mu`` and ``sigma`` (reference statistics)."""
    if path.suffix != ".npz":
        return False
    with np.load(path) as data:
        return {"mu", "sigma"} <= set(data.files)


def load_images(spec: str) -> torch.Tensor:
    """uint8 images of a folder or a uint8 ``.npz`` (``SampleFileError`` if neither)."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return load_folder(path)
    if path.is_file() and path.suffix == ".npz":
        return load_npz_images(path)
    raise SampleFileError(f"{spec!r} is neither a folder of images nor an .npz of uint8 samples")


def load_stats(path: Path) -> tuple[torch.Tensor, torch.Tensor, dict | None]:
    """(mu (D,), sigma (D, D)) float64 and the stored protocol (None for external files)."""
    with np.load(path) as data:
        mu, sigma = torch.from_numpy(data["mu"]).double(), torch.from_numpy(data["sigma"]).double()
        protocol = json.loads(str(data["protocol"])) if "protocol" in data.files else None
    return mu, sigma, protocol


def save_stats(path: Path, mu: torch.Tensor, sigma: torch.Tensor, protocol: dict) -> Path:
    """Write ``mu``, ``sigma`` and the protocol (JSON) as an ``.npz`` (pytorch-fid readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, mu=mu.cpu().numpy(), sigma=sigma.cpu().numpy(), protocol=json.dumps(protocol))
    return path


def check_protocol(stored: dict | None, current: dict, dim: int, source: str) -> str:
    """Refuse a statistics file made under another protocol; return how it was matched.

    Raises:
        SampleFileError: a stored protocol differs on ``PROTOCOL_KEYS`` (both named), or the
            statistics' dimension is not the extractor's.
    """
    if dim != current["feature_dim"]:
        raise SampleFileError(
            f"{source} holds {dim}-d statistics but extractor {current['extractor']!r} gives "
            f"{current['feature_dim']}-d features"
        )
    if stored is None:
        return "unknown (external mu/sigma file: protocol not stored; dimension matches)"
    differ = {k: (stored.get(k), current.get(k)) for k in PROTOCOL_KEYS}
    differ = {k: v for k, v in differ.items() if v[0] != v[1]}
    if differ:
        both = "; ".join(
            f"{k}: file {a!r} vs this evaluation {b!r}" for k, (a, b) in differ.items()
        )
        raise SampleFileError(
            f"{source} was computed under another protocol ({both}); recompute it with this "
            "evaluation's settings (save_stats=...) or evaluate with the file's"
        )
    return "matched (" + ", ".join(f"{k}={current[k]}" for k in PROTOCOL_KEYS) + ")"
