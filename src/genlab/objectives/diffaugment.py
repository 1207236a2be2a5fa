"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN
Training"): random colour, translation and cutout transforms that are differentiable w.r.t.
the images, so they can sit between G and D in the generator step too.

Images are (N, C, H, W) in the nets' [-1, 1] range. Every random draw is per example and comes
from ``generator`` (a ``torch.Generator`` on the images' device), so a call is reproducible.
The transform constants follow the paper's reference code (mit-han-lab/data-efficient-gans):
brightness + U(-0.5, 0.5); saturation x U(0, 2) around the channel mean; contrast
x U(0.5, 1.5) around the image mean; translation by up to 1/8 of the size with zero fill;
cutout of a square of half the size (zero) at a random centre.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def _rand(x: Tensor, generator: torch.Generator | None) -> Tensor:
    return torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype, generator=generator)


def _randint(low: int, high: int, n: int, x: Tensor, gen: torch.Generator | None) -> Tensor:
    """Integers uniform in [low, high] (inclusive), shape (n,)."""
    return torch.randint(low, high + 1, (n,), device=x.device, generator=gen)


def color(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Random brightness, saturation and contrast, per example; same shape as x."""
    x = x + (_rand(x, generator) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_rand(x, generator) * 2.0) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(x, generator) + 0.5) + mean


def translation(
    x: Tensor, generator: torch.Generator | None = None, ratio: float = 0.125
) -> Tensor:
    """Shift each image by integers in [-round(ratio*H), round(ratio*H)] (rows) and likewise
    for columns; pixels shifted in are 0."""
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    th, tw = _randint(-sh, sh, n, x, generator), _randint(-sw, sw, n, x, generator)
    padded = F.pad(x, (sw, sw, sh, sh))
    rows = torch.arange(h, device=x.device)[None, :] + sh - th[:, None]  # (N, H)
    cols = torch.arange(w, device=x.device)[None, :] + sw - tw[:, None]  # (N, W)
    batch = torch.arange(n, device=x.device)[:, None, None]
    out = padded[batch, :, rows[:, :, None], cols[:, None, :]]  # (N, H, W, C)
    return out.permute(0, 3, 1, 2)


def cutout(x: Tensor, generator: torch.Generator | None = None, ratio: float = 0.5) -> Tensor:
    """Zero a square of round(ratio*H) x round(ratio*W) pixels centred at a random position
    (it may be clipped at the border), per example."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = _randint(0, h - (ch % 2), n, x, generator) - ch // 2
    left = _randint(0, w - (cw % 2), n, x, generator) - cw // 2
    rows = torch.arange(h, device=x.device)[None, :]
    cols = torch.arange(w, device=x.device)[None, :]
    in_rows = (rows >= top[:, None]) & (rows < top[:, None] + ch)  # (N, H)
    in_cols = (cols >= left[:, None]) & (cols < left[:, None] + cw)  # (N, W)
    keep = ~(in_rows[:, :, None] & in_cols[:, None, :])
    return x * keep[:, None].to(x.dtype)


TRANSFORMS: dict[str, Callable[..., Tensor]] = {
    "color": color,
    "translation": translation,
    "cutout": cutout,
}


def parse_policy(policy: str | Sequence[str] | None) -> tuple[str, ...]:
    """Return the transform names of ``policy`` ('color,translation,cutout', a list, or
    None/'' for none); ValueError naming ``model.augment.policy`` for an unknown name."""
    if not policy:
        return ()
    names = policy.split(",") if isinstance(policy, str) else list(policy)
    names = [n.strip() for n in names if n.strip()]
    unknown = [n for n in names if n not in TRANSFORMS]
    if unknown:
        raise ValueError(
            f"model.augment.policy: unknown transform(s) {unknown}; allowed: {list(TRANSFORMS)} "
            "(comma-separated, e.g. 'color,translation,cutout'; null = off)."
        )
    return tuple(names)


def diff_augment(
    x: Tensor, policy: str | Sequence[str] | None, generator: torch.Generator | None = None
) -> Tensor:
    """Apply the transforms of ``policy`` in order to images x (N, C, H, W) in [-1, 1];
    returns x unchanged for an empty policy. Differentiable w.r.t. x."""
    for name in parse_policy(policy):
        x = TRANSFORMS[name](x, generator)
    return x
