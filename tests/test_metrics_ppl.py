"""Perceptual path length (``metrics.metrics=[..., ppl]``): equals a hand computation of Karras et
al.'s definition on a tiny generator and distance, a closed form for a linear generator, and
torchmetrics' ``perceptual_path_length`` on identical inputs (t = 0 in z, the library's only
case); LPIPS comes from a local file only; models without a latent path are refused clearly."""

from __future__ import annotations

import inspect
import math
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from torch import Tensor, nn
from torchmetrics.functional.image.lpips import _LPIPS
from torchmetrics.functional.image.perceptual_path_length import (
    _interpolate,
    perceptual_path_length,
)

from genlab.contract import GenerativeModel
from genlab.metrics.collection import SampleQualityMetrics
from genlab.metrics.extractors import build_extractor
from genlab.metrics.lpips import LPIPSWeightsError, build_lpips
from genlab.metrics.ppl import PerceptualPathLength, PPLSettings, interpolate
from genlab.metrics.sampling import add_generated
from helpers.lpips import save_random_lpips_weights

EPS = 1e-4


class LinearImages(GenerativeModel, pl.LightningModule):
    """G(z) = 0.5 + scale * A z as (C, H, W) images in (0, 1), float64 (no clamping is hit)."""

    def __init__(self, dim: int = 4, shape=(1, 4, 4), scale: float = 0.01, seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        a = torch.randn(math.prod(shape), dim, generator=gen, dtype=torch.float64) / 2
        self.register_buffer("A", a)
        self.dim, self.shape, self.scale = dim, tuple(shape), scale

    @property
    def latent_shape(self):
        return (self.dim,)

    @property
    def data_shape(self):
        return self.shape

    def sample_noise(self, num, generator=None):
        return torch.randn(num, self.dim, generator=generator, dtype=self.A.dtype)

    def generate(self, z: Tensor, labels=None) -> Tensor:
        return (0.5 + self.scale * z.to(self.A.dtype) @ self.A.T).view(len(z), *self.shape)


class Squared(nn.Module):
    """A tiny LPIPS-like distance: mean squared difference of the [-1, 1] images, (N,)."""

    def forward(self, x0: Tensor, x1: Tensor) -> Tensor:
        return ((x0 - x1) ** 2).mean((1, 2, 3))


def official_slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """NumPy transcription of the unit-sphere slerp of Karras et al.'s PPL code."""
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    d = (a * b).sum(-1, keepdims=True)
    p = t[:, None] * np.arccos(d)
    c = b - d * a
    c = c / np.linalg.norm(c, axis=-1, keepdims=True)
    out = a * np.cos(p) + c * np.sin(p)
    return out / np.linalg.norm(out, axis=-1, keepdims=True)


def hand_ppl(model: LinearImages, num: int, batch: int, seed: int, sampling: str) -> float:
    """The definition, written out: same draws as ``update`` (z0, z1, t, noise seed per batch),
    slerp in z, squared distance of [-1, 1] images / eps^2, numpy's 1 % / 99 % percentiles."""
    gen = torch.Generator().manual_seed(seed)
    dists = []
    for start in range(0, num, batch):
        n = min(batch, num - start)
        z0, z1 = model.sample_noise(n, gen).numpy(), model.sample_noise(n, gen).numpy()
        t = torch.rand(n, generator=gen, dtype=torch.float64).numpy()
        t = t if sampling == "full" else 0 * t
        torch.randint(0, 2**62, (), generator=gen)  # the noise seed (unused by this model)
        for lat0, lat1 in [(official_slerp(z0, z1, t), official_slerp(z0, z1, t + EPS))]:
            x0 = 2 * model.generate(torch.from_numpy(lat0)).numpy() - 1
            x1 = 2 * model.generate(torch.from_numpy(lat1)).numpy() - 1
            dists.append(((x0 - x1) ** 2).mean((1, 2, 3)) / EPS**2)
    d = np.concatenate(dists)
    lo, hi = np.percentile(d, 1, method="lower"), np.percentile(d, 99, method="higher")
    return float(d[(d >= lo) & (d <= hi)].mean())


@pytest.fixture(scope="module")
def lpips_file(tmp_path_factory):
    return save_random_lpips_weights(tmp_path_factory.mktemp("lpips") / "lpips_vgg.pth")


@pytest.fixture(scope="module")
def lpips64(lpips_file):
    """The random LPIPS, loaded from its file the way users load theirs, in float64."""
    return build_lpips("vgg", {"lpips_vgg": str(lpips_file)})[0].double()


def weights(path) -> dict[str, str]:
    return {"lpips_vgg": str(path)}


@pytest.mark.parametrize("sampling", ["full", "end"])
def test_equals_a_hand_computation_of_the_definition(sampling):
    model = LinearImages()
    settings = PPLSettings(num_samples=150, sampling=sampling, interpolation="slerp")
    metric = PerceptualPathLength(settings, distance=Squared())
    metric.update(model, 150, torch.Generator().manual_seed(7), batch_size=64)
    out = metric.compute()
    # float64 throughout: the only differences are summation orders (~1e-16 relative), grown by
    # the eps = 1e-4 step to ~1e-12; 1e-9 relative leaves a margin
    assert out["ppl"] == pytest.approx(hand_ppl(model, 150, 64, 7, sampling), rel=1e-9)
    assert out["ppl_num_samples"] == 150 and out["ppl_num_kept"] < 150  # percentiles applied


def test_linear_generator_matches_the_closed_form():
    """lerp on G(z) = 0.5 + s A z: d / eps^2 = 4 s^2 mean_pixels((A (z1 - z0))^2) for every t,
    whose expectation is 4 s^2 * 2 ||A||_F^2 / P (z0, z1 ~ N(0, I))."""
    model = LinearImages()
    settings = PPLSettings(num_samples=4000, interpolation="lerp", discard_lower=None,
                           discard_upper=None)  # fmt: skip
    metric = PerceptualPathLength(settings, distance=Squared())
    metric.update(model, 4000, torch.Generator().manual_seed(3), batch_size=4000)
    raw = torch.cat(metric.distances)
    gen = torch.Generator().manual_seed(3)
    z0, z1 = model.sample_noise(4000, gen), model.sample_noise(4000, gen)
    exact = 4 * model.scale**2 * ((z1 - z0) @ model.A.T).pow(2).mean(1)
    # per pair: float64 rounding of a 1e-4 step, ~1e-12 relative; 1e-8 leaves a margin
    assert torch.allclose(raw, exact, rtol=1e-8, atol=0)
    expected = 4 * model.scale**2 * 2 * model.A.pow(2).sum().item() / model.A.shape[0]
    se = raw.std().item() / math.sqrt(len(raw))
    assert abs(metric.compute()["ppl"] - expected) < 5 * se  # Monte Carlo: within 5 standard errors


@pytest.mark.parametrize("method", ["lerp", "slerp_any"])
def test_equals_torchmetrics_on_identical_inputs(method, lpips64):
    """torchmetrics measures at t = 0 in z; genlab's sampling=end is that, with the same LPIPS
    module (random weights loaded from a file, as users load theirs), float64 on both sides."""
    model = LinearImages(dim=8, shape=(3, 16, 16), scale=0.05)
    settings = PPLSettings(num_samples=6, sampling="end", interpolation=method,
                           discard_lower=None, discard_upper=None)  # fmt: skip
    metric = PerceptualPathLength(settings, distance=lpips64)
    metric.update(model, 6, torch.Generator().manual_seed(1), batch_size=6)
    gen = torch.Generator().manual_seed(1)
    draws = [model.sample_noise(6, gen), model.sample_noise(6, gen)]

    class Wrapped(nn.Module):
        def sample(self, num):
            return draws.pop(0)

        def forward(self, z):
            return 255 * model.generate(z)

    method_tm = "slerp_any" if method == "slerp_any" else "lerp"
    mean, _, raw = perceptual_path_length(
        Wrapped(), num_samples=6, interpolation_method=method_tm, epsilon=EPS, resize=None,
        lower_discard=None, upper_discard=None, sim_net=metric.distance, batch_size=6,
    )  # fmt: skip
    # float64 on both sides: 1e-7 relative covers the summation-order differences
    assert torch.allclose(torch.cat(metric.distances), raw.double(), rtol=1e-7, atol=0)
    assert metric.compute()["ppl"] == pytest.approx(float(mean), rel=1e-7)


def test_interpolations_equal_the_references():
    """lerp and slerp_any equal torchmetrics' ``_interpolate``; slerp equals the official
    unit-sphere slerp (torchmetrics' ``slerp_unit`` normalizes AFTER a raw-vector slerp, which
    differs from it when |z0| != |z1|)."""
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 6, generator=gen).double(), torch.randn(5, 6, generator=gen).double()
    t = torch.full((5,), 0.3, dtype=torch.float64)
    # float64; acos/sin rounding ~1e-15: 1e-12 absolute
    for method in ("slerp_any", "lerp"):
        expected = _interpolate(a, b, 0.3, method)
        assert torch.allclose(interpolate(a, b, t, method), expected, atol=1e-12), method
    official = official_slerp(a.numpy(), b.numpy(), t.numpy())
    assert np.allclose(interpolate(a, b, t, "slerp").numpy(), official, atol=1e-12)
    spatial = interpolate(a.view(5, 1, 2, 3), b.view(5, 1, 2, 3), t, "slerp")
    assert spatial.shape == (5, 1, 2, 3)


