"""Spectral normalization as an option of any layer (Miyato et al. 2018)."""

from __future__ import annotations

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def add_spectral_norm(module: nn.Module) -> nn.Module:
    """Wrap every Conv2d / ConvTranspose2d / Linear inside ``module`` in spectral normalization
    (one power iteration per forward), in place; returns ``module``.

    Call it after weight initialisation: the parametrization API
    (``torch.nn.utils.parametrizations.spectral_norm``) stores the raw weight as
    ``parametrizations.weight.original`` and keeps the power-iteration vectors ``u``/``v`` in the
    state dict, so they are checkpointed with the net.
    """
    for layer in list(module.modules()):
        if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            spectral_norm(layer)
    return module


def norm_layer(kind: str, channels: int) -> nn.Module:
    """Feature normalization for conv discriminators: 'batch', 'layer' (GroupNorm(1, C)) or
    'none'. WGAN-GP needs 'layer' or 'none': batch norm mixes examples, which breaks the
    per-example gradient penalty (Gulrajani et al. 2017, Sec. 4)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"Unknown discriminator norm {kind!r}; allowed: 'batch', 'layer', 'none'.")
