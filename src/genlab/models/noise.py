"""Training-noise streams for GANs: different on every DDP rank, reproducible and resumable.

Each draw is seeded from (base seed, global rank, step counter, stream), hashed with numpy's
``SeedSequence``: ranks never share noise (so DDP does not train on duplicated fakes), a run
repeats bit for bit for a given seed, and a resumed run draws the noise it would have drawn,
because the step counters are checkpointed.
"""

from __future__ import annotations

import os

import numpy as np
import torch

# independent streams per step (ids defined beside the terms that draw from them)
from genlab.objectives.gan_terms import (  # noqa: E402, F401
    AUG_D_STEP,
    AUG_G_STEP,
    D_STEP,
    G_STEP,
    GP_STEP,
    stream_id,
)


def noise_seed(seed: int, rank: int, step: int, stream: int) -> int:
    """Return a 63-bit seed hashed from (seed, rank, step, stream) with numpy's SeedSequence."""
    state = np.random.SeedSequence([seed, rank, step, stream]).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))


class NoiseStreams:
    """One ``torch.Generator`` on the model's device, re-seeded for every (step, stream).

    Args:
        seed: base seed; None = the ``seed_everything`` seed (``PL_GLOBAL_SEED``), else torch's.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.base_seed = seed
        self._generator: torch.Generator | None = None
        self._seed = 0

    def start(self, device: torch.device) -> None:
        """Create the generator on ``device`` and fix the base seed (call at fit start)."""
        base = self.base_seed
        if base is None:
            base = int(os.environ.get("PL_GLOBAL_SEED", torch.initial_seed()))
        self._seed = int(base) % 2**63
        self._generator = torch.Generator(device=device)

    @property
    def seed(self) -> int:
        """The effective base seed (after ``start``): ``seed`` or the run's seed, mod 2**63."""
        return self._seed

    def get(self, rank: int, step: int, stream: int, device: torch.device) -> torch.Generator:
        """Return the generator seeded for (seed, rank, step, stream) on ``device``."""
        if self._generator is None or self._generator.device != torch.device(device):
            self.start(device)
        assert self._generator is not None
        return self._generator.manual_seed(noise_seed(self._seed, rank, step, stream))
