"""Convert an official StyleGAN2-ADA ``G_ema`` (saved as a plain state dict) into a genlab
``StyleGAN2Generator`` state dict (mapping: ``genlab.nets.stylegan2.official``).

On your machine, with NVlabs/stylegan2-ada-pytorch on the path (its pickles need its code):
    import pickle, torch; G = pickle.load(open("cifar10.pkl", "rb"))["G_ema"]
    torch.save(G.state_dict(), "g_ema_state.pt")
then:
    python scripts/convert_stylegan2_ada.py g_ema_state.pt out.pt --image-size 32 \
        --num-classes 10 --mapping-layers 2
The output loads with ``torch.load(weights_only=True)`` into ``StyleGAN2Generator`` built with
the same sizes (checked here with ``strict=True``).
"""

from __future__ import annotations

import argparse

import torch

from genlab.nets.stylegan2 import StyleGAN2Generator
from genlab.nets.stylegan2.official import convert_official


def main() -> None:
    """Read, convert, check against a genlab generator of the given sizes, write."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--image-size", type=int, required=True)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--num-classes", type=int, default=0)
    ap.add_argument("--mapping-layers", type=int, default=8)
    ap.add_argument("--channel-base", type=int, default=32768)
    ap.add_argument("--channel-max", type=int, default=512)
    a = ap.parse_args()
    state = convert_official(torch.load(a.src, map_location="cpu", weights_only=True))
    g = StyleGAN2Generator(512, a.image_size, a.channels, a.num_classes,
                           channel_base=a.channel_base, channel_max=a.channel_max,
                           mapping_layers=a.mapping_layers)  # fmt: skip
    g.load_state_dict(state, strict=True)
    torch.save(g.state_dict(), a.dst)
    print(f"wrote {a.dst}: {len(state)} tensors")


if __name__ == "__main__":
    main()
