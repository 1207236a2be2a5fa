"""The Python API in three calls, for notebooks and scripts (no command line, no Hydra app):

    from genlab import api
    cfg = api.compose(["model=iwae", "trainer.max_epochs=3"], output_dir="outputs/nb/iwae")
    metrics = api.train(cfg)              # fit + test, as genlab-train; returns final metrics
    model = api.load_model("outputs/nb/iwae/checkpoints/last.ckpt")  # any genlab checkpoint

``compose`` is Hydra's compose API on genlab's ``conf/`` with every path set (Hydra's run-folder
machinery only exists under ``genlab-train``): ``output_dir`` holds checkpoints, images and
logs; data and caches go under ``root_dir`` (default: the current directory).
"""

from __future__ import annotations

import time
from pathlib import Path

from omegaconf import DictConfig, open_dict

from genlab.utils.config_dir import CONFIG_DIR


def compose(
    overrides: list[str] | None = None,
    output_dir: str | Path | None = None,
    root_dir: str | Path = ".",
    config_name: str = "train",
) -> DictConfig:
    """Return genlab's ``<config_name>`` config composed with ``overrides`` (Hydra syntax),
    paths set: ``output_dir`` (default ``<root>/outputs/api/<date>_<time>``), data in
    ``<root>/data`` (``GENLAB_DATA_DIR`` wins), caches in ``<root>/outputs/cache``."""
    import os

    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = hydra_compose(config_name=config_name, overrides=list(overrides or []))
    root = Path(root_dir).resolve()
    out = (
        Path(output_dir)
        if output_dir
        else root / "outputs" / "api" / time.strftime("%Y-%m-%d_%H-%M-%S")
    )
    with open_dict(cfg):
        cfg.paths.root_dir = str(root)
        cfg.paths.log_dir = str(root / "outputs")
        cfg.paths.output_dir = str(out.resolve())
        cfg.paths.data_dir = os.environ.get("GENLAB_DATA_DIR", str(root / "data"))
        cfg.paths.cache_dir = str(root / "outputs" / "cache")
    Path(cfg.paths.output_dir).mkdir(parents=True, exist_ok=True)
    return cfg


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit and test as ``genlab-train`` does; return the final metrics (``test/...``, ...)."""
    from genlab.train import train as train_job

    return train_job(cfg)


def load_model(ckpt_path: str | Path, run_config: str | None = None):
    """Return the model of a genlab checkpoint, rebuilt from its run's resolved config, with
    the checkpoint's weights, in eval mode on the CPU."""
    import hydra

    from genlab.eval import find_run_config, load_checkpoint

    ckpt_path = Path(ckpt_path)
    run_cfg = find_run_config(ckpt_path, run_config)
    model = hydra.utils.instantiate(run_cfg.model)
    model.load_state_dict(load_checkpoint(ckpt_path)["state_dict"])
    return model.eval()