def test_lpips_only_from_a_local_file(lpips_file, tmp_path):
    with pytest.raises(LPIPSWeightsError, match="make_lpips_weights.py --net vgg"):
        PerceptualPathLength(PPLSettings())
    with pytest.raises(LPIPSWeightsError, match=r"lpips_vgg points at .*missing.pth, no such"):
        PerceptualPathLength(PPLSettings(), extractor_weights=weights(tmp_path / "missing.pth"))
    torch.save({"lin0.model.1.weight": torch.ones(1, 64, 1, 1)}, tmp_path / "heads_only.pth")
    with pytest.raises(LPIPSWeightsError, match="does not fit the vgg LPIPS"):
        PerceptualPathLength(PPLSettings(), extractor_weights=weights(tmp_path / "heads_only.pth"))
    metric = PerceptualPathLength(PPLSettings(), extractor_weights=weights(lpips_file))
    record = metric.record()
    assert record["ppl_lpips_vgg_path"] == str(lpips_file)
    assert len(record["ppl_lpips_vgg_hash"]) == 12
    assert record["ppl_epsilon"] == EPS and record["ppl_space"] == "z"
    assert record["ppl_interpolation"] == "slerp_any" and record["ppl_sampling"] == "full"


class CodesModel(LinearImages):
    continuous_latent = False


