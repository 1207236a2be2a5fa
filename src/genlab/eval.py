"""genlab-eval: evaluate a trained checkpoint; prints a table and writes JSON beside it."""

from __future__ import annotations

import logging
import pickle
import zipfile
from pathlib import Path

import hydra
import pytorch_lightning as pl
import torch
from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf

from genlab.launch.job import isolated_job
from genlab.train import CONFIG_DIR
from genlab.utils.checks import check_model_data
from genlab.utils.instantiate import instantiate_loggers, instantiate_metrics
from genlab.utils.run_files import RESOLVED_CONFIG, scalar_metrics, write_json

log = logging.getLogger(__name__)


def load_checkpoint(path: Path) -> dict:
    """Load a Lightning checkpoint on CPU; raise a clear error if missing or corrupt."""
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint not found: {path}. Pass ckpt_path=<run>/checkpoints/last.ckpt "
            "(relative to where you launch genlab-eval, or absolute)."
        )
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError) as err:
        raise RuntimeError(
            f"checkpoint {path} is unreadable ({type(err).__name__}: {err}). The file is "
            "truncated or corrupt (e.g. a job killed while saving): evaluate another "
            "checkpoint of the run, such as last.ckpt or epoch_*.ckpt."
        ) from err
    if "state_dict" not in ckpt:
        raise RuntimeError(f"{path} is not a Lightning checkpoint (no 'state_dict' key)")
    return ckpt


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


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Evaluate ``cfg.ckpt_path`` on ``cfg.split``; return metrics and write them as JSON."""
    with isolated_job():
        ckpt_path = Path(to_absolute_path(cfg.ckpt_path))
        ckpt = load_checkpoint(ckpt_path)
        run_cfg = find_run_config(ckpt_path, cfg.get("run_config"))
        if cfg.get("iw_samples"):
            if "test_iw_samples" not in run_cfg.model:
                raise ValueError(
                    f"iw_samples={cfg.iw_samples} sets model.test_iw_samples, which "
                    f"{run_cfg.model.get('_target_')} does not have (only the VAE family "
                    "estimates an importance-weighted NLL); drop iw_samples."
                )
            run_cfg.model.test_iw_samples = int(cfg.iw_samples)
        pl.seed_everything(cfg.seed, workers=True)
        datamodule = hydra.utils.instantiate(run_cfg.data)
        model = hydra.utils.instantiate(run_cfg.model)
        check_model_data(model, datamodule)
        model.load_state_dict(ckpt["state_dict"])
        loggers = instantiate_loggers(cfg.get("logger"))
        callbacks = instantiate_metrics(cfg.get("metrics"), datamodule)
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
            "metrics": metrics,
            "metrics_protocol": next((c.protocol for c in callbacks if c.protocol), None),
        }
        out = write_json(record, ckpt_path.with_suffix(".eval.json"))
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
