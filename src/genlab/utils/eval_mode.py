"""``eval_mode(module)``: switch a module to eval mode without gradients for a block and restore
its training flag afterwards (for callbacks and metrics that draw from a model mid-training)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def eval_mode(module: torch.nn.Module, no_grad: bool = True) -> Iterator[torch.nn.Module]:
    """Within the block ``module`` is in eval mode (and autograd is off unless ``no_grad`` is
    False); on exit, even after an error, its previous ``training`` flag is restored."""
    was_training = module.training
    module.eval()
    try:
        if no_grad:
            with torch.no_grad():
                yield module
        else:
            yield module
    finally:
        module.train(was_training)
