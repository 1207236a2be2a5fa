"""BigGAN-deep generator at 128 px (Brock et al. 2019, "Large Scale GAN Training for High Fidelity
Natural Image Synthesis", Appendix B, Fig. 16 and Table 5), the architecture of the public
BigGAN-deep models that ``pytorch-pretrained-biggan`` (PyPI) ships.

Differences from the BigGAN generator of :mod:`genlab.nets.biggan.nets` (paper App. B.2): the
whole z is concatenated with the shared class embedding and that one vector conditions every
batch norm (no hierarchical chunks); the residual blocks are bottlenecks (1x1 conv to
channels / ``bottleneck``, two 3x3 convs, 1x1 conv back) with the shortcut keeping the first
``c_out`` channels instead of a 1x1 conv; each resolution has two blocks (the second one
up-samples). Read against ajbrock/BigGAN-PyTorch ``BigGANdeep.py`` (``GBlock``, arch[128]:
widths ch x [16, 16, 8, 4, 2] -> [16, 8, 4, 2, 1], attention at 64) and the package's
``model.py`` / ``config.py`` (no code taken from either). Spectral norm (genlab's parametrization)
on every conv and linear layer, batch-norm eps 1e-4, orthogonal init.

Two options exist only to hold the public weights exactly: ``out_conv_channels`` (the public
model's last conv has ``ch`` filters of which the first 3 are the image) and class vectors
(``labels`` may be (N, num_classes) floats, e.g. one-hot or a mix of classes, multiplied into
the embedding table as the package's linear class embedding does). Map the package's weights with
:func:`genlab.nets.biggan.pretrained.convert_pretrained_biggan`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.nets.attention import SelfAttention, check_attention_res
from genlab.nets.biggan.layers import ConditionalBatchNorm
from genlab.nets.biggan.nets import _orthogonal_init
from genlab.nets.spectral import add_spectral_norm
from genlab.utils.ranges import Num, check_ranges

#: image_size -> (input, output) widths in units of ch per resolution stage (BigGANdeep.py arch).
DEEP_WIDTHS = {128: ([16, 16, 8, 4, 2], [16, 8, 4, 2, 1])}


class DeepGBlock(nn.Module):
    """BigGAN-deep block: cBN, ReLU, 1x1 conv (c_in -> c_in / bottleneck), cBN, ReLU, (x2 nearest
    up,) 3x3 conv, cBN, ReLU, 3x3 conv, cBN, ReLU, 1x1 conv (-> c_out); shortcut: the first c_out
    channels (c_out <= c_in), (x2 nearest up); output = residual + shortcut."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int, up: bool, bottleneck: int) -> None:
        if c_out > c_in:
            raise ValueError(f"DeepGBlock drops channels only: c_out={c_out} > c_in={c_in}")
        if c_in // bottleneck < 1:
            raise ValueError(
                f"DeepGBlock: bottleneck={bottleneck} leaves no channels of c_in={c_in}; "
                "use a smaller bottleneck or a larger ch."
            )
        super().__init__()
        mid, self.up, self.c_out = c_in // bottleneck, up, c_out
        self.bn0, self.conv0 = ConditionalBatchNorm(c_in, cond_dim), nn.Conv2d(c_in, mid, 1)
        self.bn1, self.conv1 = ConditionalBatchNorm(mid, cond_dim), nn.Conv2d(mid, mid, 3, 1, 1)
        self.bn2, self.conv2 = ConditionalBatchNorm(mid, cond_dim), nn.Conv2d(mid, mid, 3, 1, 1)
        self.bn3, self.conv3 = ConditionalBatchNorm(mid, cond_dim), nn.Conv2d(mid, c_out, 1)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """(N, c_in, R, R), cond (N, cond_dim) -> (N, c_out, 2R or R, .)."""
        h = self.conv0(F.relu(self.bn0(x, y)))
        h = F.relu(self.bn1(h, y))
        if self.up:
            h = F.interpolate(h, scale_factor=2)
        h = self.conv2(F.relu(self.bn2(self.conv1(h), y)))
        h = self.conv3(F.relu(self.bn3(h, y)))
        s = x[:, : self.c_out]
        return h + (F.interpolate(s, scale_factor=2) if self.up else s)


