"""Map a ``pytorch-pretrained-biggan`` (PyPI) ``BigGAN`` state dict onto
:class:`genlab.nets.biggan.deep.BigGANDeepGenerator`.

The package's names were read from its ``model.py`` / ``config.py`` (version 0.1.1; no code used):
``embeddings`` (a bias-free linear on class vectors, (z_dim, num_classes)); ``generator.gen_z``
(linear to 4x4x16ch, output in TF's (H, W, C) order); ``generator.layers.{i}``: bottleneck blocks
(``bn_0..bn_3`` with ``scale``/``offset`` linears and per-truncation statistics
``running_means``/``running_vars`` (n_stats, C), ``conv_0..conv_3``) with one ``SelfAttn``
(``snconv1x1_theta/phi/g/o_conv``, ``gamma``) inserted at ``attention_layer_position``;
``generator.bn`` (unconditional BN, same statistics table) and ``generator.conv_to_rgb`` (ch
filters, the first 3 are RGB). Spectral norm is torch's old hook API there (``weight_orig``,
``weight_u``, ``weight_v``) and the parametrization API here (``parametrizations.weight.
original``, ``.0._u``, ``.0._v``); both divide by sigma = u^T W v with the stored u, v in eval mode.

The package selects batch-norm statistics by truncation (51 tables for truncation in [0, 1]);
genlab's batch norms hold one set, so :func:`convert_pretrained_biggan` takes the truncation and
stores the statistics the package would use for it (its interpolation, as it computes it). The
noise truncation itself is the caller's (the package's ``truncated_noise_sample``; genlab
``model.truncation`` where the GAN has it).
"""

from __future__ import annotations

import math
import re
from typing import Any

import torch
from torch import Tensor

from genlab.nets.biggan.deep import DEEP_WIDTHS

SN_SUFFIXES = {
    "weight_orig": "parametrizations.weight.original",
    "weight_u": "parametrizations.weight.0._u",
    "weight_v": "parametrizations.weight.0._v",
}
ATTENTION_NAMES = {"snconv1x1_theta": "theta", "snconv1x1_phi": "phi", "snconv1x1_g": "g",
                   "snconv1x1_o_conv": "o"}  # fmt: skip


def stats_at_truncation(table: Tensor, truncation: float) -> Tensor:
    """Row of a (n_stats, C) statistics table for ``truncation`` in (0, 1], as the package's
    ``BigGANBatchNorm`` picks it: index, fraction = modf(truncation * (n_stats - 1)); with a
    fraction, ``table[index] * fraction + table[index + 1] * (1 - fraction)`` (the package's
    weighting, kept so that outputs agree)."""
    if not 0.0 < truncation <= 1.0:
        raise ValueError(f"truncation={truncation} must be in (0, 1] (the package asserts it).")
    coef, start = math.modf(truncation / (1.0 / (table.shape[0] - 1)))
    start = int(start)
    if coef != 0.0:
        return table[start] * coef + table[start + 1] * (1 - coef)
    return table[start].clone()


def _tf_to_chw_rows(t: Tensor, channels: int) -> Tensor:
    """Reorder gen_z's output rows from (4, 4, C) order to genlab's (C, 4, 4) view order."""
    shape = t.shape[1:]
    return t.reshape(4, 4, channels, *shape).permute(2, 0, 1, *range(3, 3 + len(shape)))\
        .reshape(16 * channels, *shape)  # fmt: skip


def _sn(prefix_out: str, suffix: str) -> str:
    return f"{prefix_out}.{SN_SUFFIXES.get(suffix, suffix)}"


