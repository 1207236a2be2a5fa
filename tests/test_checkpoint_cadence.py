"""Checkpoint write cadence (``callbacks.model_checkpoint.write_every_s``, docs/reliability.md):
states kept in memory between writes are the real epoch-end states, and they reach the disk at
the end of fit, on an exception and on SIGTERM."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from genlab.train import train

# 3 optimizer steps per epoch (TINY: limit_train_batches=3); a cadence never due in a test
FAST = ["metrics=none", "logger=csv", "test=false", "trainer.max_epochs=3"]
NEVER_DUE = ["callbacks.model_checkpoint.write_every_s=3600"]
BEST_IS_EPOCH_0 = [
    "callbacks.model_checkpoint.monitor=epoch",
    "callbacks.model_checkpoint.mode=min",
]


class Recorder:
    """Test callback: at each epoch start, the checkpoint files on disk and the weights of the
    epoch that just finished; optionally raise or SIGTERM at ``(stop_epoch, stop_batch)``."""

    files: list[list[str]] = []
    weights: dict[int, dict[str, torch.Tensor]] = {}

    def __new__(cls, dirpath: str, stop: str = "", stop_epoch: int = -1, stop_batch: int = -1):
        import pytorch_lightning as pl

        class Probe(pl.Callback):
            def on_train_epoch_start(self, trainer, pl_module):
                cls.files.append(sorted(p.name for p in Path(dirpath).glob("*.ckpt")))
                if trainer.current_epoch > 0:
                    state = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}
                    cls.weights[trainer.current_epoch - 1] = state

            def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
                if (trainer.current_epoch, batch_idx) != (stop_epoch, stop_batch):
                    return
                if stop == "raise":
                    raise RuntimeError("stop here")
                os.kill(os.getpid(), signal.SIGTERM)

        return Probe()


def _run(tiny_cfg, *overrides: str, **probe) -> Path:
    cfg = tiny_cfg(*FAST, *NEVER_DUE, *overrides)
    ckpt_dir = Path(cfg.paths.output_dir) / "checkpoints"
    node = {"_target_": f"{__name__}.Recorder", "dirpath": str(ckpt_dir), **probe}
    OmegaConf.update(cfg, "callbacks.recorder", node, force_add=True)
    Recorder.files, Recorder.weights = [], {}
    train(cfg)
    return ckpt_dir


def _same(state: dict[str, torch.Tensor], ckpt: dict) -> bool:
    return all(torch.equal(v.cpu(), ckpt["state_dict"][k]) for k, v in state.items())


def test_states_between_writes_stay_in_memory_and_are_written_at_the_end(tiny_cfg):
    ckpt_dir = _run(tiny_cfg, *BEST_IS_EPOCH_0)
    assert Recorder.files == [[], [], []]  # nothing written during fit (cadence not due)
    assert sorted(p.name for p in ckpt_dir.glob("*.ckpt")) == ["epoch_000.ckpt", "last.ckpt"]
    best = torch.load(ckpt_dir / "epoch_000.ckpt", weights_only=True)
    # the best (epoch 0) copy was taken at its epoch end, not at the write (after epoch 2)
    assert (best["epoch"], best["global_step"]) == (0, 3)
    assert _same(Recorder.weights[0], best)
    assert not _same(Recorder.weights[1], best)
    last = torch.load(ckpt_dir / "last.ckpt", weights_only=True)
    assert (last["epoch"], last["global_step"]) == (2, 9)


@pytest.mark.parametrize("stop", ["raise", pytest.param("sigterm", marks=pytest.mark.slow)])
def test_pending_states_reach_the_disk_on_an_error_or_sigterm(tiny_cfg, stop):
    """An error or a SIGTERM in epoch 2 (0-based; Lightning stops after the batch in progress
    on SIGTERM): the copy kept in memory, the end of epoch 1, is in last.ckpt."""
    with pytest.raises(RuntimeError if stop == "raise" else SystemExit):
        _run(tiny_cfg, stop=stop, stop_epoch=2, stop_batch=1)
    ckpt_dir = Path(tiny_cfg().paths.output_dir) / "checkpoints"
    last = torch.load(ckpt_dir / "last.ckpt", weights_only=True)
    assert (last["epoch"], last["global_step"]) == (1, 6)
    assert _same(Recorder.weights[1], last)


def test_write_every_s_range_is_declared():
    from genlab.callbacks.checkpoint import ModelMonitorCheckpoint
    from genlab.utils.ranges import RangeError

    with pytest.raises(RangeError, match="write_every_s"):
        ModelMonitorCheckpoint(write_every_s=-1)
