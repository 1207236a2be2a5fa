"""Issue 20 (what a new user hits), the parts that need no training run: run names, protocol
nesting, LR names, console filters, image-size adaptation, failed-run marks."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from genlab.callbacks.console import kid_std_degenerate
from genlab.callbacks.lr import lr_keys
from genlab.launch.sweep import name_from_overrides
from genlab.run.checks import adapt_data_to_model, adapt_image_size
from genlab.train import mark_failed
from genlab.utils.console import config_tree, quiet_console
from genlab.utils.tensorboard import flat_hparams
from genlab.utils.wandb_utils import merge_protocol, stage_protocol
from helpers.config import compose_config
from helpers.hydra_runtime import hydra_job

GROUPS = {"model": "iwae", "data": "digits", "debug": "fast", "trainer": "default"}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["model=iwae", "seed=1"], "iwae-seed1"),
        ([], "iwae"),  # the model choice even without overrides (was: the task name, "train")
        (["debug=fast", "model.optimizer.lr=0.000123456", "logger=csv"], "iwae-fast-lr0.0001235"),
        (["paths.log_dir=/x", "callbacks=none", "trainer.max_epochs=3"], "iwae-max_epochs3"),
    ],
)
def test_run_names_come_from_the_chosen_options(overrides, expected):
    assert name_from_overrides(overrides, GROUPS, "train") == expected


def test_experiment_names_the_run_and_nothing_gives_the_default():
    groups = {**GROUPS, "experiment": "paper_burda_vae_mnist"}
    assert name_from_overrides(["seed=2"], groups, "train") == "paper_burda_vae_mnist-seed2"
    assert name_from_overrides([], {}, "train") == "train"


def test_protocols_of_val_and_test_nest_into_one_entry():
    val = {"extractor": "inception", "num_fake": 100, "split": "train", "num_real": 900}
    test = {**val, "split": "test", "num_real": 250}
    nested = merge_protocol(merge_protocol(None, "val", val), "test", test)
    assert nested["extractor"] == "inception" and nested["num_fake"] == 100  # once, shared
    assert nested["by_stage"] == {
        "val": {"split": "train", "num_real": 900},
        "test": {"split": "test", "num_real": 250},
    }
    assert stage_protocol(nested, "val") == val and stage_protocol(nested, "test") == test
    again = merge_protocol(nested, "val", {**val, "num_fake": 50})  # a later val evaluation
    assert stage_protocol(again, "val")["num_fake"] == 50 and "num_fake" not in again


def test_gan_learning_rates_are_named_by_network():
    assert lr_keys(("g", "d"), 2, [1, 1]) == [["lr/g"], ["lr/d"]]
    assert lr_keys((), 1, [2]) == [["lr", "lr/pg1"]]
    assert lr_keys((), 2, [1, 1]) == [["lr/0"], ["lr/1"]]


def test_kid_std_is_degenerate_when_every_subset_is_the_whole_set():
    assert kid_std_degenerate(1000, 1000, 1000)  # the defaults: subsets capped at N
    assert kid_std_degenerate(1000, 250, 1000)  # capped at the 250 test images
    assert not kid_std_degenerate(100, 1000, 1000)


def test_lightning_tips_and_leafspec_warning_are_dropped(caplog):
    quiet_console()
    logger = logging.getLogger("pytorch_lightning.utilities.rank_zero")
    with caplog.at_level(logging.INFO, logger="pytorch_lightning.utilities.rank_zero"):
        logger.info("💡 Tip: For seamless cloud logging ... litlogger")
        logger.info("GPU available: False")
    assert [r.getMessage() for r in caplog.records] == ["GPU available: False"]
    with warnings.catch_warnings(record=True) as caught:
        quiet_console()  # re-installs the filters inside catch_warnings' fresh filter list
        warnings.warn(
            "`isinstance(treespec, LeafSpec)` is deprecated, use ...", FutureWarning, stacklevel=1
        )
    assert caught == []


def test_config_tree_has_one_branch_per_group(tmp_path):
    cfg = compose_config(["logger=csv"], tmp_path)
    labels = [str(child.label) for child in config_tree(cfg).children]
    assert labels[:4] == ["data", "model", "callbacks", "metrics"] and "hydra" not in labels


def test_hparams_are_flat_scalars_without_paths():
    flat = flat_hparams({"model": {"lr": 1e-3, "dims": [4, 8]}, "paths": {"x": 1}, "seed": 1})
    assert flat == {"model.lr": 1e-3, "model.dims": "[4, 8]", "seed": 1}


def test_sngan_on_the_default_data_adapts_a_defaulted_image_size(tmp_path):
    cfg = compose_config(["model=sngan", "logger=csv"], tmp_path)
    assert cfg.data.image_size == 28  # digits' default, which the ResNet nets do not take
    adapt_data_to_model(cfg)
    assert cfg.data.image_size == 32 and cfg.model.generator.image_size == 32
    assert cfg.data.binarize == "none"


def test_sngan_with_an_explicit_unsupported_size_refuses_naming_the_sizes(tmp_path):
    with (
        hydra_job(["model=sngan", "data.image_size=28"], tmp_path) as cfg,
        pytest.raises(ValueError, match=r"data\.image_size=28 .* \[16, 32, 64\]"),
    ):
        adapt_image_size(cfg)


@pytest.mark.slow  # a fresh interpreter: ~4 s idle, 11 s on the shared machine
def test_image_size_adaptation_imports_neither_torch_nor_lightning(tmp_path):
    code = (
        "import sys; from helpers.config import compose_config; from pathlib import Path;"
        "HEAVY = {'torch', 'pytorch_lightning', 'lightning_fabric', 'torchvision'};"
        "from genlab.run.checks import adapt_image_size;"
        f"cfg = compose_config(['model=sngan'], Path({str(tmp_path)!r})); adapt_image_size(cfg);"
        "assert cfg.data.image_size == 32;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in HEAVY))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}  # `helpers` is in tests/
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"  # refused or adapted before torch loads


def test_a_failed_job_marks_its_folder(tmp_path):
    path = mark_failed(tmp_path, ValueError("data.image_size=28 is not supported"))
    assert path.read_text() == "ValueError: data.image_size=28 is not supported\n"
    assert mark_failed(tmp_path / "missing", ValueError("x")) is None


def test_loggers_are_named_from_the_job(tmp_path):
    from genlab.run.instantiate import instantiate_loggers

    with hydra_job(["model=iwae", "seed=1", "logger=tensorboard"], tmp_path) as cfg:
        (logger,) = instantiate_loggers(cfg.logger)
    assert logger.name == "iwae-seed1"
    assert OmegaConf.is_missing(cfg.logger.tensorboard, "name") is False


def test_an_uninformative_prior_skips_sample_metrics_saying_so_once(tmp_path, caplog):
    from types import SimpleNamespace

    from genlab.models.vqvae import VQVAE
    from genlab.run.instantiate import instantiate_metrics

    cfg = compose_config(["model=vqvae"], tmp_path)
    data = SimpleNamespace(data_shape=(1, 28, 28), name="digits")
    assert VQVAE.prior_informative is False  # declared in the contract
    model = SimpleNamespace(prior_informative=VQVAE.prior_informative)
    with caplog.at_level(logging.INFO, logger="genlab.run.instantiate"):
        assert instantiate_metrics(cfg.metrics, data, model) == []
    assert len([r for r in caplog.records if "uninformative prior" in r.getMessage()]) == 1
    informative = SimpleNamespace(prior_informative=True)
    (callback,) = instantiate_metrics(cfg.metrics, data, informative)
    assert callback.test_reference_split == "test"  # test scores on held-out images


def test_inapplicable_callbacks_are_left_out_with_one_line(tmp_path, caplog):
    import hydra

    from genlab.run.instantiate import instantiate_callbacks

    cfg = compose_config(["logger=csv"], tmp_path)
    model = hydra.utils.instantiate(cfg.model)
    data = hydra.utils.instantiate(cfg.data)
    with caplog.at_level(logging.INFO, logger="genlab.run.instantiate"):
        callbacks = instantiate_callbacks(cfg.callbacks, ("val/elbo", "max"), model, data)
    keys = {c.config_key for c in callbacks}
    assert "toy2d" not in keys and "codebook_usage" not in keys
    assert {"sample_grid", "reconstructions", "traversals", "lr_monitor"} <= keys
    (line,) = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert "toy2d (Toy2DModes)" in line and "codebook_usage (CodebookUsage)" in line


def test_progress_bar_drops_v_num_and_shows_gan_losses():
    from types import SimpleNamespace

    import torch

    from genlab.callbacks.console import QuietProgressBar

    trainer = SimpleNamespace(
        loggers=[SimpleNamespace(version="16q_")],
        progress_bar_metrics={"train/loss_step": 1.0},
        callback_metrics={"train/d_loss": torch.tensor(0.5), "train/g_loss": torch.tensor(2.0)},
    )
    items = QuietProgressBar().get_metrics(trainer, None)
    assert items == {"train/loss_step": 1.0, "d_loss": "0.5", "g_loss": "2"}


def test_console_test_table_hides_a_degenerate_kid_std(capsys):
    from types import SimpleNamespace

    from genlab.callbacks.console import hidden_on_console, print_test_table

    callback = SimpleNamespace(
        metric_kwargs={"kid_subset_size": 1000}, protocol={"num_real": 250}, num_fake=1000
    )
    hidden = hidden_on_console([callback])
    print_test_table({"test/fid": 12.5, "test/kid_std": 1e-5, "val/fid": 3.0}, hidden)
    out = capsys.readouterr().out
    assert "test/fid" in out and "12.5" in out and "val/fid" not in out
    assert "│ test/kid_std" not in out and "test/kid_std is not shown" in out


@pytest.mark.slow  # a fresh interpreter importing Lightning: ~15 s on the shared machine
def test_finishing_wandb_does_not_import_it_when_no_run_used_it():
    code = (
        "import sys; from genlab.utils.wandb_utils import finish_wandb; finish_wandb();"
        "print('wandb' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr[-2000:]


def test_the_torch_free_size_table_matches_the_net_classes():
    import hydra

    from genlab.nets.sizes import SUPPORTED_IMAGE_SIZES

    for target, sizes in SUPPORTED_IMAGE_SIZES.items():
        declared = getattr(hydra.utils.get_class(target), "supported_image_sizes", None)
        assert declared == sizes, target
