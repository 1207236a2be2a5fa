"""Compose genlab's real configs shrunk to tiny CPU runs, and run the CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict

from genlab.utils.config_dir import CONFIG_DIR

TINY = [
    "trainer=cpu",
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=3",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=1",
    "trainer.log_every_n_steps=1",
    "trainer.enable_progress_bar=false",
    "data.batch_size=32",
]

#: the smallest StyleGAN2 the tests build (16 px, 16-d latents and styles, 16 channels)
STYLEGAN2_TINY = [
    "model=stylegan2",
    "data.image_size=16",
    "model.generator.latent_dim=16",
    "model.generator.w_dim=16",
    "model.generator.channel_base=128",
    "model.generator.channel_max=16",
    "model.generator.mapping_layers=2",
    "model.discriminator.channel_base=128",
    "model.discriminator.channel_max=16",
]


def compose_config(overrides: list[str], tmp_path: Path, name: str = "train") -> DictConfig:
    """Compose conf/<name>.yaml with overrides, all paths under tmp_path (no Hydra runtime)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name=name, overrides=overrides)
    with open_dict(cfg):
        cfg.paths.root_dir = str(tmp_path)
        cfg.paths.output_dir = str(tmp_path / "run")
        cfg.paths.data_dir = str(tmp_path / "data")
    return cfg


def run_cli(
    args: list[str],
    cwd: Path,
    timeout: int = 300,
    module: str = "genlab.train",
    extra_pythonpath: list[str] | None = None,
):
    """Run ``python -m <module> <args>`` in ``cwd`` offline; return the CompletedProcess.
    ``extra_pythonpath`` folders are put in front of ``PYTHONPATH`` (e.g. a model outside src)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(WANDB_MODE="offline", WANDB_SILENT="true", HYDRA_FULL_ERROR="1")
    if extra_pythonpath:
        env["PYTHONPATH"] = os.pathsep.join([*extra_pythonpath, env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
