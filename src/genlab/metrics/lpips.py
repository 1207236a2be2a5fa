"""LPIPS (Zhang et al. 2018, "The Unreasonable Effectiveness of Deep Features as a Perceptual
Metric") from a LOCAL weights file: the distance of the perceptual path length (``ppl``).

The network is torchmetrics' LPIPS module (``torchmetrics.functional.image.lpips._LPIPS``, the
one behind ``LearnedPerceptualImagePatchSimilarity`` and torchmetrics' ``PerceptualPathLength``),
built with a randomly initialised backbone and then filled from ONE state dict that holds the
backbone and the linear heads (``net.slice*`` and ``lin*``). torchmetrics' own constructor
downloads the ImageNet backbone from torchvision; genlab never downloads at run time.

Weights: ``metrics.extractor_weights.lpips_<net>=/path/file.pth`` (``lpips_vgg`` for the VGG16
LPIPS that Karras et al. use), else ``$GENLAB_LPIPS_<NET>_WEIGHTS``. Make the file once, on a
machine with network, with ``python scripts/make_lpips_weights.py --net vgg --out <file>``.
The file is checked with ``torch.load(weights_only=True)`` (``genlab.metrics.weights``) and its
sha256 goes into the protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn
from torchmetrics.functional.image.lpips import _LPIPS, ScalingLayer

from genlab.metrics import weights as weights_mod
from genlab.metrics.vit_extractors import load_state_dict, resolve_weights

NETS = ("vgg", "alex", "squeeze")


class LPIPSWeightsError(FileNotFoundError):
    """The LPIPS weights file is not given, missing, or does not fit the network."""


def weights_name(net: str) -> str:
    """The ``metrics.extractor_weights`` key of the LPIPS network ``net`` (``lpips_vgg``)."""
    return f"lpips_{net}"


def how_to_provide(net: str, reason: str) -> str:
    """The error text for missing LPIPS weights: ``reason`` and how to provide the file."""
    key = weights_name(net)
    return (
        f"LPIPS ({net}) weights for the perceptual path length (metrics.metrics=[..., ppl]) are "
        f"not available: {reason}\ngenlab loads them from a local file only. Make it once on a "
        f"machine with network:\n  python scripts/make_lpips_weights.py --net {net} "
        f"--out lpips_{net}.pth\nthen point genlab at it with metrics.extractor_weights.{key}="
        f"/path/lpips_{net}.pth or ${'GENLAB_' + key.upper() + '_WEIGHTS'}=/path/lpips_{net}.pth; "
        "or drop ppl from metrics.metrics."
    )


def lpips_network(net: str = "vgg", resize: int | None = None, meta: bool = False) -> nn.Module:
    """torchmetrics' LPIPS module with random weights (nothing downloaded), eval mode.

    ``resize``: side (px) both images are resized to before the backbone (None: as given).
    ``meta``: build it on the meta device (no memory, no random init: torchvision's VGG16 comes
    with a 124M-parameter classifier that LPIPS drops); fill it with ``load_state_dict(...,
    assign=True)`` and :func:`_restore_buffers`."""
    if net not in NETS:
        raise ValueError(f"metrics.options.ppl_lpips_net={net!r}; allowed: {', '.join(NETS)}")
    if not meta:
        return _LPIPS(pretrained=False, net=net, pnet_rand=True, resize=resize).eval()
    with torch.device("meta"):
        return _LPIPS(pretrained=False, net=net, pnet_rand=True, resize=resize).eval()


def _restore_buffers(module: nn.Module) -> None:
    """Re-create the constant input scaling (non-persistent buffers, not in state dicts)."""
    module.scaling_layer = ScalingLayer()


def build_lpips(
    net: str = "vgg",
    extractor_weights: Mapping[str, str] | None = None,
    resize: int | None = None,
) -> tuple[nn.Module, Path]:
    """Return (LPIPS module with the local file's weights, the file's path).

    The module maps two image batches in [-1, 1], (N, 3, H, W), to distances (N, 1, 1, 1).

    Raises:
        LPIPSWeightsError: no file is configured, it does not exist, or its keys/shapes do not
            fit the ``net`` LPIPS (the message says how to make the file).
        genlab.metrics.weights.UnsafeWeightsError: the file needs full unpickling.
    """
    key = weights_name(net)
    try:
        path = resolve_weights(key, extractor_weights)
    except FileNotFoundError as err:
        raise LPIPSWeightsError(how_to_provide(net, str(err))) from None
    if path is None:
        raise LPIPSWeightsError(how_to_provide(net, f"metrics.extractor_weights.{key} is not set."))
    weights_mod.check_weights_file(path)
    module = lpips_network(net, resize, meta=True)
    state = load_state_dict(path)
    try:
        module.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0:3]
        raise LPIPSWeightsError(
            how_to_provide(net, f"{path} does not fit the {net} LPIPS ({' '.join(first)}).")
        ) from None
    _restore_buffers(module)
    for param in module.parameters():
        param.requires_grad_(False)
    return module.eval(), path


def lpips_state_dict(net: str = "vgg") -> dict[str, torch.Tensor]:
    """A randomly initialised LPIPS state dict in the layout :func:`build_lpips` loads (tests,
    and ``scripts/make_lpips_weights.py`` after loading the pretrained parts)."""
    return lpips_network(net).state_dict()
