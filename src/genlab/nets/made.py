"""MADE: a masked autoencoder whose output d depends only on inputs < d (the IAF's network).

Germain, Gregor, Murray & Larochelle, "MADE: Masked Autoencoder for Distribution Estimation",
ICML 2015 (sequential degrees); used in IAF by Kingma et al. 2016 (official openai/iaf
``tf_utils/layers.py`` ``ar_multiconv2d``) and pythae ``normalizing_flows/made/made_model.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class MaskedLinear(nn.Linear):
    """A linear layer whose weight (out, in) is multiplied by a fixed 0/1 mask buffer."""

    def __init__(self, n_in: int, n_out: int, mask: Tensor) -> None:
        super().__init__(n_in, n_out)
        self.register_buffer("mask", mask.float())

    def forward(self, x: Tensor) -> Tensor:
        """Return x @ (mask * W)^T + b."""
        return F.linear(x, self.mask * self.weight, self.bias)


def made_masks(dim: int, hidden: Sequence[int]) -> list[Tensor]:
    """Return the masks of a MADE with sequential degrees: inputs 0..D-1, hidden units
    (j mod (D - 1)); a hidden unit of degree m sees inputs <= m, an output d sees degree < d."""
    degrees = [torch.arange(dim)] + [torch.arange(h) % max(dim - 1, 1) for h in hidden]
    masks = [(degrees[i + 1][:, None] >= degrees[i][None, :]) for i in range(len(hidden))]
    masks.append(degrees[-1][None, :] < torch.arange(dim)[:, None])
    return masks


class MADE(nn.Module):
    """Autoregressive net z (N, D) -> (m, s), each (N, D); m_d, s_d depend on z_{<d} only.

    Args:
        dim: D (>= 2 for a non-trivial flow; D = 1 gives constant outputs).
        hidden_dims: sizes of the masked hidden layers (ReLU between them).
        context_dim: size of an optional context h (N, context_dim) added (unmasked) to the
            first hidden layer, as in the IAF paper (0 = none).
    """

    def __init__(self, dim: int, hidden_dims: Sequence[int] = (128,), context_dim: int = 0):
        super().__init__()
        hidden_dims = list(hidden_dims)
        if not hidden_dims:
            raise ValueError("MADE needs at least one hidden layer (hidden_dims)")
        masks = made_masks(dim, hidden_dims)
        sizes = [dim, *hidden_dims]
        self.hidden = nn.ModuleList(
            MaskedLinear(a, b, m) for a, b, m in zip(sizes[:-1], sizes[1:], masks[:-1], strict=True)
        )
        self.out = MaskedLinear(hidden_dims[-1], 2 * dim, masks[-1].repeat(2, 1))
        self.context = nn.Linear(context_dim, hidden_dims[0]) if context_dim > 0 else None
        self.dim = dim

    def forward(self, z: Tensor, h: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Return (m, s) for inputs z (N, D) and optional context h (N, context_dim)."""
        a = z
        for i, layer in enumerate(self.hidden):
            a = layer(a)
            if i == 0 and self.context is not None:
                if h is None:
                    raise ValueError("this MADE was built with a context: pass h")
                a = a + self.context(h)
            a = F.relu(a)
        m, s = self.out(a).split(self.dim, dim=-1)
        return m, s
