"""StyleGAN2 building blocks: equalized learning rate, modulated convolution, FIR resampling.

Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN" (Sec. 2.2, eqs. 1-3;
Appendix B) and the official PyTorch port NVlabs/stylegan2-ada-pytorch ``training/networks.py``
(``FullyConnectedLayer``, ``Conv2dLayer``, ``modulated_conv2d``, ``normalize_2nd_moment``) and
``torch_utils/ops/upfirdn2d.py`` (the [1, 3, 3, 1] low-pass filter). Written from the paper and
read against that file; the parameter names (``weight``, ``bias``) follow it so that official
state dicts map tensor by tensor.

Equalized learning rate (Karras et al. 2018, Sec. 4.1): parameters are stored as N(0, 1) / lr_mul
and scaled at run time by ``weight_gain = lr_mul / sqrt(fan_in)``; biases by ``lr_mul``. Adam's
update size is then the same for every layer, and ``lr_mul`` (0.01 in the mapping net) scales
the effective learning rate of a layer.

Upsampling/downsampling: zero-insertion + 4x4 FIR filter ([1, 3, 3, 1] outer product, gain 4) /
FIR filter + stride-2 decimation, as depthwise convolutions in plain PyTorch (no custom CUDA ops).
One simplification against the official file: the official x2 convolutions fuse resampling into a
transposed/strided conv with the filter applied on the other side; here the image is resampled
first and convolved after (up) or convolved then resampled (down). The weights have the same
shapes and meaning.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.utils.ranges import Num, check_ranges

LRELU_GAIN = math.sqrt(2.0)  # the official 'lrelu' def_gain: keeps unit variance after lrelu(0.2)


def normalize_2nd_moment(x: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """x / sqrt(mean(x^2) over ``dim`` + eps): the mapping net's input normalisation."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


def lrelu_act(x: Tensor, gain: float = LRELU_GAIN) -> Tensor:
    """leaky_relu(x, 0.2) * gain (the official bias_act 'lrelu' with its default gain sqrt 2)."""
    return F.leaky_relu(x, 0.2) * gain


class EqualLinear(nn.Module):
    """Fully connected layer with equalized learning rate (official ``FullyConnectedLayer``).

    ``weight`` (out, in) is initialised N(0, 1/lr_mul^2) and used as ``weight * lr_mul /
    sqrt(in)``; ``bias`` (out,) starts at ``bias_init`` (stored as bias_init, used times lr_mul).
    ``activation``: 'linear' or 'lrelu' (leaky ReLU 0.2 times sqrt 2).
    """

    RANGES = {
        "in_features": Num(integer=True, low=1),
        "out_features": Num(integer=True, low=1),
        "lr_multiplier": Num(low=0, low_open=True),
        "bias_init": Num(),
    }

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        activation: str = "linear",
        lr_multiplier: float = 1.0,
        bias_init: float = 0.0,
    ) -> None:
        check_ranges(
            self, in_features=in_features, out_features=out_features,
            lr_multiplier=lr_multiplier, bias_init=bias_init,
        )  # fmt: skip
        if activation not in ("linear", "lrelu"):
            raise ValueError(f"activation must be 'linear' or 'lrelu', got {activation!r}")
        super().__init__()
        self.activation = activation
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: Tensor) -> Tensor:
        """x (N, in) -> (N, out)."""
        b = None if self.bias is None else self.bias * self.bias_gain
        x = F.linear(x, self.weight * self.weight_gain, b)
        return lrelu_act(x) if self.activation == "lrelu" else x


def fir_filter(device: torch.device | None = None) -> Tensor:
    """The normalised 4x4 low-pass filter outer([1, 3, 3, 1]) / 64, shape (4, 4)."""
    f = torch.tensor([1.0, 3.0, 3.0, 1.0], device=device)
    f = f[:, None] * f[None, :]
    return f / f.sum()


