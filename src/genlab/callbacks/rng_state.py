"""Exact resume at epoch boundaries: each epoch's random state is a function of (seed, rank, epoch).

A resumed run restores weights, optimizers, EMA, buffers and counters from the checkpoint, but
the random number generators would restart from ``seed_everything``'s state: another data
order, other dynamic-binarization draws, other VAE posterior noise, other VQ-VAE code restarts.
So resume(kill(run)) differed from the uninterrupted run (issue 19, item 6).

:class:`EpochSeededRNG` reseeds, at the start of every training epoch after the first, the
global generators all of these draw from: torch (CPU and every CUDA device), numpy and Python's
``random``, with a seed hashed from (base seed, global rank, epoch) by numpy's ``SeedSequence``
(the same scheme as ``genlab.models.noise``). The data order follows, since Lightning's
``RandomSampler`` draws its per-epoch seed from torch's global generator when the epoch's
iterator is created (after ``on_train_epoch_start``), and so do DataLoader worker seeds. The
base seed is checkpointed with the callback state and taken from the checkpoint on resume, so
a resumed run reproduces the uninterrupted one from the next epoch on, whatever the sanity
check, validation or other callbacks drew in between. GAN noise streams are seeded from their
step counters already (``genlab.models.noise``).

Scope (docs/reliability.md): exact for checkpoints written at the end of an epoch (``last.ckpt``
cadence "every epoch") on one process. A checkpoint written mid-epoch resumes with the epoch's
data order restarted (Lightning's plain DataLoader has no position to restore). On GPUs
non-deterministic kernels and, with DDP, the reduction order can still differ between runs.
"""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch

_STREAM = 0x5EED  # separates these seeds from the noise streams' (seed, rank, step, stream)


def epoch_seeds(base_seed: int, rank: int, epoch: int) -> tuple[int, int]:
    """Return (torch seed, 63 bits; numpy/python seed, 32 bits) for (base seed, rank, epoch)."""
    words = np.random.SeedSequence([base_seed % 2**63, rank, epoch, _STREAM]).generate_state(
        2, np.uint32
    )
    torch_seed = ((int(words[0]) << 32) | int(words[1])) >> 1
    return torch_seed, int(words[0])


def reseed_everything(base_seed: int, rank: int, epoch: int) -> None:
    """Seed torch (CPU and CUDA), numpy and ``random`` from (base seed, rank, epoch)."""
    torch_seed, small_seed = epoch_seeds(base_seed, rank, epoch)
    torch.manual_seed(torch_seed)  # also seeds every CUDA device
    np.random.seed(small_seed)
    random.seed(small_seed)


class EpochSeededRNG(pl.Callback):
    """Reseed the global RNGs at every epoch start from (base seed, rank, epoch); checkpointed.

    Args:
        seed: base seed; None = the ``seed_everything`` seed (``PL_GLOBAL_SEED``), else
            torch's initial seed. On resume the checkpoint's base seed wins.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self.base_seed: int | None = None
        self._reseeded_epoch = -1
        self._resume_epoch: int | None = None

    @property
    def state_key(self) -> str:
        """One state per run (the key in the checkpoint's ``callbacks`` mapping)."""
        return "EpochSeededRNG"

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Fix the base seed for a fresh run (a resumed one loads it in ``load_state_dict``)."""
        if self.base_seed is None:
            seed = self.seed
            if seed is None:
                seed = int(os.environ.get("PL_GLOBAL_SEED", torch.initial_seed()))
            self.base_seed = int(seed) % 2**63

    def on_load_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        """Note the epoch the resumed run starts with (the checkpoint's processed epochs; read
        here because Lightning restores its loops only after ``on_fit_start``)."""
        try:
            progress = checkpoint["loops"]["fit_loop"]["epoch_progress"]["current"]
            self._resume_epoch = int(progress["processed"])
        except (KeyError, TypeError):
            self._resume_epoch = int(checkpoint.get("epoch", -1)) + 1

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Resuming: reseed for the epoch about to run now, since Lightning creates a resumed
        run's first data iterator (and prefetches its first batch) before any epoch hook;
        the sanity check in between runs under ``isolate_rng``."""
        self._reseeded_epoch = -1
        epoch, self._resume_epoch = self._resume_epoch, None
        if trainer.ckpt_path is None or self.base_seed is None or epoch is None:
            return
        if epoch > 0:
            reseed_everything(self.base_seed, trainer.global_rank, epoch)
            self._reseeded_epoch = epoch

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """From the second epoch on, reseed before the epoch's data iterator is created
        (except for the epoch a resume reseeded already)."""
        epoch = trainer.current_epoch
        if epoch > 0 and self.base_seed is not None and epoch != self._reseeded_epoch:
            reseed_everything(self.base_seed, trainer.global_rank, epoch)

    def state_dict(self) -> dict[str, int | None]:
        """The base seed (plain int: loads with ``weights_only=True``)."""
        return {"base_seed": self.base_seed}

    def load_state_dict(self, state_dict: dict[str, int | None]) -> None:
        """Take the checkpoint's base seed (so a resumed run repeats the original's epochs)."""
        if state_dict.get("base_seed") is not None:
            self.base_seed = int(state_dict["base_seed"])
