"""Convert a ``pytorch-pretrained-biggan`` BigGAN-deep checkpoint into a genlab
``BigGANDeepGenerator`` state dict (mapping: ``genlab.nets.biggan.pretrained``).

On your machine (the package downloads its files once into its cache):
    from pytorch_pretrained_biggan import BigGAN; BigGAN.from_pretrained("biggan-deep-128")
then, with the cached ``pytorch_model.bin`` and ``config.json`` of that model:
    python scripts/convert_pretrained_biggan.py pytorch_model.bin config.json out.pt \
        --truncation 0.4
The package keeps batch-norm statistics per truncation; the output holds those for
``--truncation`` (sample z with the same truncation). It loads with
``torch.load(weights_only=True)`` into ``BigGANDeepGenerator(**generator_kwargs(config))``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from genlab.nets.biggan.deep import BigGANDeepGenerator
from genlab.nets.biggan.pretrained import convert_pretrained_biggan, generator_kwargs


def main() -> None:
    """Read, convert, check against a genlab generator built from the config, write."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weights", help="the package's pytorch_model.bin (a plain state dict)")
    ap.add_argument("config", help="the package's config.json")
    ap.add_argument("dst")
    ap.add_argument("--truncation", type=float, default=1.0, help="in (0, 1]")
    a = ap.parse_args()
    kwargs = generator_kwargs(json.loads(Path(a.config).read_text()))
    state = torch.load(a.weights, map_location="cpu", weights_only=True)
    g = BigGANDeepGenerator(**kwargs)
    g.load_state_dict(convert_pretrained_biggan(state, a.truncation), strict=True)
    torch.save(g.state_dict(), a.dst)
    print(f"wrote {a.dst}: BigGANDeepGenerator({kwargs}) at truncation {a.truncation}")


if __name__ == "__main__":
    main()
