"""genlab-eval: evaluate a trained checkpoint; prints a table and writes JSON beside it."""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf

from genlab.run.validate import (
    ConfigValueError,
    check_file_exists,
    check_writable_dir,
    warn_unknown_appended_keys,
)
from genlab.utils import run_dir
from genlab.utils.config_dir import CONFIG_DIR
from genlab.utils.console import quiet_console
from genlab.utils.run_files import RESOLVED_CONFIG

log = logging.getLogger(__name__)
run_dir.register_resolver()  # ${genlab_unique_dir:...} in conf/hydra/default.yaml
quiet_console()  # no Lightning tips or deprecation warnings a user cannot act on


def load_checkpoint(path: Path) -> dict:
    """Load a Lightning checkpoint on CPU with ``weights_only=True``; raise an error naming the
    file if it is missing, empty, truncated or not safe to unpickle."""
    from genlab.utils.checkpoint_io import load_checkpoint_file

    return load_checkpoint_file(path)


def output_file(cfg: DictConfig) -> Path:
    """Where the evaluation JSON goes: ``output_file`` or ``<checkpoint>.eval.json``."""
    if cfg.get("output_file"):
        return Path(to_absolute_path(cfg.output_file))
    return Path(to_absolute_path(cfg.ckpt_path)).with_suffix(".eval.json")


def validate_eval_config(cfg: DictConfig) -> None:
    """Fail before any compute: checkpoint exists, ``iw_samples`` >= 1, output folder writable."""
    check_file_exists(cfg.ckpt_path, "ckpt_path", "<run>/checkpoints/last.ckpt")
    k = cfg.get("iw_samples")
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
        raise ConfigValueError(
            f"iw_samples={k!r} is not valid: it must be an integer >= 1 (K importance samples "
            "for test/nll_iw), or null to keep the model's test_iw_samples. E.g. iw_samples=5000."
        )
    check_writable_dir(output_file(cfg).parent, "output_file")
    warn_unknown_appended_keys()


def find_run_config(ckpt_path: Path, run_config: str | None) -> DictConfig:
    """Return the training run's resolved config (beside the checkpoint's run folder)."""
    path = Path(to_absolute_path(run_config)) if run_config else None
    if path is None:
        path = ckpt_path.resolve().parent.parent / ".hydra" / RESOLVED_CONFIG
    if not path.is_file():
        raise FileNotFoundError(
            f"training config not found at {path}; genlab-train writes it to "
            f"<run>/.hydra/{RESOLVED_CONFIG}. Pass run_config=<path to that file>."
        )
    return OmegaConf.load(path)


def trust_run_folder(cfg: DictConfig, run_cfg: DictConfig) -> None:
    """Refuse a run config whose ``model``/``data`` name a ``_target_`` outside the allow-list
    (:mod:`genlab.run.trust`) unless ``trust_run_config=true``; untrusted, the data is read from
    this machine's ``paths.data_dir``, not from a folder the run config names (torchvision
    unpickles CIFAR batches)."""
    from genlab.run.trust import TRUST_KEY, check_run_config_targets

    trusted = bool(cfg.get(TRUST_KEY, False))
    source = cfg.get("run_config") or "the run folder's .hydra/" + RESOLVED_CONFIG
    check_run_config_targets(run_cfg, ("data", "model"), str(source), trusted=trusted)
    if not trusted and "root" in run_cfg.get("data", {}) and cfg.get("paths"):
        run_cfg.data.root = cfg.paths.data_dir


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Evaluate ``cfg.ckpt_path`` on ``cfg.split`` (or, with ``fake=``, samples from anywhere:
    ``genlab.eval_samples``); return metrics and write them as JSON."""
    if cfg.get("fake"):
        from genlab.eval_samples import evaluate_samples

        return evaluate_samples(cfg)
    validate_eval_config(cfg)  # before torch/Lightning are imported
    import pytorch_lightning as pl

    from genlab.launch.job import isolated_job
    from genlab.run.checks import check_model_data
    from genlab.run.data_metrics import adapt_metrics_to_data
    from genlab.run.instantiate import (
        instantiate_checked,
        instantiate_loggers,
        instantiate_metrics,
    )
    from genlab.run.resume import check_state_dict_matches
    from genlab.utils.run_files import scalar_metrics, write_json

    with isolated_job():
        ckpt_path = Path(to_absolute_path(cfg.ckpt_path))
        ckpt = load_checkpoint(ckpt_path)
        run_cfg = find_run_config(ckpt_path, cfg.get("run_config"))
        if cfg.get("iw_samples") is not None:
            if "test_iw_samples" not in run_cfg.model:
                raise ValueError(
                    f"iw_samples={cfg.iw_samples} sets model.test_iw_samples, which "
                    f"{run_cfg.model.get('_target_')} does not have (only the VAE family "
                    "estimates an importance-weighted NLL); drop iw_samples."
                )
            run_cfg.model.test_iw_samples = int(cfg.iw_samples)
        trust_run_folder(cfg, run_cfg)  # before anything of the run's YAML is instantiated
        pl.seed_everything(cfg.seed, workers=True)
        datamodule = instantiate_checked(run_cfg.data, "data")
        model = instantiate_checked(run_cfg.model, "model")
        check_model_data(model, datamodule)
        check_state_dict_matches(ckpt, ckpt_path, model, run_cfg.model)
        model.load_state_dict(ckpt["state_dict"])
        loggers = instantiate_loggers(cfg.get("logger"))
        adapt_metrics_to_data(cfg, data=run_cfg.data)  # dsprites: mig, dci
        callbacks = instantiate_metrics(cfg.get("metrics"), datamodule, model)  # prior check
        trainer = hydra.utils.instantiate(cfg.trainer, logger=loggers or False, callbacks=callbacks)
        if cfg.split == "test":
            results = trainer.test(model, datamodule=datamodule)
        elif cfg.split == "val":
            results = trainer.validate(model, datamodule=datamodule)
        else:
            raise ValueError(f"split={cfg.split!r}; allowed: test, val")
        metrics = scalar_metrics(results[0] if results else {})
        record = {
            "checkpoint": str(ckpt_path),
            "epoch": ckpt.get("epoch"),
            "global_step": ckpt.get("global_step"),
            "seed": cfg.seed,
            "split": cfg.split,
            "iw_samples": run_cfg.model.get("test_iw_samples"),
            "metrics": metrics,
            "metrics_protocol": next((c.protocol for c in callbacks if c.protocol), None),
        }
        out = write_json(record, output_file(cfg))
        print_table(metrics)
        log.info(f"wrote {out}")
        return metrics


def print_table(metrics: dict[str, float]) -> None:
    """Print metrics as a two-column table."""
    width = max((len(k) for k in metrics), default=6)
    print(f"{'metric':<{width}}  value")
    for key in sorted(metrics):
        print(f"{key:<{width}}  {metrics[key]:.4f}")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def main(cfg: DictConfig) -> None:
    """Console entry point ``genlab-eval``."""
    evaluate(cfg)


if __name__ == "__main__":
    main()
