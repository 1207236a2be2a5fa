"""Every config option composes, and every data/model/trainer/logger/callback instantiates."""

from __future__ import annotations

from pathlib import Path

import hydra
import pytest
from hydra.errors import ConfigCompositionException

from genlab.run.instantiate import instantiate_callbacks, instantiate_loggers
from genlab.utils.config_dir import CONFIG_DIR
from helpers.config import compose_config

CONF = Path(CONFIG_DIR)
# models that need other data than the default digits at 28 pixels
MODEL_DATA = {
    "gan_mlp": ["data=ring2d"],
    "sngan": ["data.image_size=32"],
    "sngan_cond": ["data.image_size=32"],
    "stylegan2": ["data.image_size=16"],
    "sagan": ["data.image_size=32"],
    "biggan": ["data.image_size=32"],
}


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize("model", options("model"))
def test_every_model_instantiates_with_its_data(tmp_path, model):
    extra = list(MODEL_DATA.get(model, []))
    if model == "vqvae_prior":  # a second stage: needs a first-stage VQ-VAE checkpoint
        import torch

        first = hydra.utils.instantiate(compose_config(["model=vqvae"], tmp_path).model)
        torch.save({"state_dict": first.state_dict()}, tmp_path / "vqvae.ckpt")
        extra.append(f"model.vqvae_ckpt={tmp_path / 'vqvae.ckpt'}")
    cfg = compose_config([f"model={model}", *extra], tmp_path)
    net = hydra.utils.instantiate(cfg.model)
    dm = hydra.utils.instantiate(cfg.data)
    assert tuple(net.data_shape) == tuple(dm.data_shape)


@pytest.mark.parametrize("data", options("data"))
def test_every_datamodule_instantiates(tmp_path, data):
    cfg = compose_config([f"data={data}"], tmp_path)
    dm = hydra.utils.instantiate(cfg.data)
    assert len(dm.data_shape) in (1, 3)


@pytest.mark.parametrize("trainer", options("trainer"))
def test_every_trainer_config_composes(tmp_path, trainer):
    cfg = compose_config([f"trainer={trainer}"], tmp_path)
    assert cfg.trainer._target_ == "pytorch_lightning.Trainer"
    if trainer in ("default", "cpu", "ddp_cpu"):  # the others need GPUs
        hydra.utils.instantiate(cfg.trainer, logger=False)


@pytest.mark.parametrize("logger", options("logger"))
def test_every_logger_instantiates(tmp_path, logger):
    cfg = compose_config([f"logger={logger}"], tmp_path)
    loggers = instantiate_loggers(cfg.get("logger"))
    assert len(loggers) == {"none": 0, "many": 2}.get(logger, 1)


@pytest.mark.parametrize("callbacks", options("callbacks"))
def test_every_callbacks_config_instantiates(tmp_path, callbacks):
    cfg = compose_config([f"callbacks={callbacks}"], tmp_path)
    assert isinstance(instantiate_callbacks(cfg.get("callbacks")), list)


@pytest.mark.parametrize("experiment", options("experiment"))
def test_every_experiment_composes(tmp_path, experiment):
    cfg = compose_config([f"experiment={experiment}"], tmp_path)
    hydra.utils.instantiate(cfg.model)


def test_debug_fast_composes(tmp_path):
    cfg = compose_config(["debug=fast"], tmp_path)
    assert cfg.trainer.max_epochs == 2


def test_wrong_key_and_option_are_named(tmp_path):
    with pytest.raises(ConfigCompositionException, match="lr_typo"):
        compose_config(["model.optimizer.lr_typo=1"], tmp_path)
    with pytest.raises(ConfigCompositionException, match="vae_typo"):
        compose_config(["model=vae_typo"], tmp_path)


def test_bad_objective_is_named(tmp_path):
    cfg = compose_config(["model.objective=elbow"], tmp_path)
    with pytest.raises(Exception, match="model.objective='elbow' is not an objective.*elbo|iwae"):
        hydra.utils.instantiate(cfg.model)
    with pytest.raises(ConfigCompositionException, match="elbow"):
        compose_config(["model/objective=elbow"], tmp_path)


@pytest.mark.parametrize(
    ("override", "match"),
    [("model.objective.beta=-1", "beta=-1.*>= 0"), ("model.latent_dim=0", "latent_dim=0")],
)
def test_nonsense_vae_settings_fail_at_instantiation(tmp_path, override, match):
    cfg = compose_config([override], tmp_path)
    with pytest.raises(Exception, match=match):  # Hydra wraps the model's ValueError
        hydra.utils.instantiate(cfg.model)