class Points(LinearImages):
    @property
    def data_shape(self):
        return (2,)


@pytest.mark.parametrize(
    ("model", "settings", "match"),
    [
        (CodesModel(), PPLSettings(), "CodesModel has none"),
        (LinearImages(), PPLSettings(space="w"), "ppl_space=w needs a mapping network"),
        (Points(), PPLSettings(), "ppl needs image samples"),
        (nn.Linear(2, 2), PPLSettings(), "needs a model implementing genlab.contract"),
    ],
)
def test_models_without_a_latent_path_are_refused(model, settings, match):
    metric = PerceptualPathLength(settings, distance=Squared())
    with pytest.raises((TypeError, ValueError), match=match):
        metric.update(model, 4, torch.Generator())


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"ppl_epsilon": 0}, r"ppl_epsilon=0 is invalid"),
        ({"ppl_num_samples": 1.5}, r"ppl_num_samples=1.5 is invalid"),
        ({"ppl_space": "x"}, r"ppl_space='x'; allowed: z, w"),
        ({"ppl_interp": "lerp"}, r"unknown PPL settings \['ppl_interp'\]"),
        ({"ppl_discard_lower": 99, "ppl_discard_upper": 1}, "must be below"),
    ],
)
def test_bad_settings_name_the_key(options, match):
    with pytest.raises(ValueError, match=match):
        PPLSettings.from_options(options)


