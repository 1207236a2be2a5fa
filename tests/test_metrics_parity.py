"""Parity with torch-fidelity's own ``calculate_metrics`` on the same images and weights.

The weights are a randomly initialised torch-fidelity InceptionV3 saved to a file and loaded by
both sides through ``feature_extractor_weights_path``. A random InceptionV3 costs ~0.1-0.3 s
per image at 299x299 on this CPU, so the default tests use 20 + 20 images per resolution; the
``slow`` ones use 200 + 200.
"""

from __future__ import annotations

import pytest
import torch
import torch_fidelity

from genlab.metrics.collection import SampleQualityMetrics
from genlab.metrics.extractors import (
    InceptionExtractor,
    images_to_uint8,
)
from helpers.inception import save_random_inception_weights
from helpers.metrics_fakes import UInt8Dataset, smooth_images

REL = 1e-3
KEYS = {
    "fid": "frechet_inception_distance",
    "is_mean": "inception_score_mean",
    "is_std": "inception_score_std",
    "kid_mean": "kernel_inception_distance_mean",
    "kid_std": "kernel_inception_distance_std",
    "precision": "precision",
    "recall": "recall",
}


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    return save_random_inception_weights(
        tmp_path_factory.mktemp("inception") / "random.pth", seed=0
    )


@pytest.fixture(scope="module")
def extractor(weights_file):
    """genlab's extractor, loaded from the file through the same path users take."""
    return InceptionExtractor(weights_file)


def image_sets(num: int, channels: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Real and generated uint8 sets from different distributions (different seeds and gamma)."""
    real = images_to_uint8(smooth_images(num, channels, size, seed=10))
    fake = images_to_uint8(smooth_images(num, channels, size, seed=11, gamma=1.6))
    return real, fake


def genlab_scores(extractor, real, fake, seed: int, batch: int = 16) -> dict[str, float]:
    suite = SampleQualityMetrics(extractor, seed=seed)
    for chunk in real.split(batch):
        suite.update(chunk, real=True)
    for chunk in fake.split(batch):
        suite.update(chunk, real=False)
    return suite.compute()


def fidelity_scores(weights, real, fake, seed: int, batch: int = 16) -> dict[str, float]:
    """torch-fidelity on the same uint8 images; grey is given as RGB, as its image loader does."""

    def rgb(x: torch.Tensor) -> UInt8Dataset:
        return UInt8Dataset(x.repeat(1, 3, 1, 1) if x.shape[1] == 1 else x)

    return torch_fidelity.calculate_metrics(
        input1=rgb(fake),
        input2=rgb(real),
        cuda=False,
        batch_size=batch,
        isc=True,
        fid=True,
        kid=True,
        prc=True,
        feature_extractor="inception-v3-compat",  # PR on Inception pool features as genlab
        feature_extractor_weights_path=str(weights),
        kid_subset_size=min(len(real), len(fake)),
        rng_seed=seed,
        cache=False,
        save_cpu_ram=True,
        verbose=False,
    )


def assert_parity(ours: dict[str, float], theirs: dict[str, float]) -> None:
    for key, their_key in KEYS.items():
        if key == "kid_std":  # N fake = N real = subset size: genlab's fast path, one exact
            # evaluation (std 0); torch-fidelity's std over its 100 permuted full sets is
            # float32 rounding noise (~1e-7 on O(1) kernels): an absolute tolerance of 1e-6
            assert ours[key] == 0.0 and theirs[their_key] == pytest.approx(0.0, abs=1e-6)
            continue
        if key == "kid_mean":  # the same MMD^2 summed in float32 in another order: the
            # rounding is ~1e-7 absolute (measured 1.0e-7 on a KID of 9.4e-5), so 1e-6 absolute
            assert ours[key] == pytest.approx(theirs[their_key], abs=1e-6)
            continue
        assert ours[key] == pytest.approx(theirs[their_key], rel=REL, abs=1e-12), key
    # IS of a random network is close to 1: compare its excess over 1 too, so the check has teeth
    assert ours["is_mean"] - 1 == pytest.approx(theirs[KEYS["is_mean"]] - 1, rel=REL)
    assert ours["fid"] > 0 and ours["kid_mean"] != 0


@pytest.mark.slow  # 115-216 s per case on the shared 2-core machine under load ~10 (2026-12-02)
@pytest.mark.parametrize("channels,size", [(1, 28), (3, 32)], ids=["28x28-grey", "32x32-colour"])
def test_parity_with_torch_fidelity_small(weights_file, extractor, channels, size):
    real, fake = image_sets(20, channels, size)
    ours = genlab_scores(extractor, real, fake, seed=123)
    theirs = fidelity_scores(weights_file, real, fake, seed=123)
    assert_parity(ours, theirs)


@pytest.mark.slow
@pytest.mark.parametrize("channels,size", [(1, 28), (3, 32)], ids=["28x28-grey", "32x32-colour"])
def test_parity_with_torch_fidelity_200(weights_file, extractor, channels, size):
    real, fake = image_sets(200, channels, size)
    ours = genlab_scores(extractor, real, fake, seed=2020, batch=50)
    theirs = fidelity_scores(weights_file, real, fake, seed=2020, batch=50)
    assert_parity(ours, theirs)
    assert 0 < ours["precision"] < 1 or 0 < ours["recall"] < 1


def test_grey_images_are_repeated_to_rgb(extractor):
    """A grey image and its 3-channel copy give the same Inception features."""
    grey = images_to_uint8(smooth_images(2, 1, 28, seed=12))
    torch.testing.assert_close(
        extractor(grey).features, extractor(grey.repeat(1, 3, 1, 1)).features
    )
