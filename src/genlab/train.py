"""genlab-train: compose the config, instantiate data, model, callbacks, loggers and trainer,
then fit and test. Never imports a concrete model: ``_target_`` in the config does."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import hydra
from omegaconf import DictConfig, OmegaConf, open_dict

from genlab.run import help as cli_help
from genlab.run.validate import validate_train_config
from genlab.utils import run_dir
from genlab.utils.config_dir import CONFIG_DIR
from genlab.utils.console import print_config_tree, quiet_console

if TYPE_CHECKING:  # torch and Lightning load inside train(), after the config is validated
    import pytorch_lightning as pl

log = logging.getLogger(__name__)

run_dir.register_resolver()  # ${genlab_unique_dir:...} in conf/hydra/default.yaml
cli_help.register_resolver()  # ${genlab_config_groups:...} in genlab-train --help
quiet_console()  # no library tips or deprecation warnings a user cannot act on

FAILED_FILE = "FAILED"  # written into a run folder whose job raised (genlab-report lists it)


def logged_config(cfg: DictConfig, callback_keys: set[str] | None = None) -> dict:
    """Return the resolved config as plain values for the trackers, with ``choices`` (the
    Hydra config-group choices, e.g. ``choices.model: iwae``, so runs group by them) and
    only the ``callbacks`` entries named in ``callback_keys`` (those that run; all if None)."""
    from genlab.launch.sweep import hydra_choices

    params = OmegaConf.to_container(cfg, resolve=True)
    if callback_keys is not None and isinstance(params.get("callbacks"), dict):
        params["callbacks"] = {k: v for k, v in params["callbacks"].items() if k in callback_keys}
    choices = hydra_choices()
    if choices:
        params["choices"] = choices
    return params


def log_hyperparameters(
    cfg: DictConfig,
    model: pl.LightningModule,
    loggers: list,
    seed: int | None = None,
    callback_keys: set[str] | None = None,
) -> dict:
    """Send the resolved config (plain values, no ``${``; see :func:`logged_config`),
    parameter counts and the effective seed (``seed_effective``: what ``seed_everything``
    used, also when ``seed`` is null); return what was sent."""
    params = logged_config(cfg, callback_keys)
    if seed is not None:
        params["seed_effective"] = seed
    params["model/params_total"] = sum(p.numel() for p in model.parameters())
    params["model/params_trainable"] = sum(p.numel() for p in model.parameters() if p.requires_grad)
    for logger in loggers:
        logger.log_hyperparams(params)
    return params


def apply_debug_model(cfg: DictConfig) -> None:
    """Copy ``debug_model.<key>`` (set by ``debug=fast``) into ``model.<key>`` where the model
    config has that key (e.g. ``test_iw_samples`` for VAEs; GANs have none)."""
    overrides = cfg.get("debug_model") or {}
    with open_dict(cfg):
        for key, value in overrides.items():
            if key in cfg.model:
                cfg.model[key] = value


def console_callbacks(trainer_cfg: DictConfig) -> list:
    """The progress bar and model summary genlab shows (no ``v_num``, no FLOPs: see
    ``genlab.callbacks.console``), unless the trainer config switches them off."""
    from genlab.callbacks.console import QuietModelSummary, QuietProgressBar

    out = []
    if trainer_cfg.get("enable_progress_bar", True) is not False:
        out.append(QuietProgressBar())
    if trainer_cfg.get("enable_model_summary", True) is not False:
        out.append(QuietModelSummary())
    return out


def train(cfg: DictConfig) -> dict[str, float]:
    """Run one training job; return its final metrics (floats) keyed like ``val/elbo``."""
    validate_train_config(cfg)  # bad values fail here, before torch/Lightning are imported
    from genlab.run.checks import adapt_image_size

    adapt_image_size(cfg)  # before Lightning: imports only the nets' modules (~1-2 s)
    apply_debug_model(cfg)
    import pytorch_lightning as pl
    import torch

    from genlab.callbacks.console import hidden_on_console, print_test_table
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
    from genlab.utils.tensorboard import log_final_hparams
    from genlab.utils.torch_env import drop_nvml_check_without_gpu

    with isolated_job():  # restores torch's thread count afterwards
        drop_nvml_check_without_gpu()  # ~0.9 ms per optimizer step on CPU-only machines
        if cfg.get("torch_threads"):  # debug=fast: 1 (no thread contention on tiny nets)
            torch.set_num_threads(int(cfg.torch_threads))
        child = ddp.is_ddp_child()
        try:
            adapt_data_to_model(cfg)  # data.binarize (imports the model's module)
            if not child:
                save_resolved_config(cfg, cfg.paths.output_dir)
                if cfg.get("print_config", True):
                    print_config_tree(cfg)
            seed = pl.seed_everything(cfg.seed, workers=True)
            log.info(f"Seed: {seed}; output folder: {cfg.paths.output_dir}")
            datamodule: pl.LightningDataModule = instantiate_checked(cfg.data, "data")
            model: pl.LightningModule = instantiate_checked(cfg.model, "model")
            check_model_data(model, datamodule)  # also: the model implements the contract
            check_resume_checkpoint(cfg, model)
            monitor = model.checkpoint_monitor  # declared by the family (contract.py)
            callbacks = instantiate_callbacks(cfg.get("callbacks"), monitor, model, datamodule)
            callback_keys = {c.config_key for c in callbacks}
            callbacks += instantiate_metrics(cfg.get("metrics"), datamodule, model)
            callbacks += console_callbacks(cfg.trainer)
            if cfg.get("optimized_metric"):  # a typo fails after one epoch, not after the trial
                callbacks.append(OptimizedMetricCheck(cfg.optimized_metric))
            loggers = instantiate_loggers(cfg.get("logger"))
            trainer: pl.Trainer = hydra.utils.instantiate(
                cfg.trainer,
                callbacks=callbacks,
                logger=loggers or False,
                enable_model_summary=False,  # QuietModelSummary instead (console_callbacks)
            )
            if isinstance(trainer.strategy, ddp.JobDDPStrategy) and not child:
                ddp.register_job(cfg, "genlab.train:train", cfg.paths.output_dir)
            params = log_hyperparameters(cfg, model, loggers, seed, callback_keys)
            if cfg.get("train", True):
                trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
            metrics = scalar_metrics(trainer.callback_metrics)
            if cfg.get("test", False):
                best = trainer.checkpoint_callback and trainer.checkpoint_callback.best_model_path
                if not cfg.get("train", True):
                    best = cfg.get("ckpt_path")
                trainer.test(model, datamodule=datamodule, ckpt_path=best or None, verbose=False)
                metrics.update(scalar_metrics(trainer.callback_metrics))
                if trainer.is_global_zero:
                    print_test_table(metrics, hidden_on_console(callbacks))
            if trainer.is_global_zero:
                write_json(metrics, Path(cfg.paths.output_dir) / "metrics.json")
                log_final_hparams(loggers, params, metrics)  # TensorBoard's HParams tab
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


def mark_failed(output_dir: str | Path, error: BaseException) -> Path | None:
    """Write ``<output_dir>/FAILED`` (the error's type and message) so a run folder left by a
    job that raised is marked as such (genlab-report lists it as failed); return its path."""
    folder = Path(output_dir)
    if not folder.is_dir():
        return None
    path = folder / FAILED_FILE
    path.write_text(f"{type(error).__name__}: {error}\n")
    return path


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Console entry point ``genlab-train``; returns the optimized metric for sweepers.
    A job that raises leaves its folder marked ``FAILED``; a bad config value prints the key
    and its range (exit code 2) instead of a traceback."""
    from genlab.launch import resume_sweep
    from genlab.run.validate import ConfigValueError

    try:
        done = resume_sweep.prepare_job(cfg)  # multirun: skip finished, resume unfinished jobs
    except resume_sweep.SweepMismatchError as err:  # the folder is left as it was
        log.error(str(err))
        raise SystemExit(2) from None
    try:
        value = optimized_value(cfg, done if done is not None else train(cfg))
    except ConfigValueError as err:
        mark_failed(cfg.paths.output_dir, err)
        resume_sweep.job_ended(err)
        log.error(str(err))
        raise SystemExit(2) from None
    except (Exception, KeyboardInterrupt) as error:
        mark_failed(cfg.paths.output_dir, error)
        resume_sweep.job_ended(error)
        raise
    if done is None:
        resume_sweep.job_ended()
    return value


if __name__ == "__main__":
    main()
