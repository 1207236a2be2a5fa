"""StyleGAN2 mapping network z -> w (Karras et al. 2019 Sec. 2, 2020 Appendix B).

Read against NVlabs/stylegan2-ada-pytorch ``training/networks.py`` (``MappingNetwork``): z is
normalised to unit second moment, an optional class embedding is normalised and concatenated,
then ``num_layers`` equalized-lr fully connected layers with leaky ReLU and learning-rate
multiplier ``lr_multiplier`` (0.01 in the paper: the mapping net learns 100x slower). A running
mean of w (``w_avg``, decay ``w_avg_beta`` per training forward) is a buffer; it is the centre of
the truncation trick w' = w_avg + psi (w - w_avg) (Karras et al. 2019, Sec. 5.1 / Appendix B).
Layer names ``fc0..fc{L-1}`` and ``embed`` match the official file.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.nets.stylegan2.layers import EqualLinear, normalize_2nd_moment
from genlab.utils.ranges import Num, check_ranges


class MappingNetwork(nn.Module):
    """z (N, z_dim) [and labels (N,)] -> w (N, w_dim), or (N, num_ws, w_dim) when broadcast.

    Args:
        z_dim: latent size (0 = labels only, as in the conditional discriminator).
        num_classes: 0 = unconditional; else labels are one-hot embedded (``embed``).
        w_dim: intermediate latent size. num_layers: fully connected layers (8; CIFAR uses 2).
        lr_multiplier: equalized-lr multiplier of every layer (paper: 0.01).
        w_avg_beta: decay of the tracked mean of w (None = do not track; no truncation).
        num_ws: broadcast w to this many style inputs (None = return (N, w_dim)).
    """

    RANGES = {
        "z_dim": Num(integer=True, low=0),
        "num_classes": Num(integer=True, low=0),
        "w_dim": Num(integer=True, low=1),
        "num_layers": Num(integer=True, low=1),
        "lr_multiplier": Num(low=0, low_open=True),
        "w_avg_beta": Num(low=0, high=1, optional=True),
        "num_ws": Num(integer=True, low=1, optional=True),
    }

    def __init__(
        self,
        z_dim: int,
        w_dim: int,
        num_classes: int = 0,
        num_layers: int = 8,
        lr_multiplier: float = 0.01,
        w_avg_beta: float | None = 0.995,
        num_ws: int | None = None,
    ) -> None:
        check_ranges(
            self, z_dim=z_dim, num_classes=num_classes, w_dim=w_dim, num_layers=num_layers,
            lr_multiplier=lr_multiplier, w_avg_beta=w_avg_beta, num_ws=num_ws,
        )  # fmt: skip
        if z_dim == 0 and num_classes == 0:
            raise ValueError("MappingNetwork needs z_dim > 0 or num_classes > 0")
        super().__init__()
        self.z_dim, self.num_classes, self.w_dim = z_dim, num_classes, w_dim
        self.num_layers, self.num_ws, self.w_avg_beta = num_layers, num_ws, w_avg_beta
        embed = w_dim if num_classes > 0 else 0
        if num_classes > 0:
            self.embed = EqualLinear(num_classes, embed)
        feats = [z_dim + embed] + [w_dim] * num_layers
        for i in range(num_layers):
            layer = EqualLinear(
                feats[i], feats[i + 1], activation="lrelu", lr_multiplier=lr_multiplier
            )
            setattr(self, f"fc{i}", layer)
        if w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(
        self,
        z: Tensor | None,
        labels: Tensor | None = None,
        truncation_psi: float = 1.0,
        update_w_avg: bool = True,
    ) -> Tensor:
        """Return w (N, w_dim) or (N, num_ws, w_dim); truncated towards ``w_avg`` when psi != 1.
        ``w_avg`` is updated in training mode (unless ``update_w_avg`` is False)."""
        parts = []
        if self.z_dim > 0:
            parts.append(normalize_2nd_moment(z.float()))
        if self.num_classes > 0:
            if labels is None:
                raise ValueError("this mapping network is conditional and needs labels")
            onehot = F.one_hot(labels.long(), self.num_classes).float()
            parts.append(normalize_2nd_moment(self.embed(onehot)))
        x = torch.cat(parts, dim=1)
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        if self.w_avg_beta is not None and self.training and update_w_avg:
            with torch.no_grad():
                # float32 buffer, also under autocast (x may be bf16 or fp16)
                mean = x.detach().to(self.w_avg.dtype).mean(dim=0)
                self.w_avg.copy_(mean.lerp(self.w_avg, self.w_avg_beta))
        if self.num_ws is not None:
            x = x[:, None].repeat(1, self.num_ws, 1)
        if truncation_psi != 1.0:
            if self.w_avg_beta is None:
                raise ValueError("truncation needs a tracked w_avg (w_avg_beta is None)")
            x = self.w_avg.to(x.dtype).lerp(x, truncation_psi)
        return x
