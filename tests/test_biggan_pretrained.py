"""BigGAN-deep 128 px: pytorch-pretrained-biggan's randomly initialised model, its state dict
mapped into genlab's BigGANDeepGenerator, gives the same images for the same z, class vector and
truncation (no download: BigGAN(BigGANConfig(...)) is built locally)."""

from __future__ import annotations

import pytest
import torch

from genlab.nets.biggan.deep import BigGANDeepGenerator
from genlab.nets.biggan.pretrained import (
    convert_pretrained_biggan,
    generator_kwargs,
    stats_at_truncation,
)

ppb = pytest.importorskip("pytorch_pretrained_biggan")

#: float32 through ~20 conv layers in two implementations that order sums differently
#: (F.batch_norm vs the package's explicit (x - mean) / sqrt(var + eps)); outputs are tanh'd
#: values in [-1, 1], so 1e-5 absolute is ~100x float32 rounding at that scale.
ATOL = 1e-5


def _randomise(model: torch.nn.Module, seed: int) -> None:
    """Give every tensor the package leaves constant (or uninitialised) a random value, so the
    mapping is tested on all of them: per-truncation BN statistics, the final BN affine (torch.
    Tensor(n) in the package: uninitialised memory) and the attention gamma (0 at init)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.named_buffers():
            if name.endswith("running_means"):
                t.copy_(0.1 * torch.randn(t.shape, generator=gen))
            elif name.endswith("running_vars"):
                t.copy_(0.5 + torch.rand(t.shape, generator=gen))
        g = model.generator
        g.bn.weight.copy_(1 + 0.1 * torch.randn(g.bn.weight.shape, generator=gen))
        g.bn.bias.copy_(0.1 * torch.randn(g.bn.bias.shape, generator=gen))
        for name, p in model.named_parameters():
            if name.endswith("gamma"):
                p.fill_(0.7)


def _pair(config_kwargs: dict, seed: int = 0, truncation: float = 0.4):
    torch.manual_seed(seed)
    pkg = ppb.BigGAN(ppb.BigGANConfig(**config_kwargs))
    _randomise(pkg, seed)
    # the package's spectral norm starts from random u, v (sigma = u^T W v can be ~0): a few
    # train-mode forwards run its power iteration, as converged public weights have (its batch
    # norms use the stored statistics in both modes)
    cond = torch.zeros(1, pkg.config.num_classes)
    with torch.no_grad():
        for _ in range(3):
            pkg(torch.zeros(1, pkg.config.z_dim), cond, truncation)
    pkg.eval()
    ours = BigGANDeepGenerator(**generator_kwargs(pkg.config.to_dict())).eval()
    ours.load_state_dict(convert_pretrained_biggan(pkg.state_dict(), truncation), strict=True)
    return pkg, ours


def _compare(pkg, ours, truncation: float, n: int = 2, mixture: bool = False) -> float:
    """Max abs difference of the two nets' images for the same z and one-hot class vectors (and
    class mixtures when ``mixture``); asserts int labels give the one-hot images."""
    gen = torch.Generator().manual_seed(1)
    z = truncation * torch.randn(n, pkg.config.z_dim, generator=gen).clamp(-2, 2)
    classes = torch.randint(0, pkg.config.num_classes, (n,), generator=gen)
    onehot = torch.nn.functional.one_hot(classes, pkg.config.num_classes).float()
    with torch.no_grad():
        ref = pkg(z, onehot, truncation)
        out = ours(z, onehot)
        assert torch.equal(ours(z, classes), out)  # int labels == one-hot class vectors
        mix_err = 0.0
        if mixture:  # a class mixture, as the package's linear class embedding allows
            mix = 0.3 * onehot + 0.7 * onehot.roll(1, dims=0)
            mix_err = (ours(z, mix) - pkg(z, mix, truncation)).abs().max().item()
    assert ref.shape == out.shape == (n, 3, 128, 128)
    assert ref.std() > 0.01  # not a degenerate constant image
    return max((out - ref).abs().max().item(), mix_err)


def test_small_width_package_model_maps_to_identical_images() -> None:
    pkg, ours = _pair({"channel_width": 4, "num_classes": 10})
    assert _compare(pkg, ours, truncation=0.4) <= ATOL


def test_statistics_table_row_for_a_truncation() -> None:
    table = torch.arange(51.0)[:, None].repeat(1, 3)
    assert torch.equal(stats_at_truncation(table, 1.0), torch.full((3,), 50.0))
    assert torch.equal(stats_at_truncation(table, 0.5), torch.full((3,), 25.0))
    # 0.41 / 0.02 = 20.5: the package weights row 20 by the fraction, row 21 by the rest
    assert torch.allclose(stats_at_truncation(table, 0.41), torch.full((3,), 20.5))
    with pytest.raises(ValueError, match="truncation"):
        stats_at_truncation(table, 0.0)


@pytest.mark.slow  # 7 s here (load ~10): 2 more truncations, class mixtures
def test_other_truncations_and_class_mixtures_match() -> None:
    for truncation in (0.7, 1.0):
        pkg, ours = _pair({"channel_width": 4, "num_classes": 10}, truncation=truncation)
        assert _compare(pkg, ours, truncation, mixture=True) <= ATOL


def test_unmapped_tensor_is_refused() -> None:
    pkg = ppb.BigGAN(ppb.BigGANConfig(channel_width=4, num_classes=10))
    sd = {**pkg.state_dict(), "generator.extra.weight": torch.zeros(1)}
    with pytest.raises(KeyError, match="generator.extra.weight"):
        convert_pretrained_biggan(sd)


@pytest.mark.slow  # the full 128 px BigGAN-deep (ch 128, 1000 classes): 40 s here (load ~10)
def test_default_config_package_model_maps_to_identical_images() -> None:
    pkg, ours = _pair({})
    assert _compare(pkg, ours, truncation=0.4, mixture=True) <= ATOL


def test_convert_script_writes_a_weights_only_state_dict(tmp_path, monkeypatch) -> None:
    import json
    import runpy
    import sys
    from pathlib import Path

    pkg, ours = _pair({"channel_width": 4, "num_classes": 10}, truncation=0.4)
    torch.save(pkg.state_dict(), tmp_path / "pytorch_model.bin")
    (tmp_path / "config.json").write_text(json.dumps(pkg.config.to_dict()))
    script = Path(__file__).resolve().parents[1] / "scripts" / "convert_pretrained_biggan.py"
    argv = [str(script), str(tmp_path / "pytorch_model.bin"), str(tmp_path / "config.json"),
            str(tmp_path / "out.pt"), "--truncation", "0.4"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(script), run_name="__main__")
    state = torch.load(tmp_path / "out.pt", weights_only=True)
    assert all(torch.equal(state[k], v) for k, v in ours.state_dict().items())