def test_registered_and_computed_from_the_generation_pass(lpips_file):
    """``metrics=[fid, ppl]``: one suite, the samples for FID and the paths for PPL from one
    ``add_generated`` call; PPL settings and LPIPS weights in the protocol."""
    extractor = build_extractor("digits_classifier")
    options = {"ppl_num_samples": 6, "ppl_sampling": "end"}
    suite = SampleQualityMetrics(extractor, ["fid", "ppl"], options=options,
                                 extractor_weights=weights(lpips_file))  # fmt: skip
    model = LinearImages(dim=8, shape=(1, 28, 28), scale=0.05).float()
    add_generated(model, suite, num_fake=20, seed=0, batch_size=10)
    assert len(torch.cat(suite.ppl.distances)) == 6
    real = (torch.rand(20, 1, 28, 28, generator=torch.Generator().manual_seed(2)) * 255).byte()
    suite.update(real, real=True)
    out = suite.compute()
    assert set(out) == {"fid", "ppl"} and out["ppl"] > 0
    assert suite.details["ppl"]["ppl_num_samples"] == 6
    settings = suite.settings()
    assert settings["ppl_num_samples"] == 6 and settings["ppl_lpips_vgg_path"] == str(lpips_file)


@pytest.mark.slow  # two full torchvision VGG16 builds, 59 MB files: 16-31 s here at load 10-14
def test_weights_script_joins_backbone_and_heads(tmp_path):
    """scripts/make_lpips_weights.py with a local torchvision backbone file (random here): the
    written file loads through ``build_lpips``, with that backbone and torchmetrics' heads."""
    import importlib.util

    import torchvision

    script = Path(__file__).resolve().parents[1] / "scripts" / "make_lpips_weights.py"
    spec = importlib.util.spec_from_file_location("make_lpips_weights", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    backbone = torchvision.models.vgg16(weights=None)
    torch.save(backbone.state_dict(), tmp_path / "vgg16.pth")
    out = module.make("vgg", tmp_path / "lpips_vgg.pth", tmp_path / "vgg16.pth")
    module, _ = build_lpips("vgg", weights(out))
    assert torch.equal(getattr(module.net.slice5, "28").weight, backbone.features[28].weight)
    heads = torch.load(Path(inspect.getfile(_LPIPS)).parent / "lpips_models/vgg.pth",
                       map_location="cpu", weights_only=True)  # fmt: skip
    assert torch.equal(module.lin4.model[-1].weight, heads["lin4.model.1.weight"])


def test_w_space_on_stylegan2(tmp_path):
    """space=w: the GAN's mapping and synthesis give its samples; the two images of a pair see
    the same noise inputs (a zero-length step has distance 0); PPL in w is finite."""
    import hydra

    from helpers.config import STYLEGAN2_TINY, compose_config

    model = hydra.utils.instantiate(compose_config(STYLEGAN2_TINY, tmp_path).model)
    assert model.has_mapping and not LinearImages().has_mapping
    z = model.sample_noise(3, torch.Generator().manual_seed(0))
    torch.manual_seed(5)
    direct = model.generate(z)
    torch.manual_seed(5)
    mapped = model.generate_mapped(model.map_latent(z))
    assert torch.equal(direct, mapped)
    metric = PerceptualPathLength(PPLSettings(space="w", num_samples=4), distance=Squared())
    ws = model.map_latent(z)
    assert torch.equal(
        metric._pair(model, ws, ws, None, seed=11), torch.zeros(3, dtype=torch.float64)
    )
    metric.update(model, 4, torch.Generator().manual_seed(0), batch_size=4)
    assert math.isfinite(metric.compute()["ppl"]) and metric.record()["ppl_interpolation"] == "lerp"


def test_genlab_eval_fake_folder_refuses_ppl(tmp_path):
    """genlab-eval fake=<folder>: samples without a model have no latent paths."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from PIL import Image

    from genlab.eval_samples import evaluate_samples
    from genlab.metrics.score_files import SampleFileError
    from genlab.utils.config_dir import CONFIG_DIR

    for i in range(4):
        Image.fromarray(np.full((28, 28), 40 * i, np.uint8)).save(tmp_path / f"{i}.png")
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        overrides = [f"fake={tmp_path}", "real=digits:train", "ckpt_path=none"]
        cfg = compose(
            "eval", [*overrides, "metrics.metrics=[fid,ppl]", f"output_file={tmp_path}/o"]
        )
        with pytest.raises(SampleFileError, match=r"\['ppl'\], which measure the model's lat"):
            evaluate_samples(cfg)


def test_callback_logs_ppl_and_its_protocol(lpips_file, tmp_path):
    """metrics.metrics=[fid, ppl] in a real Trainer: val/ppl logged, settings and the LPIPS
    file's hash in the protocol; a missing LPIPS file stops at setup, before any training."""
    from genlab.callbacks.metrics import SampleQualityCallback
    from helpers.metrics_fakes import TinyGenerator, TinyImageData

    small = dict(num_fake=12, num_real=16, batch_size=12, extractor="digits_classifier")
    options = {"ppl_num_samples": 4, "ppl_epsilon": 1e-3}
    callback = SampleQualityCallback(**small, metrics=["fid", "ppl"], options=options,
                                     extractor_weights=weights(lpips_file))  # fmt: skip
    assert "val/ppl" in callback.declared_keys()
    trainer = pl.Trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=1,
                         enable_checkpointing=False, enable_progress_bar=False, logger=False,
                         callbacks=[callback], default_root_dir=tmp_path)  # fmt: skip
    trainer.fit(TinyGenerator(size=28), datamodule=TinyImageData(size=28))
    assert math.isfinite(float(trainer.callback_metrics["val/ppl"]))
    assert callback.protocol["ppl_epsilon"] == 1e-3 and callback.protocol["ppl_num_samples"] == 4
    assert callback.protocol["ppl_lpips_vgg_hash"] == callback.suite.ppl.weights_hash
    missing = SampleQualityCallback(**small, metrics=["fid", "ppl"],
                                    extractor_weights=weights(tmp_path / "none.pth"))  # fmt: skip
    trainer = pl.Trainer(max_epochs=1, logger=False, callbacks=[missing],
                         enable_progress_bar=False, default_root_dir=tmp_path)  # fmt: skip
    model = TinyGenerator(size=28)
    with pytest.raises(LPIPSWeightsError, match="none.pth, no such file"):
        trainer.fit(model, datamodule=TinyImageData(size=28))
    assert trainer.global_step == 0


