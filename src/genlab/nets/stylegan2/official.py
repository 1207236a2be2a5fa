"""Tensor names of NVlabs/stylegan2-ada-pytorch's ``Generator`` (``G_ema``) and their genlab
names, to convert an official checkpoint into a :class:`StyleGAN2Generator` state dict.

The official names and shapes are enumerated here from reading ``training/networks.py`` (commit
d72cc7d; ``MappingNetwork``: ``embed`` when conditional, ``fc0..fc{L-1}``, buffer ``w_avg``;
``SynthesisNetwork``: ``b{res}`` blocks with ``const`` (4x4 only), ``conv0`` (res > 4), ``conv1``,
``torgb`` (architecture 'skip': every block); ``SynthesisLayer``: ``weight``, ``bias``,
``affine.{weight,bias}``, ``noise_strength``, buffers ``noise_const``, ``resample_filter``;
blocks hold a ``resample_filter`` buffer too). No official code is used. genlab's nets use the
same parameter names and storage convention (weights stored unscaled; the equalized-lr gain
is applied at run time), so the mapping is the identity on every parameter; the
``resample_filter`` buffers are the fixed [1, 3, 3, 1] filter (genlab builds it, and
:func:`convert_official` checks that the official ones equal it).
Not verified here: that converted weights give the official images (that needs the official
code and a checkpoint; genlab resamples before its 3x3 conv where the official uses a strided
transposed conv, which may need the up-sampling kernels flipped).
"""

from __future__ import annotations

import torch
from torch import Tensor

from genlab.nets.stylegan2.layers import fir_filter


def official_generator_shapes(
    image_size: int, channels: int = 3, latent_dim: int = 512, w_dim: int = 512,
    num_classes: int = 0, mapping_layers: int = 8, channel_base: int = 32768,
    channel_max: int = 512,
) -> dict[str, tuple[int, ...]]:  # fmt: skip
    """Name -> shape of every tensor in an official 'skip' ``Generator`` state dict."""
    out: dict[str, tuple[int, ...]] = {}
    embed = w_dim if num_classes > 0 else 0
    if num_classes > 0:
        out["mapping.embed.weight"], out["mapping.embed.bias"] = (embed, num_classes), (embed,)
    dims = [latent_dim + embed] + [w_dim] * mapping_layers
    for i in range(mapping_layers):
        out[f"mapping.fc{i}.weight"], out[f"mapping.fc{i}.bias"] = (dims[i + 1], dims[i]), (w_dim,)
    out["mapping.w_avg"] = (w_dim,)
    ch = {r: min(channel_base // r, channel_max) for r in (2**k for k in range(2, 11))}
    res = 4
    while res <= image_size:
        b, c_out = f"synthesis.b{res}", ch[res]
        out[f"{b}.resample_filter"] = (4, 4)
        layers = [("conv1", c_out, c_out)]
        if res == 4:
            out[f"{b}.const"] = (c_out, 4, 4)
        else:
            layers.insert(0, ("conv0", ch[res // 2], c_out))
        for name, c_in, c in layers:
            p = f"{b}.{name}"
            out.update({f"{p}.weight": (c, c_in, 3, 3), f"{p}.bias": (c,),
                        f"{p}.affine.weight": (c_in, w_dim), f"{p}.affine.bias": (c_in,),
                        f"{p}.noise_strength": (), f"{p}.noise_const": (res, res),
                        f"{p}.resample_filter": (4, 4)})  # fmt: skip
        out.update({f"{b}.torgb.weight": (channels, c_out, 1, 1), f"{b}.torgb.bias": (channels,),
                    f"{b}.torgb.affine.weight": (c_out, w_dim),
                    f"{b}.torgb.affine.bias": (c_out,)})  # fmt: skip
        res *= 2
    return out


def genlab_name(official: str) -> str | None:
    """genlab's state-dict key for an official tensor name; None for the fixed filters."""
    return None if official.endswith("resample_filter") else official


def convert_official(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """An official ``G_ema`` state dict -> genlab ``StyleGAN2Generator`` state dict.

    Raises ValueError if a ``resample_filter`` is not the standard [1, 3, 3, 1] filter (then the
    official net was built with another filter, which genlab does not implement)."""
    out, ref = {}, fir_filter()
    for name, tensor in state.items():
        new = genlab_name(name)
        if new is None:
            if tensor.shape != ref.shape or not torch.allclose(tensor.float().cpu(), ref):
                raise ValueError(f"{name} is not the [1, 3, 3, 1] filter genlab uses")
            continue
        out[new] = tensor
    return out
