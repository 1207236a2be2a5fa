"""On-disk cache of reference (real-data) features, keyed by everything that produced them.

A sweep of 20 runs on the same data computes the real features once. The key holds the dataset
name, split, resolution, extractor, weights hash, resize mode, number of samples, a fingerprint
of the real images themselves and genlab's metrics version; the file name carries a hash of the
key and the file stores the key, verified on load, so a changed key is always a new entry, never
a stale one.
Writes are atomic (temporary file in the same folder, then ``os.replace``) so parallel sweep jobs
never see a half-written file; an unreadable or mismatching file is reported and recomputed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch

log = logging.getLogger(__name__)

# Bump when the feature pipeline changes in a way that changes the features (invalidates caches).
METRICS_VERSION = "1"


@dataclasses.dataclass(frozen=True)
class ReferenceKey:
    """What produced a set of reference features; ``resolution`` is (C, H, W)."""

    dataset: str
    split: str
    resolution: tuple[int, int, int]
    extractor: str
    weights_hash: str
    num_samples: int
    data_fingerprint: str = ""
    resize: str = ""  #: the extractor's resize mode (``metrics.resize``)
    metrics_version: str = METRICS_VERSION

    def as_dict(self) -> dict[str, object]:
        """Return the key as a JSON-compatible dict (resolution as a list)."""
        out = dataclasses.asdict(self)
        out["resolution"] = [int(v) for v in self.resolution]
        return out

    def digest(self) -> str:
        """Return 16 hex digits of the sha256 of the key's sorted JSON."""
        text = json.dumps(self.as_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def filename(self) -> str:
        """Return ``<dataset>-<split>-<CxHxW>-<extractor>-n<N>-<digest>.pt`` (readable, unique)."""
        res = "x".join(str(v) for v in self.resolution)
        stem = f"{self.dataset}-{self.split}-{res}-{self.extractor}-n{self.num_samples}"
        return re.sub(r"[^A-Za-z0-9._-]", "_", stem) + f"-{self.digest()}.pt"


def fingerprint_images(images: torch.Tensor) -> str:
    """Return 12 hex digits of the sha256 of uint8 images (their exact bytes and shape)."""
    if images.dtype != torch.uint8:
        raise ValueError(f"fingerprint_images expects uint8 images, got {images.dtype}")
    digest = hashlib.sha256(str(tuple(images.shape)).encode())
    digest.update(images.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


class ReferenceCache:
    """Reference features stored as ``{"key": dict, "features": float32 (N, D)}`` files.

    Args:
        cache_dir: folder for the files (config ``paths.cache_dir``); created on first save.
    """

    def __init__(self, cache_dir: str | os.PathLike) -> None:
        self.cache_dir = Path(cache_dir).expanduser()

    def path(self, key: ReferenceKey) -> Path:
        """Return the file that holds (or will hold) the entry for ``key``."""
        return self.cache_dir / key.filename()

    def load(self, key: ReferenceKey) -> torch.Tensor | None:
        """Return the cached (N, D) features for ``key``; None if absent, corrupt or mismatching."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            entry = torch.load(path, map_location="cpu", weights_only=True)
            stored, features = entry["key"], entry["features"]
        except Exception as err:  # any unreadable file is a miss, reported loudly
            log.warning(
                "metrics cache: %s is corrupt (%s: %s); recomputing it",
                path,
                type(err).__name__,
                err,
            )
            return None
        if stored != key.as_dict():
            log.warning(
                "metrics cache: %s holds key %s, expected %s; recomputing",
                path,
                stored,
                key.as_dict(),
            )
            return None
        if not torch.is_tensor(features) or features.dim() != 2 or len(features) != key.num_samples:
            log.warning("metrics cache: %s has malformed features; recomputing", path)
            return None
        return features

    def save(self, key: ReferenceKey, features: torch.Tensor) -> Path:
        """Write the entry atomically (temporary file + ``os.replace``); return its path."""
        path = self.path(key)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        entry = {"key": key.as_dict(), "features": features.detach().float().cpu().contiguous()}
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=self.cache_dir)
        try:
            with os.fdopen(fd, "wb") as handle:
                torch.save(entry, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return path

    def get_or_compute(
        self, key: ReferenceKey, compute: Callable[[], torch.Tensor]
    ) -> tuple[torch.Tensor, bool]:
        """Return (features, hit): the cached features, or ``compute()`` saved under ``key``."""
        cached = self.load(key)
        if cached is not None:
            return cached, True
        features = compute()
        self.save(key, features)
        return features, False
