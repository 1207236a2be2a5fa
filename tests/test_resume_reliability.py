"""Resume guarantees of issue 19 (docs/reliability.md): the configured LR after a NaN stop, and
exact resume (RNG states checkpointed, see test_resume_exact.py)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from genlab.train import train

FAST = ["metrics=none", "logger=csv", "test=false"]
EXPLODING = (
    "model.scheduler={_target_:torch.optim.lr_scheduler.ExponentialLR,_partial_:true,gamma:1000}"
)


def _lrs(path: Path) -> list[float]:
    ckpt = torch.load(path, weights_only=True)
    return [g["lr"] for opt in ckpt["optimizer_states"] for g in opt["param_groups"]]


def test_configured_lr_callback_without_scheduler_sets_the_configured_lr():
    """Unit form of item 5 (fast): the optimizer restored with an exploded LR and a
    checkpointed ``initial_lr``, no scheduler in the resumed run -> exactly the configured LR."""
    from types import SimpleNamespace

    from genlab.callbacks.resume import ConfiguredLearningRate

    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(2))], lr=1e-6)
    trainer = SimpleNamespace(optimizers=[opt], lr_scheduler_configs=[], ckpt_path="last.ckpt")
    callback = ConfiguredLearningRate()
    callback.on_fit_start(trainer, None)
    opt.param_groups[0].update(lr=1.0, initial_lr=1e-3)  # what Lightning restores
    callback.on_train_start(trainer, None)
    assert opt.param_groups[0]["lr"] == 1e-6 and "initial_lr" not in opt.param_groups[0]


@pytest.mark.slow
def test_resume_after_a_nan_stop_without_scheduler_trains_at_the_configured_lr(tiny_cfg):
    """Issue 19 item 5: ExponentialLR(gamma=1000) blows the LR up (the run may stop on a
    non-finite loss); resuming with ``model.optimizer.lr=1e-6`` and no scheduler, as the NaN
    message advises, must train at 1e-6 (before the fix: the restored LR x new/old = 1e-3)."""
    cfg = tiny_cfg(*FAST, EXPLODING, "trainer.max_epochs=1")
    with contextlib.suppress(Exception):  # a non-finite loss stop is one of the two outcomes
        train(cfg)
    last = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    assert _lrs(last)[0] >= 1.0  # the checkpoint holds the exploded LR (1e-3 x 1000^epochs)
    resumed = tiny_cfg(
        *FAST, "trainer.max_epochs=2", f"ckpt_path={last}", "model.optimizer.lr=1e-6"
    )
    OmegaConf.update(resumed, "paths.output_dir", str(Path(cfg.paths.output_dir) / "resumed"))
    train(resumed)
    ckpt = torch.load(
        Path(resumed.paths.output_dir) / "checkpoints" / "last.ckpt", weights_only=True
    )
    (group,) = ckpt["optimizer_states"][0]["param_groups"]
    assert group["lr"] == pytest.approx(1e-6, rel=1e-12)
    assert "initial_lr" not in group  # nothing left that a later scheduler would scale from