def generator_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    """genlab ``BigGANDeepGenerator`` keyword arguments for a package ``BigGANConfig`` dict
    (``config.to_dict()`` or its config.json); ValueError when genlab has no such architecture."""
    size = int(config["output_dim"])
    ch = int(config["channel_width"])
    if size not in DEEP_WIDTHS:
        raise ValueError(
            f"output_dim={size}: genlab's BigGAN-deep has widths for {sorted(DEEP_WIDTHS)}"
        )
    widths_in, widths_out = DEEP_WIDTHS[size]
    expected = []
    for w_in, w_out in zip(widths_in, widths_out, strict=True):
        expected += [(False, w_in, w_in), (True, w_in, w_out)]
    got = [(bool(u), int(a), int(b)) for u, a, b in config["layers"]]
    if got != expected:
        raise ValueError(f"package layers {got} differ from genlab's BigGAN-deep {expected}")
    if int(config["class_embed_dim"]) != int(config["z_dim"]):
        raise ValueError("the package conditions on 2 * z_dim: class_embed_dim must equal z_dim")
    pos = int(config["attention_layer_position"])
    if pos % 2:
        raise ValueError(f"attention_layer_position={pos} is inside a resolution stage")
    return {"num_classes": int(config["num_classes"]), "latent_dim": int(config["z_dim"]),
            "image_size": size, "channels": 3, "ch": ch,
            "shared_dim": int(config["class_embed_dim"]), "attention_res": 4 * 2 ** (pos // 2),
            "bn_eps": float(config["eps"]),
            "out_conv_channels": ch}  # fmt: skip


def convert_pretrained_biggan(
    state_dict: dict[str, Tensor], truncation: float = 1.0
) -> dict[str, Tensor]:
    """Return a :class:`BigGANDeepGenerator` state dict (built with :func:`generator_kwargs`)
    holding the package model's weights and its batch-norm statistics for ``truncation``.

    Raises KeyError naming any package tensor that has no genlab name (so nothing is dropped).
    """
    sd = {k: v.detach().clone() for k, v in state_dict.items()}
    width0 = sd["generator.gen_z.weight_orig"].shape[0] // 16
    attn = {int(m.group(1)) for k in sd if (m := re.match(r"generator\.layers\.(\d+)\.snconv", k))}
    pos = min(attn) if attn else None
    out: dict[str, Tensor] = {"shared.weight": sd.pop("embeddings.weight").t().contiguous()}
    for suffix in ("weight_orig", "weight_u", "bias"):
        out[_sn("linear", suffix)] = _tf_to_chw_rows(sd.pop(f"generator.gen_z.{suffix}"), width0)
    out[_sn("linear", "weight_v")] = sd.pop("generator.gen_z.weight_v")
    for key in [k for k in sd if k.startswith("generator.layers.")]:
        idx, rest = key[len("generator.layers.") :].split(".", 1)
        i, value = int(idx), sd.pop(key)
        if i == pos:
            if rest == "gamma":
                out[f"attention.{4 * 2 ** (pos // 2)}.gamma"] = value.reshape(())
                continue
            layer, suffix = rest.split(".")
            out[_sn(f"attention.{4 * 2 ** (pos // 2)}.{ATTENTION_NAMES[layer]}", suffix)] = value
            continue
        block = f"blocks.{i - 1 if pos is not None and i > pos else i}"
        m = re.fullmatch(r"(bn|conv)_(\d)\.(.+)", rest)
        if m is None:
            raise KeyError(f"no genlab name for {key}")
        kind, k, tail = m.groups()
        if kind == "conv":
            out[_sn(f"{block}.conv{k}", tail)] = value
        elif tail in ("running_means", "running_vars"):
            stat = "running_mean" if tail == "running_means" else "running_var"
            out[f"{block}.bn{k}.bn.{stat}"] = stats_at_truncation(value, truncation)
            out[f"{block}.bn{k}.bn.num_batches_tracked"] = torch.tensor(0)
        else:
            linear, suffix = tail.split(".")
            name = {"scale": "gain", "offset": "bias"}[linear]
            out[_sn(f"{block}.bn{k}.{name}", suffix)] = value
    for stat in ("means", "vars"):
        table = sd.pop(f"generator.bn.running_{stat}")
        out[f"out_bn.running_{stat[:-1]}"] = stats_at_truncation(table, truncation)
    out["out_bn.weight"], out["out_bn.bias"] = (
        sd.pop("generator.bn.weight"),
        sd.pop("generator.bn.bias"),
    )
    out["out_bn.num_batches_tracked"] = torch.tensor(0)
    for suffix in ("weight_orig", "weight_u", "weight_v", "bias"):
        out[_sn("out_conv", suffix)] = sd.pop(f"generator.conv_to_rgb.{suffix}")
    if sd:
        raise KeyError(f"package tensors without a genlab name: {sorted(sd)}")
    return out
