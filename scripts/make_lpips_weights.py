"""Write the LPIPS weights file the perceptual path length loads (``metrics.extractor_weights.
lpips_<net>``): the ImageNet backbone plus the LPIPS linear heads, in one state dict.

The heads are the LPIPS v0.1 weights that ship inside torchmetrics
(``torchmetrics/functional/image/lpips_models/<net>.pth``, from richzhang/PerceptualSimilarity).
The backbone is torchvision's ImageNet network (vgg16 / alexnet / squeezenet1_1): downloaded by
torchvision (run this once on a machine with network), or read from a torchvision state dict
you already have (``--backbone vgg16-397923af.pth``, loaded with ``weights_only=True``).

Usage: python scripts/make_lpips_weights.py --net vgg --out lpips_vgg.pth [--backbone FILE]
Then: genlab-train ... metrics.metrics=[fid,ppl] metrics.extractor_weights.lpips_vgg=lpips_vgg.pth
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torchvision
from torchmetrics.functional.image.lpips import _LPIPS

from genlab.metrics.lpips import NETS
from genlab.metrics.weights import file_hash

TORCHVISION = {"vgg": "vgg16", "alex": "alexnet", "squeeze": "squeezenet1_1"}


def backbone_features(net: str, path: Path | None) -> torch.nn.Module:
    """torchvision's ``features`` of ``net``: from the state dict at ``path``, else the
    ImageNet download (torchvision's default weights)."""
    name = TORCHVISION[net]
    if path is None:
        weights = torchvision.models.get_model_weights(name).DEFAULT
        return torchvision.models.get_model(name, weights=weights).features
    model = torchvision.models.get_model(name, weights=None)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.features


def make(net: str, out: Path, backbone: Path | None = None) -> Path:
    """Build the ``net`` LPIPS (heads from torchmetrics, backbone as above), save its state dict
    to ``out``; return ``out``."""
    lpips = _LPIPS(pretrained=True, net=net, pnet_rand=True).eval()  # heads only, no download
    features = backbone_features(net, backbone)
    for slice_ in lpips.net.children():
        for index, layer in slice_.named_children():  # torchmetrics names them by features index
            layer.load_state_dict(features[int(index)].state_dict())
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(lpips.state_dict(), out)
    return out


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, write the file, print its path and hash."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--net", choices=NETS, default="vgg")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--backbone", type=Path, default=None, help="torchvision state dict")
    args = parser.parse_args(argv)
    path = make(args.net, args.out, args.backbone)
    key = f"metrics.extractor_weights.lpips_{args.net}"
    print(f"wrote {path} (sha256 {file_hash(path)}); point {key} at it")


if __name__ == "__main__":
    main()
