"""StyleGAN2-ADA official-weights mapping (issue 17 item 6): every tensor name of the official
``Generator`` architecture (enumerated from NVlabs' training/networks.py) maps onto a genlab
``StyleGAN2Generator`` tensor of the same shape, and nothing of genlab's is left unmapped."""

from __future__ import annotations

import pytest
import torch

from genlab.nets.stylegan2 import StyleGAN2Generator
from genlab.nets.stylegan2.layers import fir_filter
from genlab.nets.stylegan2.official import convert_official, genlab_name, official_generator_shapes

CASES = [  # (image_size, num_classes, mapping_layers, channel_base, channel_max)
    (16, 0, 2, 64, 8),
    (32, 10, 2, 128, 16),  # the cifar config's shape pattern (conditional, 2 mapping layers)
    (64, 0, 8, 256, 16),
]


@pytest.mark.parametrize(("size", "classes", "layers", "base", "cmax"), CASES)
def test_official_names_cover_genlab_generator_exactly(size, classes, layers, base, cmax):
    kw = dict(channels=3, latent_dim=8, w_dim=8, num_classes=classes, mapping_layers=layers,
              channel_base=base, channel_max=cmax)  # fmt: skip
    official = official_generator_shapes(size, **kw)
    g = StyleGAN2Generator(image_size=size, **kw)
    ours = {k: tuple(v.shape) for k, v in g.state_dict().items()}
    mapped = {genlab_name(k): s for k, s in official.items() if genlab_name(k) is not None}
    assert mapped == ours  # same names, same shapes, none missing on either side
    assert all(k.endswith("resample_filter") for k in official if genlab_name(k) is None)
    # a state dict of the official shapes converts and loads strictly
    state = {k: fir_filter() if k.endswith("resample_filter") else torch.randn(s)
             for k, s in official.items()}  # fmt: skip
    g.load_state_dict(convert_official(state), strict=True)
    state[next(k for k in state if k.endswith("resample_filter"))] = torch.ones(4, 4)
    with pytest.raises(ValueError, match="1, 3, 3, 1"):
        convert_official(state)