class BigGANDeepGenerator(nn.Module):
    """(z (N, latent_dim), labels (N,) ints or (N, num_classes) class vectors) -> images
    (N, channels, 128, 128) in [-1, 1].

    Args:
        num_classes: classes of the shared embedding (public models: 1000).
        latent_dim: z size (128). shared_dim: class embedding size (128).
        ch: width unit (128 in the public 128 px model: 2048 channels at 4x4).
        attention_res: resolution after whose stage self-attention runs (64) or None.
        bottleneck: channel reduction inside a block (4). bn_eps: batch-norm eps (1e-4).
        out_conv_channels: filters of the last 3x3 conv (None = ``channels``); the first
            ``channels`` of them are the image.
    """

    RANGES = {
        "num_classes": Num(integer=True, low=1),
        "latent_dim": Num(integer=True, low=1),
        "shared_dim": Num(integer=True, low=1),
        "ch": Num(integer=True, low=4),
        "bottleneck": Num(integer=True, low=1),
        "bn_eps": Num(low=0, low_open=True),
        "out_conv_channels": Num(integer=True, low=1, optional=True),
    }

    def __init__(
        self,
        num_classes: int,
        latent_dim: int = 128,
        image_size: int = 128,
        channels: int = 3,
        ch: int = 128,
        shared_dim: int = 128,
        attention_res: int | None = 64,
        bottleneck: int = 4,
        bn_eps: float = 1e-4,
        out_conv_channels: int | None = None,
    ) -> None:
        check_ranges(self, num_classes=num_classes, latent_dim=latent_dim, shared_dim=shared_dim,
                     ch=ch, bottleneck=bottleneck, bn_eps=bn_eps,
                     out_conv_channels=out_conv_channels)  # fmt: skip
        if image_size not in DEEP_WIDTHS:
            raise ValueError(
                f"BigGANDeepGenerator: image_size={image_size} has no width table; "
                f"allowed: {sorted(DEEP_WIDTHS)} (data.image_size)."
            )
        if out_conv_channels is not None and out_conv_channels < channels:
            raise ValueError(
                f"BigGANDeepGenerator: out_conv_channels={out_conv_channels} < channels="
                f"{channels}; use null or at least {channels}."
            )
        widths_in, widths_out = DEEP_WIDTHS[image_size]
        resolutions = [8 * 2**i for i in range(len(widths_in))]
        check_attention_res(attention_res, resolutions, "BigGANDeepGenerator")
        super().__init__()
        self.num_classes, self.latent_dim, self.channels = num_classes, latent_dim, channels
        self.data_shape = (channels, image_size, image_size)
        self.width0 = widths_in[0] * ch
        cond = latent_dim + shared_dim
        self.shared = nn.Embedding(num_classes, shared_dim)
        self.linear = nn.Linear(cond, 4 * 4 * self.width0)
        self.blocks = nn.ModuleList()
        self.attention = nn.ModuleDict()
        self.stage_ends: list[tuple[int, int]] = []  # (index of the stage's last block, res)
        for w_in, w_out, res in zip(widths_in, widths_out, resolutions, strict=True):
            self.blocks.append(DeepGBlock(w_in * ch, w_in * ch, cond, False, bottleneck))
            self.blocks.append(DeepGBlock(w_in * ch, w_out * ch, cond, True, bottleneck))
            self.stage_ends.append((len(self.blocks) - 1, res))
            if res == attention_res:
                self.attention[str(res)] = SelfAttention(w_out * ch)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eps = bn_eps
        self.out_bn = nn.BatchNorm2d(widths_out[-1] * ch, eps=bn_eps)
        self.out_conv = nn.Conv2d(widths_out[-1] * ch, out_conv_channels or channels, 3, 1, 1)
        _orthogonal_init(self)
        add_spectral_norm(self)

    def embed(self, labels: Tensor) -> Tensor:
        """Shared class embedding (N, shared_dim) of int labels (N,) or class vectors
        (N, num_classes) (a one-hot row gives the same embedding as its int label)."""
        if labels.ndim == 2 and labels.is_floating_point():
            if labels.shape[1] != self.num_classes:
                raise ValueError(
                    f"class vectors have {labels.shape[1]} entries; this generator has "
                    f"{self.num_classes} classes."
                )
            return labels @ self.shared.weight
        return self.shared(labels.long())

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        """Images (N, C, 128, 128) in [-1, 1] of classes ``labels``."""
        cond = torch.cat([z.flatten(start_dim=1), self.embed(labels)], dim=1)
        h = self.linear(cond).view(z.shape[0], self.width0, 4, 4)
        ends = dict(self.stage_ends)
        for i, block in enumerate(self.blocks):
            h = block(h, cond)
            if i in ends and str(ends[i]) in self.attention:
                h = self.attention[str(ends[i])](h)
        h = self.out_conv(F.relu(self.out_bn(h)))
        return torch.tanh(h[:, : self.channels])
