"""Checkpoint file I/O below every caller (callbacks, run pipeline, genlab-eval).

Atomic writes (temp file in the destination folder, fsync, rename) and loads with
``weights_only=True`` that name the file and the fix when it is missing, corrupt, or would
need full unpickling. A leaf module: imports torch, nothing of genlab.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch

_UMASK = os.umask(0o022)  # read the process umask ...
os.umask(_UMASK)  # ... and put it back


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` ``obj`` to ``path`` via a fsynced temporary file in the same folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; match a plain open()
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(err, RuntimeError) and _is_write_failure(err):
            raise OSError(
                f"could not write checkpoint {path}: the write stopped part-way "
                f"({str(err).splitlines()[0][:160]}). The disk is full, or a file-size or quota "
                "limit was hit (ulimit -f); the previous checkpoint there is unchanged. Free "
                "space or raise the limit, or set callbacks.model_checkpoint.dirpath=<another "
                "folder>."
            ) from err
        raise
    _fsync_dir(path.parent)


def _is_write_failure(err: RuntimeError) -> bool:
    """True for torch's zip-writer failures (``[enforce fail at inline_container.cc:...]``,
    ``PytorchStreamWriter failed writing file``): the OS refused the bytes."""
    text = str(err)
    return "inline_container" in text or "PytorchStreamWriter" in text


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable (no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load_checkpoint_file(
    path: Path, map_location: Any = "cpu", weights_only: bool = True
) -> dict[str, Any]:
    """Load a checkpoint; raise an error naming the file when it is missing, empty, truncated,
    or needs full unpickling (which would let the file run code)."""
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint not found: {path}. Pass ckpt_path=<run>/checkpoints/last.ckpt "
            "(relative to where you launch, or absolute)."
        )
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=weights_only)
    except pickle.UnpicklingError as err:
        if not _looks_like_torch_file(path):
            raise _not_a_checkpoint(path, err) from err
        if "weights_only" in str(err) or "Weights only" in str(err):
            raise RuntimeError(
                f"checkpoint {path} holds objects other than tensors and plain values, and "
                "loading them would run code from the file; genlab loads checkpoints with "
                "weights_only=True. Use a checkpoint written by genlab-train."
            ) from err
        raise _unreadable(path, err) from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as err:
        raise _unreadable(path, err) from err
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise RuntimeError(f"{path} is not a Lightning checkpoint (no 'state_dict' key)")
    return ckpt


def _looks_like_torch_file(path: Path) -> bool:
    """True when ``path`` starts like a file of ``torch.save``: a zip archive (the format since
    torch 1.6) or a pickle of protocol 2 or more (the legacy format)."""
    with open(path, "rb") as f:
        head = f.read(4)
    return head.startswith(b"PK\x03\x04") or (len(head) >= 2 and head[0] == 0x80 and head[1] >= 2)


def _not_a_checkpoint(path: Path, err: BaseException) -> RuntimeError:
    size = path.stat().st_size
    return RuntimeError(
        f"{path} ({size} bytes) is not a checkpoint: it is neither a torch zip archive nor a "
        f"pickle ({type(err).__name__}). Pass a .ckpt file written by genlab-train, e.g. "
        "<run>/checkpoints/last.ckpt."
    )


def _unreadable(path: Path, err: BaseException) -> RuntimeError:
    size = path.stat().st_size if path.exists() else 0
    return RuntimeError(
        f"checkpoint {path} ({size} bytes) is unreadable ({type(err).__name__}: {err}). The "
        "file is empty, truncated or corrupt: use another checkpoint of the run, such as "
        "<run>/checkpoints/last.ckpt or epoch_*.ckpt."
    )
