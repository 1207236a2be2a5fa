"""Config checks of the VAE zoo (issue 16 review): the Ladder VAE's ``model.latent_dim`` must be
sum(model.prior.sizes) and a mismatch stops at build time naming the value to set; the
VQ-VAE prior's copy of the first stage (``model.vqvae``) stays identical to ``model=vqvae``.
"""

from __future__ import annotations

import hydra
import pytest
from hydra.errors import InstantiationException
from omegaconf import OmegaConf

from helpers.config import compose_config


def test_lvae_latent_dim_other_than_the_sum_of_sizes_is_refused_naming_the_fix(tmp_path):
    cfg = compose_config(["model=lvae", "model.prior.sizes=[8,4,2]"], tmp_path)
    fix = r"sizes=\[8, 4, 2\]\) = 14 dims: set model\.latent_dim=14"
    with pytest.raises(InstantiationException, match=fix):  # Hydra wraps the ValueError
        hydra.utils.instantiate(cfg.model)
    OmegaConf.update(cfg, "model.latent_dim", 14)
    assert hydra.utils.instantiate(cfg.model).latent_dim == 14


def test_vqvae_prior_first_stage_config_equals_the_vqvae_config(tmp_path):
    """conf/model/vqvae_prior.yaml repeats conf/model/vqvae.yaml under ``vqvae`` (a Hydra
    ``/model/vqvae@vqvae`` default would move its ``model/likelihood`` default, whose header
    is ``@package model``, to ``model.likelihood`` and break its absolute interpolations), so
    this test catches the copies drifting apart."""
    vq = compose_config(["model=vqvae"], tmp_path).model
    prior = compose_config(["model=vqvae_prior", "model.vqvae_ckpt=x"], tmp_path).model
    first = OmegaConf.to_container(vq, resolve=True)
    assert OmegaConf.to_container(prior.vqvae, resolve=True) == first
