"""Gated PixelCNN over a grid of discrete codes (van den Oord et al. 2016, "Conditional Image
Generation with PixelCNN Decoders"; used as the VQ-VAE prior in van den Oord et al. 2017).

Two stacks remove the blind spot of masked convolutions: the **vertical** stack at row i sees
rows <= i (kernel (k//2 + 1, k), padded above), and reaches the **horizontal** stack only
shifted down one row, so position (i, j) gets rows < i from it; the horizontal stack at (i, j)
sees columns <= j of its own row (kernel (1, k//2 + 1), padded on the left), columns < j in the
first layer (mask "A": its input is the code grid itself, and that layer has no residual).
Each layer uses the gated activation tanh(W_f * x + V_f h) * sigmoid(W_g * x + V_g h) with h a
learned class embedding (conditional model) or absent. Output: logits over the K codes at each
position, (B, K, H, W); logit (i, j) depends only on codes before (i, j) in raster order
(``tests/test_vqvae_prior.py`` checks this with autograd).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.utils.ranges import Num, check_ranges


def _gate(x: Tensor) -> Tensor:
    """tanh(first half) * sigmoid(second half) over the channel dim."""
    a, b = x.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


class GatedLayer(nn.Module):
    """One gated layer of both stacks; ``first`` makes the horizontal stack strictly causal."""

    def __init__(self, dim: int, kernel: int, num_classes: int, first: bool) -> None:
        super().__init__()
        self.kernel, self.first = kernel, first
        half = kernel // 2
        self.v_conv = nn.Conv2d(dim, 2 * dim, (half + 1, kernel))
        self.v_to_h = nn.Conv2d(2 * dim, 2 * dim, 1)
        # first layer: columns < j only (mask A), later ones columns <= j (mask B)
        self.h_width = half if first else half + 1
        self.h_conv = nn.Conv2d(dim, 2 * dim, (1, self.h_width))
        self.h_out = nn.Conv2d(dim, dim, 1)
        self.embed = nn.Embedding(num_classes, 2 * dim) if num_classes > 0 else None

    def forward(self, v: Tensor, h: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor]:
        """Return the next (vertical, horizontal) features, each (B, dim, H, W)."""
        height, width = v.shape[-2:]
        half = self.kernel // 2
        v_pre = self.v_conv(F.pad(v, (half, half, half, 0)))  # rows i - half .. i
        # shifted down one row: row i gets the vertical features of row i - 1
        v_shift = F.pad(v_pre, (0, 0, 1, 0))[:, :, :height]
        if self.first:  # columns j - half .. j - 1 of the input
            h_conv = self.h_conv(F.pad(h, (self.h_width, 0)))[..., :width]
        else:  # columns j - half .. j
            h_conv = self.h_conv(F.pad(h, (self.h_width - 1, 0)))
        h_pre = h_conv + self.v_to_h(v_shift)
        if self.embed is not None:
            cond = self.embed(y)[:, :, None, None]
            v_pre, h_pre = v_pre + cond, h_pre + cond
        v_next = _gate(v_pre)
        h_next = self.h_out(_gate(h_pre))
        return v_next, (h_next if self.first else h + h_next)


class GatedPixelCNN(nn.Module):
    """Autoregressive model p(c) = prod_{i,j} p(c_ij | c_<ij [, y]) of a (H, W) code grid.

    Args:
        num_codes: K, the number of code values.
        grid_shape: (H, W) of the code grid (read from the VQ-VAE by ``VQVAEPrior``).
        dim: channels of both stacks.
        num_layers: gated layers (the first is the strictly causal one).
        kernel: odd kernel width of the stacks.
        num_classes: > 0: conditional on labels in [0, num_classes) (class embedding added to
            every gate); 0: unconditional.
    """

    RANGES = {  # noqa: RUF012 - declared ranges (genlab.utils.ranges)
        "num_codes": Num(integer=True, low=2),
        "dim": Num(integer=True, low=1),
        "num_layers": Num(integer=True, low=1),
        "kernel": Num(integer=True, low=3),
        "num_classes": Num(integer=True, low=0),
    }

    def __init__(
        self,
        num_codes: int,
        grid_shape: tuple[int, int],
        dim: int = 64,
        num_layers: int = 8,
        kernel: int = 5,
        num_classes: int = 0,
    ) -> None:
        check_ranges(
            self,
            num_codes=num_codes,
            dim=dim,
            num_layers=num_layers,
            kernel=kernel,
            num_classes=num_classes,
        )
        if kernel % 2 == 0:
            raise ValueError(f"model.pixelcnn.kernel={kernel} must be odd")
        super().__init__()
        self.num_codes, self.num_classes = int(num_codes), int(num_classes)
        self.grid_shape = tuple(int(s) for s in grid_shape)
        self.embedding = nn.Embedding(num_codes, dim)
        self.layers = nn.ModuleList(
            GatedLayer(dim, kernel, num_classes, first=(i == 0)) for i in range(num_layers)
        )
        self.head = nn.Sequential(
            nn.Conv2d(dim, 4 * dim, 1), nn.ReLU(), nn.Conv2d(4 * dim, num_codes, 1)
        )

    def forward_embedded(self, e: Tensor, y: Tensor | None = None) -> Tensor:
        """Logits (B, K, H, W) from code embeddings e (B, dim, H, W) (differentiable in e)."""
        if self.num_classes > 0 and y is None:
            raise ValueError("this PixelCNN is conditional (num_classes > 0) and needs labels")
        y = y.long() if (y is not None and self.num_classes > 0) else None
        v, h = e, e
        for layer in self.layers:
            v, h = layer(v, h, y)
        return self.head(h)

    def forward(self, codes: Tensor, y: Tensor | None = None) -> Tensor:
        """Logits (B, K, H, W) of each position given the codes before it; codes (B, H, W)."""
        return self.forward_embedded(self.embedding(codes).permute(0, 3, 1, 2), y)

    def log_prob(self, codes: Tensor, y: Tensor | None = None) -> Tensor:
        """log p(codes [| y]) of each grid, (B,), nats."""
        logits = self(codes, y)
        return -F.cross_entropy(logits, codes, reduction="none").flatten(1).sum(1)

    @torch.no_grad()
    def sample(self, u: Tensor, y: Tensor | None = None) -> Tensor:
        """Ancestral sampling in raster order by inverse CDF: u (B, H, W) uniform in [0, 1)
        picks code c_ij = min{k : CDF_ij(k) > u_ij}; returns int64 codes (B, H, W).

        One network pass per position (H * W passes); the same u gives the same grid.
        """
        batch, (height, width) = u.shape[0], self.grid_shape
        codes = torch.zeros(batch, height, width, dtype=torch.long, device=u.device)
        for i in range(height):
            for j in range(width):
                probs = self(codes, y)[:, :, i, j].float().softmax(-1)
                cdf = probs.cumsum(-1)
                pick = (cdf <= u[:, i, j, None].float()).sum(-1)
                codes[:, i, j] = pick.clamp(max=self.num_codes - 1)
        return codes
