"""Real ``genlab-train`` runs in a tmp cwd: tiny settings, and readers for what they leave."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from genlab.utils.config_dir import CONFIG_DIR
from helpers.wandb_offline import OfflineRun, read_offline_run


def _metrics_off() -> list[str]:
    """Turn the sample-quality metrics off when train.yaml has that group (FID is slow here)."""
    defaults = OmegaConf.load(Path(CONFIG_DIR) / "train.yaml").defaults
    has_metrics = any(isinstance(d, dict) and "metrics" in d for d in defaults)
    return ["metrics=none"] if has_metrics else []


# one epoch of 5 train / 2 val batches, no images, no test: the cheapest real run
TINY_RUN = [
    "debug=fast",
    "logger=many",  # debug=fast logs to CSV only; these runs check the W&B runs too
    "trainer.max_epochs=1",
    "trainer.enable_progress_bar=false",
    "test=false",
    "callbacks=none",
    *_metrics_off(),
]


def sweep_dirs(tmp_path: Path) -> list[Path]:
    """Return the multirun folders under tmp_path/outputs."""
    return sorted((tmp_path / "outputs").glob("*/multiruns/*"))


def job_dirs(sweep_dir: Path) -> list[Path]:
    """Return the numbered job folders of one sweep."""
    return sorted(p for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit())


def wandb_runs(job_dir: Path) -> list[OfflineRun]:
    """Return the offline W&B runs written in one job folder (``latest-run`` is a link)."""
    return [read_offline_run(p) for p in sorted(job_dir.glob("wandb/offline-run-*/*.wandb"))]


def check_ok(proc) -> None:
    """Fail with the end of the run's output when it did not exit cleanly."""
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]


def train_to_last_ckpt(tiny_cfg, overrides: list[str], epochs: int, folder: str, ckpt=None) -> dict:
    """Train in process for ``epochs`` into ``<output_dir>/<folder>``, resuming from ``ckpt``
    when given; return that run's ``last.ckpt`` (loaded with ``weights_only=True``)."""
    import torch

    from genlab.train import train

    extra = [f"ckpt_path={ckpt}"] if ckpt else []
    cfg = tiny_cfg(*overrides, f"trainer.max_epochs={epochs}", *extra)
    out = Path(cfg.paths.output_dir) / folder
    OmegaConf.update(cfg, "paths.output_dir", str(out))
    train(cfg)
    return torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)


def straight_stopped_resumed(tiny_cfg, overrides: list[str]) -> tuple[dict, dict, dict]:
    """The checkpoints of a 2-epoch run, of a run stopped after epoch 1, and of that run
    resumed to epoch 2 from its ``last.ckpt`` (what a kill during epoch 2 leaves)."""
    straight = train_to_last_ckpt(tiny_cfg, overrides, 2, "a")
    stopped = train_to_last_ckpt(tiny_cfg, overrides, 1, "b")
    last = Path(tiny_cfg().paths.output_dir) / "b" / "checkpoints" / "last.ckpt"
    return straight, stopped, train_to_last_ckpt(tiny_cfg, overrides, 2, "c", ckpt=last)
