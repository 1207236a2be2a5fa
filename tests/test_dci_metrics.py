"""DCI (Eastwood & Williams 2018) and the registered context metrics mig / dci: values on codes
with known structure, the MetricContext hook, and the refusals.

DDP: no 2-rank test. The context metrics encode the same split with the same (DDP-synchronised)
weights on every rank and log the same value; they use no collective (the callback's
``sync_dist=False``), so a 2-rank run would only repeat the 1-rank computation.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from genlab.metrics.collection import SampleQualityMetrics
from genlab.metrics.context import MetricContext
from genlab.metrics.dci import completeness, dci, disentanglement
from genlab.metrics.registry import METRICS, register_metric, split_context


def _factors(n: int, sizes=(4, 5, 3), seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, s, n) for s in sizes], axis=1)


def test_closed_form_scores_of_importance_matrices():
    # tolerance 1e-9: only the 1e-11 added before the entropies separates these from 1 and 0
    assert disentanglement(np.eye(4)) == pytest.approx(1.0, abs=1e-9)
    assert completeness(np.eye(4)) == pytest.approx(1.0, abs=1e-9)
    assert disentanglement(np.ones((4, 4))) == pytest.approx(0.0, abs=1e-9)
    assert completeness(np.ones((4, 4))) == pytest.approx(0.0, abs=1e-9)
    # one code explains two factors: disentanglement 1 - log_K(2) on that code, completeness 1
    two = np.array([[1.0, 1.0], [0.0, 0.0]])
    assert disentanglement(two) == pytest.approx(0.0, abs=1e-9)
    assert completeness(two) == pytest.approx(1.0, abs=1e-9)


def test_dci_is_one_for_a_disentangled_code_and_low_for_a_random_mixing():
    factors = _factors(1000)
    rng = np.random.default_rng(1)
    # code j = factor j (plus small noise), and one nuisance dimension of pure noise
    clean = np.concatenate(
        [factors + 0.01 * rng.normal(size=factors.shape), rng.normal(size=(1000, 1))], 1
    )
    good = dci(clean, factors, num_trees=10)
    # > 0.95: the trees give the nuisance dimension a sliver of importance on noisy splits
    assert good["disentanglement"] > 0.95 and good["completeness"] > 0.95
    assert good["informativeness"] == pytest.approx(1.0)  # each factor is read off exactly
    mixing = rng.normal(size=(3, 4))
    mixed = dci(factors @ mixing, factors, num_trees=10)
    # every code holds every factor: 0.46 / 0.42 measured at these seeds (deterministic); the
    # 0.6 bound leaves room for sklearn versions, far below the disentangled code's 1
    assert mixed["disentanglement"] < 0.6 and mixed["completeness"] < 0.6
    assert mixed["informativeness"] == pytest.approx(1.0)  # mixing keeps the information
    noise = dci(rng.normal(size=(1000, 4)), factors, num_trees=10)
    chance = np.mean([1 / 4, 1 / 5, 1 / 3])
    assert noise["informativeness"] < chance + 0.1  # 200 test codes: +-0.1 sampling slack


class _CodeModel(torch.nn.Module):
    """A model whose code is its input image flattened: the images ARE the codes."""

    can_encode = True
    latent_shape = (4,)

    def __init__(self) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(()))

    @property
    def device(self) -> torch.device:
        return self.anchor.device

    def encode(self, x, labels=None):
        return x.flatten(1)


class _FactorData:
    """Data with ground-truth factors: 'images' (N, 1, 1, 4) holding the given codes."""

    name = "fake_factors"

    def __init__(self, codes: np.ndarray, factors: np.ndarray) -> None:
        self.codes, self.factors = torch.as_tensor(codes).float(), torch.as_tensor(factors)

    def dataset(self, split):
        return self.codes

    def real_images(self, split, num):
        return self.codes[:num].view(-1, 1, 1, self.codes.shape[1])

    def real_factors(self, split, num):
        return self.factors[:num]


def _context(codes, factors, **options) -> MetricContext:
    return MetricContext(
        model=_CodeModel(), datamodule=_FactorData(codes, factors), options=options
    )


def test_registered_mig_and_dci_read_the_model_and_data_through_the_context():
    factors = _factors(800, sizes=(4, 5, 3, 6))
    rng = np.random.default_rng(2)
    context = _context(factors + 0.01 * rng.normal(size=factors.shape), factors)
    assert METRICS["mig"].is_context and METRICS["dci"].is_context
    mig = METRICS["mig"].compute(context, {"context": context})
    assert mig["mig"] > 0.95  # each factor in one code dim, 20 bins resolve <= 6 classes
    out = METRICS["dci"].compute(context, {"context": context})
    assert set(out) == set(METRICS["dci"].keys)
    assert out["dci_disentanglement"] > 0.95 and out["dci_informativeness"] == pytest.approx(1.0)
    assert context.cache["codes"].shape == (800, 4)  # encoded once, shared by both metrics
    shuffled = _context(rng.normal(size=(800, 4)), factors)
    assert METRICS["mig"].compute(shuffled, {})["mig"] < 0.05  # plug-in MI bias on 800 codes


def test_context_metrics_refuse_models_that_do_not_encode_and_data_without_factors():
    factors = _factors(100, sizes=(2, 2, 2, 2))
    no_encoder = _context(factors, factors)
    no_encoder.model.can_encode = False
    with pytest.raises(ValueError, match=r"does not encode \(can_encode=False\).*remove mig"):
        METRICS["mig"].check(no_encoder)
    no_factors = MetricContext(model=_CodeModel(), datamodule=SimpleNamespace(name="digits"))
    with pytest.raises(ValueError, match="data=digits has none; use data=dsprites"):
        METRICS["dci"].check(no_factors)
    with pytest.raises(ValueError, match="metrics.options.dci_classifier='svm'"):
        METRICS["dci"].check(_context(factors, factors, dci_classifier="svm"))
    with pytest.raises(ValueError, match="metrics.options.mig_num_bins=1 is invalid"):
        METRICS["mig"].check(_context(factors, factors, mig_num_bins=1))


def test_registry_keeps_context_metrics_apart_from_image_metrics():
    assert split_context(("fid", "mig", "kid", "dci")) == (
        ("fid", "kid"),
        ("mig", "dci"),
    )
    with pytest.raises(ValueError, match="mixes the context with image states"):
        register_metric("bad_mix", keys=("x",), needs=("context", "fake_features"))
    extractor = SimpleNamespace(num_features=4, num_classes=0)
    with pytest.raises(ValueError, match="context metrics"):
        SampleQualityMetrics(extractor, metrics=("mig",))
