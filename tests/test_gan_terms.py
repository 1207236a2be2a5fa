"""The GAN term seam: declared ranges (module and terms), lazy scaling, the term helpers, the
migration message for the removed flags, and the worked examples of docs/extending.md
trained through the real CLI from outside src/."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import hydra
import pytest
import torch

from genlab.objectives.gan_regularizers import ACGAND, R1, GradientPenalty, LeCamTerm
from genlab.objectives.gan_terms import (
    AdversarialD,
    DStep,
    GANTerm,
    apply_terms,
    stream_id,
    term_dict,
)
from genlab.run.validate import ConfigValueError, check_removed_gan_flags
from genlab.utils.ranges import RangeError
from helpers.config import compose_config, run_cli

TESTS = Path(__file__).parent
MLP = ["model=gan_mlp", "data=ring2d", "data.num_train=256"]


def critic(x: torch.Tensor) -> torch.Tensor:
    """D(x) = 3 * (x_1 + x_2): grad_x D = (3, 3) everywhere, ||grad||^2 = 18."""
    return 3.0 * x.sum(dim=1)


def dstep(index: int = 0) -> DStep:
    real, fake = torch.ones(4, 2), -torch.ones(4, 2)
    gen = torch.Generator().manual_seed(0)
    return DStep(real, fake, None, critic(real), critic(fake), None, None, index,
                 noise=lambda s: gen.manual_seed(s), critic=critic)  # fmt: skip


@pytest.mark.parametrize(
    "override,key",
    [
        ("model.n_critic=nan", "n_critic=nan"),  # before: G never trained
        ("model.n_critic=1.5", "n_critic=1.5"),  # before: ran as 3
        ("model.n_critic=0", "n_critic=0"),
        ("model.grad_clip_g=-1", "grad_clip_g=-1"),  # before: reversed G's gradients
        ("model.grad_clip_d=0", "grad_clip_d=0"),
        ("model.max_g_steps=0", "max_g_steps=0"),
        ("model.ema_decay=1.0", "ema_decay=1.0"),
        ("model.ema_start_step=-1", "ema_start_step=-1"),
        ("model.ema_rampup=3", "ema_rampup=3"),
        ("model.num_classes=2.5", "num_classes=2.5"),
    ],
)
def test_gan_module_refuses_values_outside_their_range_naming_the_key(tmp_path, override, key):
    cfg = compose_config([*MLP, override], tmp_path)
    with pytest.raises(Exception, match=key.replace(".", r"\.")):
        hydra.utils.instantiate(cfg.model)


@pytest.mark.parametrize(
    "make,key",
    [
        (lambda: GradientPenalty(weight=-1.0), "weight=-1.0"),
        (lambda: GradientPenalty(every=0), "every=0"),
        (lambda: R1(gamma=float("nan")), "gamma=nan"),
        (lambda: R1(every=1.5), "every=1.5"),
        (lambda: LeCamTerm(decay=1.0), "decay=1.0"),
        (lambda: ACGAND(weight="1"), "weight='1'"),
        (lambda: AdversarialD(loss="hinge", weight=float("inf")), "weight=inf"),
    ],
)
def test_terms_refuse_values_outside_their_range(make, key):
    with pytest.raises(RangeError, match=key.replace(".", r"\.")):
        make()


def test_r1_is_lazy_and_scaled_by_every_as_stylegan2():
    """gamma 10, every 4: active on D steps 0, 4, 8, ... with 10/2 * 4 * 18 = 360 (exact)."""
    terms = term_dict({"adv": AdversarialD("wasserstein"), "r1": R1(gamma=10.0, every=4)}, "d")
    adv = critic(-torch.ones(4, 2)).mean() - critic(torch.ones(4, 2)).mean()  # -12
    for index in range(9):
        total, logs = apply_terms(terms, None, dstep(index), "d_")
        if index % 4 == 0:
            assert logs["d_r1"].item() == pytest.approx(18.0, rel=1e-6)
            assert total.item() == pytest.approx(adv.item() + 360.0, rel=1e-6)
        else:
            assert "d_r1" not in logs and total.item() == pytest.approx(adv.item(), rel=1e-6)
        assert logs["d_real"].item() == 6.0 and logs["d_fake"].item() == -6.0  # raw critic


def test_gradient_penalty_term_by_hand():
    """||grad D|| = sqrt(18) at every interpolate: GP = (sqrt(18) - 1)^2, weight 10."""
    total, logs = apply_terms(term_dict({"gp": GradientPenalty(10.0)}, "d"), None, dstep(), "d_")
    want = (math.sqrt(18.0) - 1.0) ** 2
    assert logs["d_gp"].item() == pytest.approx(want, rel=1e-5)
    assert total.item() == pytest.approx(10.0 * want, rel=1e-5)


def test_term_helpers_refuse_bad_mappings_and_drop_null_entries():
    class NoLoss(GANTerm):
        def forward(self, model, step):
            return {"x": torch.zeros(())}

    with pytest.raises(ValueError, match="d_bad returned.*without 'loss'"):
        apply_terms(term_dict({"bad": NoLoss()}, "d_terms"), None, dstep(), "d_")
    with pytest.raises(TypeError, match="model.d_terms.adv is a Linear, not a GANTerm"):
        term_dict({"adv": torch.nn.Linear(1, 1)}, "d_terms")
    with pytest.raises(ValueError, match="model.g_terms is empty"):
        term_dict({"adv": None}, "g_terms")
    assert list(term_dict({"adv": AdversarialD(), "gp": None}, "d_terms")) == ["adv"]
    assert stream_id("mode_seeking") == stream_id("mode_seeking") >= 1000


@pytest.mark.parametrize(
    "override,new",
    [
        ("+model.gp_weight=10", "+model/d_terms=gp model.d_terms.gp.weight=10"),
        ("+model.r1_gamma=1", "+model/d_terms=r1 model.d_terms.r1.gamma=1"),
        ("+model.lecam_weight=0.3", "+model/d_terms=lecam model.d_terms.lecam.weight=0.3"),
        ("+model.acgan_weight=1", "model.d_terms.acgan.weight=1"),
        ("+model.diffaugment=[color,cutout]", "'model.augment.policy=[color,cutout]'"),
    ],
)
def test_removed_gan_flags_fail_naming_the_new_key(tmp_path, override, new):
    cfg = compose_config(["model=dcgan", override], tmp_path)
    with pytest.raises(ConfigValueError, match="no longer exists") as err:
        check_removed_gan_flags(cfg.model)
    assert new in str(err.value)


def _csv_columns(run: Path) -> dict[str, list[float]]:
    rows = list(csv.DictReader((run / "csv" / "metrics.csv").open()))
    out: dict[str, list[float]] = {}
    for row in rows:
        for key, value in row.items():
            if value not in ("", None):
                out.setdefault(key, []).append(float(value))
    return out


@pytest.mark.slow  # a genlab-train subprocess: ~15 s idle, ~55 s on the shared 2-core machine
def test_worked_examples_outside_src_train_through_the_cli(tmp_path):
    """docs/extending.md: a lazy D penalty (R2, every 4), a G regularizer (mode seeking) and
    an augmentation (random flip, logging ADA's r_t), each one file in tests/helpers and one
    config in tests/helpers/conf, trained by genlab-train with hydra.searchpath; nothing under
    src/ knows them. 8 D steps: R2 runs on D steps 0 and 4 only (Lightning's CSV repeats a step
    metric's last value on the rows where it was not logged, so it shows two distinct values)."""
    args = [
        "model=dcgan",
        "+model/d_terms=r2",
        "+model/g_terms=mode_seeking",
        "model/augment=flip",
        f"hydra.searchpath=[file://{TESTS / 'helpers' / 'conf'}]",
        "data.image_size=16",
        "data.batch_size=16",
        "model.generator.base_channels=8",
        "model.discriminator.base_channels=8",
        "trainer=cpu",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=8",
        "trainer.limit_val_batches=0",
        "trainer.log_every_n_steps=1",
        "trainer.enable_progress_bar=false",
        "logger=csv",
        "metrics=none",
        "callbacks=none",
        "test=false",
    ]
    proc = run_cli(args, tmp_path, extra_pythonpath=[str(TESTS)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = (tmp_path / "outputs" / "train" / "runs").iterdir()
    cols = _csv_columns(run)
    r2 = cols["train/d_r2"]
    assert len(set(r2)) == 2 and r2[:4] == [r2[0]] * 4 and all(v >= 0 for v in r2)  # lazy
    assert len(cols["train/g_ms"]) == 8 and len(cols["train/ms_ratio"]) == 8
    assert all(math.isfinite(v) and v > 0 for v in cols["train/ms_ratio"])
    assert len(cols["train/aug_rt"]) == 8 and all(-1 <= v <= 1 for v in cols["train/aug_rt"])
    assert len(cols["train/d_adv"]) == 8 and len(cols["train/g_adv"]) == 8
