"""Compose a genlab config WITH Hydra's runtime (choices, task overrides), in process.

What ``@hydra.main`` gives a job, without a subprocess: ``HydraConfig.get()`` answers (run
names, ``choices.*`` keys, "was this key set on the command line"), the config passed on has
no ``hydra`` node, and every path lies under ``tmp_path``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from genlab.utils.config_dir import CONFIG_DIR


@contextmanager
def hydra_job(overrides: list[str], tmp_path: Path, name: str = "train") -> Iterator[DictConfig]:
    """Yield the job config of ``genlab-<name> <overrides>`` with HydraConfig set (cleared
    on exit); output, data and log folders under ``tmp_path``."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name=name, overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(tmp_path / "run")
        cfg.hydra.runtime.cwd = str(tmp_path)
        cfg.hydra.job.name = name
    HydraConfig.instance().set_config(cfg)
    try:
        with open_dict(cfg):
            del cfg["hydra"]
            cfg.paths.root_dir = str(tmp_path)
            cfg.paths.log_dir = str(tmp_path / "logs")
            cfg.paths.output_dir = str(tmp_path / "run")
            cfg.paths.data_dir = str(tmp_path / "data")
            cfg.paths.cache_dir = str(tmp_path / "cache")
        (tmp_path / "run").mkdir(parents=True, exist_ok=True)
        yield cfg
    finally:
        HydraConfig.instance().cfg = None
        GlobalHydra.instance().clear()
