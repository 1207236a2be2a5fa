"""genlab-train: compose the config, instantiate data, model, callbacks, loggers and trainer,
then fit and test. Never imports a concrete model: ``_target_`` in the config does."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import hydra
from omegaconf import DictConfig, OmegaConf

from genlab.run.validate import validate_train_config
from genlab.utils import run_dir
from genlab.utils.config_dir import CONFIG_DIR

if TYPE_CHECKING:  # torch and Lightning load inside train(), after the config is validated
    import pytorch_lightning as pl

log = logging.getLogger(__name__)

run_dir.register_resolver()  # ${genlab_unique_dir:...} in conf/hydra/default.yaml


def log_hyperparameters(
    cfg: DictConfig, model: pl.LightningModule, loggers: list, seed: int | None = None
) -> None:
    """Send the resolved config (plain values, no ``${``), parameter counts and the effective
    seed (``seed_effective``: what ``seed_everything`` used, also when ``seed`` is null)."""
    params = OmegaConf.to_container(cfg, resolve=True)
    if seed is not None:
        params["seed_effective"] = seed
    params["model/params_total"] = sum(p.numel() for p in model.parameters())
    params["model/params_trainable"] = sum(p.numel() for p in model.parameters() if p.requires_grad)
    for logger in loggers:
        logger.log_hyperparams(params)


def train(cfg: DictConfig) -> dict[str, float]:
    """Run one training job; return its final metrics (floats) keyed like ``val/elbo``."""
    validate_train_config(cfg)  # bad values fail here, before torch/Lightning are imported
    import pytorch_lightning as pl

    from genlab.callbacks.optimized_metric import OptimizedMetricCheck
    from genlab.launch import ddp
    from genlab.launch.job import isolated_job
    from genlab.run.checks import adapt_data_to_model, check_model_data
    from genlab.run.instantiate import (
        instantiate_callbacks,
        instantiate_checked,
        instantiate_loggers,
        instantiate_metrics,
    )
    from genlab.run.resume import check_resume_checkpoint
    from genlab.utils.run_files import save_resolved_config, scalar_metrics, write_json
    from genlab.utils.torch_env import drop_nvml_check_without_gpu

    with isolated_job():
        drop_nvml_check_without_gpu()  # ~0.9 ms per optimizer step on CPU-only machines
        child = ddp.is_ddp_child()
        try:
            adapt_data_to_model(cfg)
            if not child:
                save_resolved_config(cfg, cfg.paths.output_dir)
            seed = pl.seed_everything(cfg.seed, workers=True)
            log.info(f"Seed: {seed}; output folder: {cfg.paths.output_dir}")
            datamodule: pl.LightningDataModule = instantiate_checked(cfg.data, "data")
            model: pl.LightningModule = instantiate_checked(cfg.model, "model")
            check_model_data(model, datamodule)  # also: the model implements the contract
            check_resume_checkpoint(cfg, model)
            monitor = model.checkpoint_monitor  # declared by the family (contract.py)
            callbacks = instantiate_callbacks(cfg.get("callbacks"), monitor=monitor)
            callbacks += instantiate_metrics(cfg.get("metrics"), datamodule)
            if cfg.get("optimized_metric"):  # a typo fails after one epoch, not after the trial
                callbacks.append(OptimizedMetricCheck(cfg.optimized_metric))
            loggers = instantiate_loggers(cfg.get("logger"))
            trainer: pl.Trainer = hydra.utils.instantiate(
                cfg.trainer, callbacks=callbacks, logger=loggers or False
            )
            if isinstance(trainer.strategy, ddp.JobDDPStrategy) and not child:
                ddp.register_job(cfg, "genlab.train:train", cfg.paths.output_dir)
            log_hyperparameters(cfg, model, loggers, seed=seed)
            if cfg.get("train", True):
                trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
            metrics = scalar_metrics(trainer.callback_metrics)
            if cfg.get("test", False):
                best = trainer.checkpoint_callback and trainer.checkpoint_callback.best_model_path
                if not cfg.get("train", True):
                    best = cfg.get("ckpt_path")
                trainer.test(model, datamodule=datamodule, ckpt_path=best or None)
                metrics.update(scalar_metrics(trainer.callback_metrics))
            if trainer.is_global_zero:
                write_json(metrics, Path(cfg.paths.output_dir) / "metrics.json")
            return metrics
        finally:
            ddp.clear_job()


def optimized_value(cfg: DictConfig, metrics: dict[str, float]) -> float | None:
    """Return ``metrics[cfg.optimized_metric]`` for sweepers, or None when none is named."""
    name = cfg.get("optimized_metric")
    if not name:
        return None
    if name not in metrics:
        raise KeyError(
            f"optimized_metric={name!r} was not logged; logged metrics: {sorted(metrics)}. "
            "Set optimized_metric to one of them."
        )
    return metrics[name]


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Console entry point ``genlab-train``; returns the optimized metric for sweepers."""
    from genlab.run.validate import ConfigValueError

    try:
        return optimized_value(cfg, train(cfg))
    except ConfigValueError as err:  # a bad value: the key and the range, not a traceback
        log.error(str(err))
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
