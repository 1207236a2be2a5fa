"""Declared value ranges (issue 19 items 3 and 4, docs/reliability.md): NaN, fractional,
negative, zero and string values of VAE/VQ-VAE nets, the quantizer, data modules, the metrics
callback and the trainer fail before training, naming the full config key and the range, as
``<full_key>.<arg>=<value>: <expected range>`` (no Hydra traceback). GAN keys: test_gan_*."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from genlab.run.instantiate import instantiate_checked
from genlab.run.validate import ConfigValueError, validate_train_config
from helpers.config import compose_config

VQ = ["model=vqvae", "model.quantizer.num_codes=32"]
CONV = ["model/net=conv"]
DCGAN = ["model=dcgan", "data.binarize=none", "data.image_size=16"]


@pytest.mark.parametrize(
    ("overrides", "node", "expected"),
    [
        ([*VQ, "model.quantizer.eps=0"], "model", r"^model\.quantizer\.eps=0(\.0)?: expected"),
        ([*VQ, "model.quantizer.restart_threshold=-1"], "model", r"restart_threshold=-1: "),
        ([*VQ, "model.quantizer.restart_threshold=nan"], "model", r"restart_threshold=nan: "),
        ([*VQ, "model.quantizer.num_codes=2.5"], "model", r"num_codes=2\.5: .*integer"),
        ([*VQ, "model.quantizer.num_codes=abc"], "model", r"num_codes='abc': .*not a number"),
        ([*CONV, "model.encoder.base_width=0"], "model", r"model\.encoder\.base_width=0: "),
        ([*DCGAN, "model.generator.base_channels=0"], "model", r"base_channels=0: .*>= 1"),
        (["data.val_size=0"], "data", r"data\.val_size=0 .*integer in \[1,"),
        (["metrics.pr_k=0"], "metrics", r"^metrics\.pr_k=0: expected an integer >= 1"),
        (["metrics.is_splits=0"], "metrics", r"^metrics\.is_splits=0: "),
        (["metrics.kid_subsets=0"], "metrics", r"^metrics\.kid_subsets=0: "),
        (["metrics.kid_subset_size=0"], "metrics", r"^metrics\.kid_subset_size=0: .*>= 2"),
        (["metrics.num_fake=3"], "metrics", r"num_fake=3 is too few .*is_splits=10"),
        (["metrics.pr_k=500", "metrics.num_fake=200"], "metrics", r"pr_k=500 needs"),
    ],
)
def test_bad_component_values_name_the_full_key_and_the_range(tmp_path, overrides, node, expected):
    cfg = compose_config(overrides, tmp_path)
    with pytest.raises((ConfigValueError, ValueError), match=expected):
        instantiate_checked(OmegaConf.select(cfg, node), node)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("trainer.max_epochs=0", r"trainer\.max_epochs=0 trains nothing"),
        ("trainer.max_steps=0", r"trainer\.max_steps=0 trains nothing"),
        ("seed=abc", r"seed='abc' is not valid: it must be an integer"),
        ("+model.optimizer.betas=[2,0.9]", r"model\.optimizer\.betas=\[2, 0\.9\].*\[0, 1\)"),
    ],
)
def test_bad_run_values_fail_in_validation(tmp_path, override, expected):
    cfg = compose_config([override], tmp_path)
    with pytest.raises(ConfigValueError, match=expected):
        validate_train_config(cfg)


def test_good_defaults_pass(tmp_path):
    for overrides, node in ((VQ, "model"), ([], "data"), ([], "metrics")):
        cfg = compose_config(overrides, tmp_path)
        assert instantiate_checked(OmegaConf.select(cfg, node), node) is not None


@pytest.mark.slow
def test_cli_prints_the_key_and_range_without_a_traceback(tmp_path):
    from helpers.config import run_cli

    done = run_cli([*VQ, "model.quantizer.eps=0", "trainer=cpu", "metrics=none"], tmp_path)
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert "model.quantizer.eps=0.0: expected a finite number > 0" in out or (
        "model.quantizer.eps=0: expected a finite number > 0" in out
    ), out[-2000:]
    assert "Traceback" not in out and "InstantiationException" not in out
