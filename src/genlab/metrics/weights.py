"""Where the InceptionV3 weights come from, and the hash that names them in protocols and caches.

Order of precedence: the ``inception_weights`` argument (config key ``metrics.inception_weights``),
then the ``GENLAB_INCEPTION_WEIGHTS`` environment variable, then torch-fidelity's own download
location under the torch hub cache, then a download on first use (by genlab, to that location).

Every weights file is loaded by genlab with ``torch.load(weights_only=True)`` and checked to be
a state dict (names -> tensors) BEFORE torch-fidelity unpickles it with
``weights_only=False``: a file that would need full unpickling (and could run code) is refused.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import torch
import torch.hub
from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

ENV_VAR = "GENLAB_INCEPTION_WEIGHTS"
CONFIG_KEY = "metrics.inception_weights"
INCEPTION_URL = URL_INCEPTION_V3
INCEPTION_FILENAME = URL_INCEPTION_V3.rsplit("/", 1)[-1]


class InceptionWeightsError(FileNotFoundError):
    """The InceptionV3 weights file is missing, unreadable or could not be downloaded."""


class UnsafeWeightsError(InceptionWeightsError):
    """A weights file holds objects other than tensors (loading it fully could run code)."""


def hub_weights_path() -> Path:
    """Return the path where torch-fidelity's download lands (``<torch hub dir>/checkpoints/``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILENAME


def how_to_provide(reason: str) -> str:
    """Return the full error text: ``reason`` plus every way to provide the weights."""
    return (
        f"InceptionV3 weights for FID/IS/KID/precision-recall are not available: {reason}\n"
        "genlab uses torch-fidelity's TF1-compatible InceptionV3 (converted from the official "
        "TensorFlow 2015-12-05 graph), so its numbers are comparable with published tables.\n"
        "To provide the weights:\n"
        f"  1. on a machine with network access download {INCEPTION_URL}\n"
        f"  2. copy the file to {hub_weights_path()} (found there automatically), or anywhere and "
        "point genlab at it with either\n"
        f"       the config key   {CONFIG_KEY}=/path/to/{INCEPTION_FILENAME}\n"
        f"       the env variable {ENV_VAR}=/path/to/{INCEPTION_FILENAME}\n"
        "Without network: on data=digits use metrics.extractor=digits_classifier (weights shipped "
        "inside genlab), or turn sample-quality metrics off with metrics=none."
    )


def resolve_inception_weights(path: str | os.PathLike | None = None) -> Path | None:
    """Return the local weights file to load, or None to let torch-fidelity download it.

    Args:
        path: explicit file (``metrics.inception_weights``); when None,
            ``$GENLAB_INCEPTION_WEIGHTS`` and then torch-fidelity's hub download location are tried.

    Raises:
        InceptionWeightsError: an explicitly given file (argument or env var) does not exist.
    """
    explicit, source = (path, CONFIG_KEY) if path not in (None, "") else (None, None)
    if explicit is None and os.environ.get(ENV_VAR):
        explicit, source = os.environ[ENV_VAR], f"${ENV_VAR}"
    if explicit is not None:
        resolved = Path(explicit).expanduser().resolve()
        if not resolved.is_file():
            raise InceptionWeightsError(
                how_to_provide(f"{source} points at {resolved}, no such file.")
            )
        return resolved
    cached = hub_weights_path()
    return cached if cached.is_file() else None


@functools.lru_cache(maxsize=16)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_hash(path: str | os.PathLike, length: int = 12) -> str:
    """Return the first ``length`` hex digits of the sha256 of a file (memoized per path/mtime)."""
    stat = os.stat(path)
    return _sha256_cached(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)[:length]


@functools.lru_cache(maxsize=16)
def _checked(path: str, size: int, mtime_ns: int) -> int:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - UnpicklingError, zip/EOF errors, ...
        raise UnsafeWeightsError(
            f"weights file {path} ({size} bytes) is not a plain tensor file: torch.load with "
            f"weights_only=True refused it ({type(err).__name__}: {str(err).splitlines()[0]}). "
            "genlab does not unpickle it fully, since that could run code from the file. Use "
            "the original download, or re-save the state dict with torch.save(net.state_dict())."
        ) from None
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise UnsafeWeightsError(
            f"weights file {path} is not a state dict (a mapping of parameter names to tensors); "
            f"it holds {type(state).__name__}. Point the config at the network's weights file."
        )
    return len(state)


def check_weights_file(path: str | os.PathLike) -> Path:
    """Load ``path`` with ``torch.load(weights_only=True)`` and check it is a state dict of
    tensors; return the resolved path. Call it before any library unpickles the file.
    Memoized per (path, size, mtime).

    Raises:
        InceptionWeightsError: the file does not exist.
        UnsafeWeightsError: it needs full unpickling, or is not a names -> tensors mapping.
    """
    resolved = Path(path).expanduser().resolve()
    if not resolved.is_file():
        raise InceptionWeightsError(f"weights file {resolved} does not exist")
    stat = resolved.stat()
    _checked(str(resolved), stat.st_size, stat.st_mtime_ns)
    return resolved


def download_inception_weights() -> Path:
    """Download torch-fidelity's InceptionV3 weights to :func:`hub_weights_path` (its own
    download location) with ``torch.hub.download_url_to_file``; return the path. genlab
    downloads them itself so that the file is checked before torch-fidelity loads it."""
    target = hub_weights_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.hub.download_url_to_file(INCEPTION_URL, str(target), progress=False)
    return target
