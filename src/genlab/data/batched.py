"""Whole-batch indexing for in-memory tensor datasets (no per-item ``__getitem__`` + collate)."""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset


class BatchedTensorDataset(TensorDataset):
    """A ``TensorDataset`` that the DataLoader indexes once per batch.

    The DataLoader's fetcher calls ``__getitems__`` with the sampler's batch of indices (so
    shuffling and its seeding are those of the plain ``TensorDataset``); use it with
    ``collate_fn=keep_batch``.
    """

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, ...]:
        """Return ``tuple(t[indices] for t in tensors)``: one batch, each (B, ...)."""
        index = torch.as_tensor(indices, dtype=torch.long)
        return tuple(t[index.to(t.device)] for t in self.tensors)


def keep_batch(batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """Collate function for ``BatchedTensorDataset``: the batch is already collated."""
    return batch