def _depthwise(x: Tensor, f: Tensor, pad: tuple[int, int, int, int], stride: int = 1) -> Tensor:
    c = x.shape[1]
    x = F.pad(x, pad)
    return F.conv2d(x, f.to(x.dtype)[None, None].repeat(c, 1, 1, 1), stride=stride, groups=c)


def upsample2d(x: Tensor, f: Tensor) -> Tensor:
    """x (N, C, H, W) -> (N, C, 2H, 2W): zero insertion, then the FIR filter with gain 4."""
    n, c, h, w = x.shape
    up = x.new_zeros(n, c, h * 2, w * 2)
    up[:, :, ::2, ::2] = x
    return _depthwise(up, f * 4.0, (2, 1, 2, 1))


def downsample2d(x: Tensor, f: Tensor) -> Tensor:
    """x (N, C, H, W) -> (N, C, H/2, W/2): the FIR filter, then keep every second pixel."""
    return _depthwise(x, f, (1, 1, 1, 1), stride=2)


class EqualConv2d(nn.Module):
    """Convolution with equalized learning rate (official ``Conv2dLayer``), optional x2 down.

    ``weight`` (out, in, k, k) ~ N(0, 1) used times 1/sqrt(in k^2); 'same' padding; activation
    'linear' or 'lrelu'; ``forward(x, gain)`` multiplies the output by ``gain`` (sqrt(0.5) in
    residual blocks). Downsampling (``down=True``) filters with the FIR filter after the conv.
    """

    RANGES = {
        "in_channels": Num(integer=True, low=1),
        "out_channels": Num(integer=True, low=1),
        "kernel_size": Num(integer=True, low=1),
    }

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        activation: str = "linear",
        down: bool = False,
    ) -> None:
        check_ranges(
            self, in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size
        )
        if activation not in ("linear", "lrelu"):
            raise ValueError(f"activation must be 'linear' or 'lrelu', got {activation!r}")
        super().__init__()
        self.activation, self.down = activation, down
        self.padding = kernel_size // 2
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size**2)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.register_buffer("resample_filter", fir_filter(), persistent=False)

    def forward(self, x: Tensor, gain: float = 1.0) -> Tensor:
        """x (N, in, H, W) -> (N, out, H, W), or (N, out, H/2, W/2) when ``down``."""
        x = F.conv2d(x, self.weight * self.weight_gain, padding=self.padding)
        if self.down:
            x = downsample2d(x, self.resample_filter)
        if self.bias is not None:
            x = x + self.bias.view(1, -1, 1, 1)
        x = lrelu_act(x, LRELU_GAIN * gain) if self.activation == "lrelu" else x * gain
        return x


def modulated_conv2d(
    x: Tensor, weight: Tensor, styles: Tensor, demodulate: bool = True, padding: int = 0
) -> Tensor:
    """StyleGAN2's modulated convolution (Karras et al. 2020, eqs. 1 and 3).

    w'_ijk = s_i * w_ijk (modulation, per example); with ``demodulate``
    w''_ijk = w'_ijk / sqrt(sum_{i,k} w'_ijk^2 + 1e-8), so each output map has unit standard
    deviation for unit-variance, independent inputs. Implemented as one grouped convolution
    (the official "fused_modconv" path).

    Args:
        x: (N, I, H, W) activations. weight: (O, I, k, k). styles: (N, I) scales s_i.
    Returns:
        (N, O, H', W') with H' = H + 2 padding - k + 1.
    """
    n, c_in, h, w_ = x.shape
    c_out, _, kh, kw = weight.shape
    wt = weight[None] * styles[:, None, :, None, None]  # (N, O, I, k, k)
    if demodulate:
        wt = wt * (wt.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8).rsqrt()
    out = F.conv2d(
        x.reshape(1, n * c_in, h, w_), wt.reshape(n * c_out, c_in, kh, kw),
        padding=padding, groups=n,
    )  # fmt: skip
    return out.reshape(n, c_out, *out.shape[2:])