def _ddp_worker(rank: int, world_size: int, init_file: str, out_dir: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world_size)  # fmt: skip
    try:
        metric = PerceptualPathLength(PPLSettings(num_samples=10), distance=Squared())
        metric.update(LinearImages(), 5 + rank, torch.Generator().manual_seed(rank))
        torch.save(metric.compute(), f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.ddp
@pytest.mark.slow  # two spawned processes: 32-41 s here at load average 11-15
def test_two_ranks_equal_one_process_on_the_same_paths(tmp_path):
    """Each rank draws its own paths (5 and 6 here); synced, they give the 1-process value of
    the same 11 paths (cat state in rank order; percentiles over all of them)."""
    import torch.multiprocessing as mp

    mp.spawn(_ddp_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    one = PerceptualPathLength(PPLSettings(num_samples=10), distance=Squared())
    for rank in range(2):
        one.update(LinearImages(), 5 + rank, torch.Generator().manual_seed(rank))
    expected = one.compute()
    for rank in range(2):
        got = torch.load(tmp_path / f"rank{rank}.pt")
        assert got["ppl_num_samples"] == 11
        # the same float64 distances, reduced in the same order: equal to float64 rounding
        assert got["ppl"] == pytest.approx(expected["ppl"], rel=1e-12), rank
