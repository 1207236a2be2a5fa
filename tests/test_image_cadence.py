"""The image callbacks' cadence (every N epochs, a wall-clock floor, always the last epoch), the
fast PNG writer (same pixels as torchvision's ``save_image``) and ``eval_mode``."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.utils import save_image

from genlab.callbacks import cadence
from genlab.callbacks.cadence import EpochCadence
from genlab.callbacks.console import QuietProgressBar
from genlab.callbacks.images import save_png
from genlab.utils.eval_mode import eval_mode
from genlab.utils.ranges import RangeError


def _due_epochs(cad: EpochCadence, seconds_per_epoch: float, epochs: int, monkeypatch) -> list:
    clock = {"t": 0.0}
    monkeypatch.setattr(cadence.time, "monotonic", lambda: clock["t"])
    due = []
    for epoch in range(epochs):
        clock["t"] += seconds_per_epoch
        if cad.due(SimpleNamespace(current_epoch=epoch, max_epochs=epochs)):
            due.append(epoch)
    return due


def test_count_only_cadence_is_every_n_epochs_and_the_last(monkeypatch):
    assert _due_epochs(EpochCadence(5, 0), 0.2, 12, monkeypatch) == [4, 9, 11]


def test_time_floor_thins_fast_runs_only(monkeypatch):
    # 30 epochs of 0.2 s: every 5th epoch is 1 s after the last; a 30 s floor leaves the last
    assert _due_epochs(EpochCadence(5, 30), 0.2, 30, monkeypatch) == [29]
    # 10 s epochs: 5 epochs take 50 s > 30 s, so the floor changes nothing
    assert _due_epochs(EpochCadence(5, 30), 10.0, 30, monkeypatch) == [4, 9, 14, 19, 24, 29]
    # 4 s epochs: every 5th is 20 s after the previous image epoch -> every 10th
    assert _due_epochs(EpochCadence(5, 30), 4.0, 30, monkeypatch) == [9, 19, 29]


BAD_VALUES = [
    {"every_n_epochs": 0},
    {"every_n_epochs": 2.5},
    {"min_interval_s": -1.0},
    {"min_interval_s": float("nan")},
]


def test_a_stop_before_max_epochs_counts_as_the_last_epoch(monkeypatch):
    monkeypatch.setattr(cadence.time, "monotonic", lambda: 1.0)
    cad = EpochCadence(5, 30)
    base = {"max_epochs": 100, "max_steps": -1, "global_step": 40, "should_stop": False}
    assert not cad.due(SimpleNamespace(current_epoch=3, **base))
    assert cad.due(SimpleNamespace(current_epoch=3, **{**base, "should_stop": True}))  # max_g_steps
    assert cad.due(SimpleNamespace(current_epoch=3, **{**base, "max_steps": 40}))


@pytest.mark.parametrize("bad", BAD_VALUES)
def test_cadence_refuses_bad_values_naming_the_key(bad):
    kwargs = {"every_n_epochs": 5, "min_interval_s": 0.0, **bad}
    with pytest.raises(RangeError, match=next(iter(bad))):
        EpochCadence(**kwargs)


@pytest.mark.parametrize("channels", [1, 3])
def test_save_png_writes_the_pixels_save_image_writes(tmp_path, channels):
    grid = torch.rand(channels, 30, 46, generator=torch.Generator().manual_seed(0))
    grid[:, 0, 0] = 1.0  # the clamp edge
    save_png(grid, tmp_path / "ours.png")
    save_image(grid, tmp_path / "torchvision.png")
    ours = np.asarray(Image.open(tmp_path / "ours.png"))
    ref = np.asarray(Image.open(tmp_path / "torchvision.png"))
    if ref.ndim == 3 and ours.ndim == 2:  # save_image writes grey as 3 equal channels
        ref = ref[..., 0]
    assert np.array_equal(ours, ref)


def test_eval_mode_restores_the_training_flag_even_after_an_error():
    net = torch.nn.Linear(2, 2).train()
    with eval_mode(net):
        assert not net.training and not torch.is_grad_enabled()
    assert net.training and torch.is_grad_enabled()
    with pytest.raises(RuntimeError), eval_mode(net):
        raise RuntimeError("boom")
    assert net.training
    net.eval()
    with eval_mode(net, no_grad=False):
        assert torch.is_grad_enabled()
    assert not net.training


def test_progress_bar_reads_metrics_at_most_once_per_redraw_in_batches(monkeypatch):
    bar = QuietProgressBar(refresh_rate=10)
    reads = []
    monkeypatch.setattr(
        "pytorch_lightning.callbacks.RichProgressBar.get_metrics",
        lambda self, trainer, module: reads.append(1) or {"loss": len(reads)},
    )
    trainer = SimpleNamespace(callback_metrics={})
    clock = {"t": 100.0}
    monkeypatch.setattr("genlab.callbacks.console.time.monotonic", lambda: clock["t"])
    bar._in_batch_end = True
    first = bar.get_metrics(trainer, None)
    clock["t"] += 0.05  # within one redraw (0.1 s): the cached items
    assert bar.get_metrics(trainer, None) is first and len(reads) == 1
    clock["t"] += 0.06  # a redraw later: read again
    bar.get_metrics(trainer, None)
    assert len(reads) == 2
    bar._in_batch_end = False  # epoch ends always read afresh
    bar.get_metrics(trainer, None)
    assert len(reads) == 3
