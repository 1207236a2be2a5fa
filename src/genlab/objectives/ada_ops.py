"""ADA's differentiable augmentations (Karras et al. 2020, "Training Generative Adversarial
Networks with Limited Data", Appendix B.1, the 'bgc' set: pixel blitting, general geometric and
colour transforms).

Read against NVlabs/stylegan2-ada-pytorch ``training/augment.py`` (``AugmentPipe.forward``):
each op is applied per example with probability p (times its multiplier, 1 here), and the ops
compose into one inverse 3x3 geometric matrix (output pixel -> input pixel, origin at the image
centre, units of pixels) and one 4x4 colour matrix. Parameter distributions follow the paper /
official defaults: integer translation U(-0.125, 0.125) of the size; scale and anisotropic
scale 2^N(0, 0.2^2); rotation U(-pi, pi) applied before and after the anisotropic scaling, each
with probability 1 - sqrt(1 - p); fractional translation N(0, 0.125^2) of the size; brightness
N(0, 0.2^2); contrast 2^N(0, 0.5^2); luma flip; hue rotation U(-pi, pi) about the luma axis;
saturation 2^N(0, 1).

Simplification against the official file: the geometric transform is executed with one
bilinear ``grid_sample`` at the input resolution with reflection padding; the official code pads
by reflection, upsamples x2 with a wavelet (sym6) low-pass filter, samples and downsamples
(less aliasing for non-integer transforms). Pixel-blitting ops (flip, 90 degree rotation,
integer translation) land on pixel centres and are exact either way.

Images are (N, C, H, W) in [-1, 1]; every random draw comes from ``generator``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

GEOMETRIC = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")
COLOR = ("brightness", "contrast", "lumaflip", "hue", "saturation")
BGC = GEOMETRIC + COLOR


class Draw:
    """Per-example random draws for one batch: n examples on ``device`` from ``generator``."""

    def __init__(self, n: int, device: torch.device, generator: torch.Generator | None):
        self.n, self.device, self.gen = n, device, generator

    def rand(self, *shape: int) -> Tensor:
        """U(0, 1) of shape (n, *shape)."""
        return torch.rand(self.n, *shape, device=self.device, generator=self.gen)

    def randn(self, *shape: int) -> Tensor:
        """N(0, 1) of shape (n, *shape)."""
        return torch.randn(self.n, *shape, device=self.device, generator=self.gen)

    def gate(self, value: Tensor, identity: float, prob: Tensor | float) -> Tensor:
        """``value`` where U(0, 1) < prob (per example), else ``identity``."""
        keep = self.rand(*([1] * (value.dim() - 1))) < prob
        return torch.where(keep, value, torch.full_like(value, identity))


def _mat3(rows: list[list[Tensor | float]], n: int, device: torch.device) -> Tensor:
    """(n, 3, 3) from rows of per-example tensors (n,) or floats."""
    out = torch.zeros(n, 3, 3, device=device)
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            out[:, i, j] = v
    return out


def scale2d(sx: Tensor, sy: Tensor) -> Tensor:
    """Scaling matrices (N, 3, 3)."""
    return _mat3([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], sx.shape[0], sx.device)


def translate2d(tx: Tensor, ty: Tensor) -> Tensor:
    """Translation matrices (N, 3, 3), in pixels."""
    return _mat3([[1, 0, tx], [0, 1, ty], [0, 0, 1]], tx.shape[0], tx.device)


def rotate2d(theta: Tensor) -> Tensor:
    """Rotation matrices (N, 3, 3) by ``theta`` radians."""
    c, s = theta.cos(), theta.sin()
    return _mat3([[c, -s, 0], [s, c, 0], [0, 0, 1]], theta.shape[0], theta.device)


def geometric_steps(
    d: Draw, p: Tensor, ops: tuple[str, ...], h: int, w: int
) -> list[tuple[str, Tensor]]:
    """The inverse matrices (N, 3, 3) of the enabled geometric ops, in the official order."""
    out: list[tuple[str, Tensor]] = []
    if "xflip" in ops:
        i = d.gate(torch.floor(d.rand() * 2), 0.0, p)
        out.append(("xflip", scale2d(1 - 2 * i, torch.ones_like(i))))
    if "rotate90" in ops:
        i = d.gate(torch.floor(d.rand() * 4), 0.0, p)
        out.append(("rotate90", rotate2d(math.pi / 2 * i)))
    if "xint" in ops:
        t = d.gate((d.rand(2) * 2 - 1) * 0.125, 0.0, p)
        out.append(("xint", translate2d(-torch.round(t[:, 0] * w), -torch.round(t[:, 1] * h))))
    if "scale" in ops:
        s = d.gate(torch.exp2(d.randn() * 0.2), 1.0, p)
        out.append(("scale", scale2d(1 / s, 1 / s)))
    p_rot = 1 - torch.sqrt((1 - p).clamp(0, 1))  # P(pre or post rotation) = p
    if "rotate" in ops:
        theta = d.gate((d.rand() * 2 - 1) * math.pi, 0.0, p_rot)
        out.append(("rotate", rotate2d(theta)))
    if "aniso" in ops:
        s = d.gate(torch.exp2(d.randn() * 0.2), 1.0, p)
        out.append(("aniso", scale2d(1 / s, s)))
    if "rotate" in ops:
        theta = d.gate((d.rand() * 2 - 1) * math.pi, 0.0, p_rot)
        out.append(("rotate", rotate2d(theta)))
    if "xfrac" in ops:
        t = d.gate(d.randn(2) * 0.125, 0.0, p)
        out.append(("xfrac", translate2d(-t[:, 0] * w, -t[:, 1] * h)))
    return out


def apply_geometric(x: Tensor, g_inv: Tensor) -> Tensor:
    """Resample x (N, C, H, W) so output pixel q reads input pixel g_inv @ q (centred pixel
    coordinates); bilinear, reflection padding. Differentiable w.r.t. x."""
    n, _, h, w = x.shape
    to_norm = torch.diag(torch.tensor([2.0 / w, 2.0 / h, 1.0], device=x.device))
    from_norm = torch.diag(torch.tensor([w / 2.0, h / 2.0, 1.0], device=x.device))
    theta = (to_norm @ g_inv @ from_norm)[:, :2, :].to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


LUMA = torch.tensor([1.0, 1.0, 1.0, 0.0]) / math.sqrt(3.0)


def _eye4(n: int, device: torch.device) -> Tensor:
    return torch.eye(4, device=device).expand(n, 4, 4).clone()


def color_steps(
    d: Draw, p: Tensor, ops: tuple[str, ...], channels: int
) -> list[tuple[str, Tensor]]:
    """The 4x4 colour matrices (N, 4, 4) of the enabled colour ops, in the official order (hue
    and saturation only for RGB)."""
    n, dev = d.n, d.device
    v = LUMA.to(dev)
    vv = torch.outer(v, v)
    out: list[tuple[str, Tensor]] = []
    if "brightness" in ops:
        b = d.gate(d.randn() * 0.2, 0.0, p)
        m = _eye4(n, dev)
        m[:, :3, 3] = b[:, None]
        out.append(("brightness", m))
    if "contrast" in ops:
        c = d.gate(torch.exp2(d.randn() * 0.5), 1.0, p)
        m = _eye4(n, dev)
        m[:, :3, :3] *= c[:, None, None]
        out.append(("contrast", m))
    if "lumaflip" in ops:
        i = d.gate(torch.floor(d.rand() * 2), 0.0, p)
        out.append(("lumaflip", _eye4(n, dev) - 2 * vv * i[:, None, None]))  # Householder
    if "hue" in ops and channels > 1:
        theta = d.gate((d.rand() * 2 - 1) * math.pi, 0.0, p)
        out.append(("hue", _rotate_about(v[:3], theta)))
    if "saturation" in ops and channels > 1:
        s = d.gate(torch.exp2(d.randn()), 1.0, p)
        out.append(("saturation", vv + (torch.eye(4, device=dev) - vv) * s[:, None, None]))
    return out


def _rotate_about(axis: Tensor, theta: Tensor) -> Tensor:
    """Homogeneous 4x4 rotations (N, 4, 4) by ``theta`` about the unit 3-vector ``axis``
    (Rodrigues: cos I + sin [a]_x + (1 - cos) a a^T)."""
    n = theta.shape[0]
    ax, ay, az = axis.tolist()
    cross = torch.tensor([[0, -az, ay], [az, 0, -ax], [-ay, ax, 0]], device=theta.device)
    c, s = theta.cos()[:, None, None], theta.sin()[:, None, None]
    rot = c * torch.eye(3, device=theta.device) + s * cross + (1 - c) * torch.outer(axis, axis)
    m = _eye4(n, theta.device)
    m[:, :3, :3] = rot
    return m


def apply_color(x: Tensor, c: Tensor) -> Tensor:
    """Apply colour matrices c (N, 4, 4) to x (N, C, H, W), C = 3 (RGB) or 1 (the mean of the
    RGB rows, as the official code). Differentiable w.r.t. x."""
    n, ch, h, w = x.shape
    flat = x.reshape(n, ch, h * w)
    c = c.to(x.dtype)
    if ch == 3:
        flat = c[:, :3, :3] @ flat + c[:, :3, 3:]
    elif ch == 1:
        m = c[:, :3, :].mean(dim=1, keepdim=True)  # (N, 1, 4)
        flat = flat * m[:, :, :3].sum(dim=2, keepdim=True) + m[:, :, 3:]
    else:
        raise ValueError(f"ADA colour ops need 1 or 3 channels, got {ch}")
    return flat.reshape(n, ch, h, w)


def augment(
    x: Tensor, p: Tensor, ops: tuple[str, ...], generator: torch.Generator | None = None
) -> Tensor:
    """x (N, C, H, W) in [-1, 1] through the enabled ``ops`` with probability p each."""
    n, ch, h, w = x.shape
    d = Draw(n, x.device, generator)
    p = p.to(x.device).float()
    geo = geometric_steps(d, p, ops, h, w)
    if geo:
        g_inv = torch.eye(3, device=x.device).expand(n, 3, 3)
        for _, m in geo:
            g_inv = g_inv @ m
        x = apply_geometric(x, g_inv)
    col = color_steps(d, p, ops, ch)
    if col:
        c = _eye4(n, x.device)
        for _, m in col:
            c = m @ c
        x = apply_color(x, c)
    return x
