"""Checkpoint guarantees (docs/reliability.md): last.ckpt after every epoch, atomic writes,
weights_only loads, clear errors for unreadable or foreign checkpoints, a new LR on resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import hydra
import pytest
import torch
from omegaconf import OmegaConf

from genlab.train import train

FAST = ["metrics=none", "logger=csv", "test=false"]
# last.ckpt written to disk at every epoch end (the default writes at most every 60 s and keeps
# the states in between in memory; tests/test_checkpoint_cadence.py covers that cadence)
EVERY_EPOCH = ["callbacks.model_checkpoint.write_every_s=0"]
GAN = [
    "model=dcgan",
    "data.binarize=none",
    "data.image_size=16",
    "model.generator.base_channels=8",
    "model.discriminator.base_channels=8",
]


class LastCkptProbe:
    """Test callback: at the start of each epoch and at the end of fit, read last.ckpt and record
    (its epoch, its global_step, trainer epoch, trainer global_step, weights equal)."""

    records: list[tuple[int, int, int, int, bool]] = []

    def __new__(cls, dirpath: str):
        import pytorch_lightning as pl

        class Probe(pl.Callback):
            def _check(self, trainer, pl_module, finished_epoch):
                ckpt = torch.load(Path(dirpath) / "last.ckpt", weights_only=True)
                same = all(
                    torch.equal(v.cpu(), ckpt["state_dict"][k])
                    for k, v in pl_module.state_dict().items()
                )
                cls.records.append(
                    (ckpt["epoch"], ckpt["global_step"], finished_epoch, trainer.global_step, same)
                )

            def on_train_epoch_start(self, trainer, pl_module):
                if trainer.current_epoch > 0:
                    self._check(trainer, pl_module, trainer.current_epoch - 1)

            def on_fit_end(self, trainer, pl_module):
                self._check(trainer, pl_module, trainer.current_epoch - 1)

        return Probe()


@pytest.mark.parametrize(
    "case",
    [
        ["model.optimizer.lr=0"],  # the repro: monitor=auto (val/elbo) stops improving
        ["callbacks.model_checkpoint.monitor=epoch", "callbacks.model_checkpoint.mode=min"],
        ["callbacks.model_checkpoint.monitor=null"],
        [*GAN],  # GANs have no monitored metric by default
        [*GAN, "callbacks.model_checkpoint.monitor=epoch", "callbacks.model_checkpoint.mode=min"],
    ],
    ids=["vae-auto-lr0", "vae-monitored", "vae-unmonitored", "gan", "gan-monitored"],
)
def test_last_ckpt_holds_every_finished_epoch(tiny_cfg, case):
    cfg = tiny_cfg(*FAST, *EVERY_EPOCH, "trainer.max_epochs=3", *case)
    ckpt_dir = Path(cfg.paths.output_dir) / "checkpoints"
    OmegaConf.update(
        cfg,
        "callbacks.probe",
        {"_target_": f"{__name__}.LastCkptProbe", "dirpath": str(ckpt_dir)},
        force_add=True,
    )
    LastCkptProbe.records = []
    train(cfg)
    assert len(LastCkptProbe.records) == 3
    for ckpt_epoch, ckpt_step, epoch, step, same in LastCkptProbe.records:
        assert (ckpt_epoch, ckpt_step) == (epoch, step)
        assert same, "last.ckpt weights differ from the model's at the end of the epoch"


class Marker:
    """Unpickling this runs code: it creates the file ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_resume_refuses_a_checkpoint_that_runs_code(tiny_cfg, tmp_path, monkeypatch):
    marker = tmp_path / "code_ran"
    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "epoch": 0, "global_step": 0, "x": Marker(str(marker))}, evil)
    # torch < 2.6 defaulted to full unpickling; this env var restores that default
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    with pytest.raises(RuntimeError, match="evil.ckpt.*run code"):
        train(tiny_cfg(*FAST, f"ckpt_path={evil}"))
    assert not marker.exists()
    # the CheckpointIO that Lightning itself uses on resume refuses it too
    trainer = hydra.utils.instantiate(tiny_cfg(*FAST).trainer)
    with pytest.raises(RuntimeError, match="run code"):
        trainer.strategy.checkpoint_io.load_checkpoint(evil)
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated"], ids=["empty", "truncated"])
def test_resume_from_unreadable_checkpoint_names_the_file(tiny_cfg, tmp_path, content):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(content)
    with pytest.raises(RuntimeError, match=r"bad\.ckpt \(\d+ bytes\) is unreadable.*last\.ckpt"):
        train(tiny_cfg(*FAST, f"ckpt_path={bad}"))


def test_resume_with_another_model_names_both_models_and_the_key(tiny_cfg):
    cfg = tiny_cfg(*FAST, "trainer.max_epochs=1", "trainer.limit_train_batches=1")
    train(cfg)
    last = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    other = tiny_cfg(*FAST, f"ckpt_path={last}", "model.latent_dim=8")
    OmegaConf.update(other, "paths.output_dir", str(Path(cfg.paths.output_dir) / "resumed"))
    with pytest.raises(ValueError, match=r"does not fit.*model\.latent_dim: 8 here vs 16"):
        train(other)
    gan = tiny_cfg(*FAST, *GAN, f"ckpt_path={last}")
    OmegaConf.update(gan, "paths.output_dir", str(Path(cfg.paths.output_dir) / "gan"))
    with pytest.raises(ValueError, match=r"written by genlab\.models\.vae\.VAE.*builds genlab"):
        train(gan)


def _lrs(path: Path) -> list[float]:
    ckpt = torch.load(path, weights_only=True)
    return [g["lr"] for opt in ckpt["optimizer_states"] for g in opt["param_groups"]]


@pytest.mark.parametrize(
    ("model", "key"),
    [([], "model.optimizer.lr"), (GAN, "model.optimizer_g.lr")],
    ids=["vae", "gan"],
)
def test_resume_after_nan_trains_with_the_new_learning_rate(tiny_cfg, model, key):
    """The NaN message says: lower the LR and resume from last.ckpt. The resumed run must use
    the new LR, not the one restored from the optimizer state."""
    cfg = tiny_cfg(*FAST, *model, "trainer.max_epochs=1")
    train(cfg)
    last = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    old = _lrs(last)
    resumed = tiny_cfg(*FAST, *model, "trainer.max_epochs=2", f"ckpt_path={last}", f"{key}=1e-5")
    OmegaConf.update(resumed, "paths.output_dir", str(Path(cfg.paths.output_dir) / "resumed"))
    train(resumed)
    new = _lrs(Path(resumed.paths.output_dir) / "checkpoints" / "last.ckpt")
    assert new[0] == pytest.approx(1e-5) and old[0] != pytest.approx(1e-5)
    assert new[1:] == old[1:]  # the GAN's other optimizer keeps its LR


# ----- atomic writes: a disk fault or a kill while bytes reach the checkpoint folder -------------
INJECT = r'''
import builtins, errno, os, signal, sys
FOLDER, LIMIT, MODE = sys.argv[1], int(sys.argv[2]), sys.argv[3]

class Faulty:
    """A writable file in FOLDER that fails (ENOSPC) or SIGKILLs the process after LIMIT bytes."""
    def __init__(self, f):
        self.f, self.n = f, 0
    def write(self, b):
        if self.n + len(b) > LIMIT:
            self.f.write(b[: max(LIMIT - self.n, 0)]); self.f.flush()
            if MODE == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise OSError(errno.ENOSPC, "No space left on device")
        self.n += len(b)
        return self.f.write(b)
    def __getattr__(self, name):
        if name == "fileno":  # no sendfile fast path: every byte goes through write()
            raise AttributeError(name)
        return getattr(self.f, name)
    def __enter__(self):
        return self
    def __exit__(self, *a):
        self.f.close()

def _wrap(f, path):
    path = os.path.realpath(path)
    return Faulty(f) if os.path.dirname(path) == FOLDER else f

_open, _fdopen = builtins.open, os.fdopen
def open_(file, mode="r", *a, **k):
    f = _open(file, mode, *a, **k)
    return _wrap(f, str(file)) if "w" in mode and not isinstance(file, int) else f
def fdopen(fd, mode="r", *a, **k):
    f = _fdopen(fd, mode, *a, **k)
    return _wrap(f, os.readlink(f"/proc/self/fd/{fd}")) if "w" in mode else f
builtins.open, os.fdopen = open_, fdopen
'''


def _save_with_fault(tiny_cfg, tmp_path: Path, folder: Path, mode: str) -> subprocess.Popen:
    """In a child process, save a 4 MB checkpoint over folder/last.ckpt through the CheckpointIO
    that genlab's trainer config builds, with $TMPDIR on another filesystem (/dev/shm) and a
    fault (ENOSPC or SIGKILL) after 1 MB reach the checkpoint folder."""
    trainer_cfg = tmp_path / "trainer.yaml"
    OmegaConf.save(tiny_cfg(*FAST).trainer, trainer_cfg, resolve=True)
    code = INJECT + (
        "import hydra, torch\nfrom omegaconf import OmegaConf\n"
        f"trainer = hydra.utils.instantiate(OmegaConf.load({str(trainer_cfg)!r}))\n"
        "ckpt = {'state_dict': {'w': torch.ones(1024, 1024)}, 'epoch': 2}\n"
        "trainer.strategy.checkpoint_io.save_checkpoint(ckpt, FOLDER + '/last.ckpt')\n"
    )
    tmpdir = tempfile.mkdtemp(dir="/dev/shm")
    env = {**os.environ, "TMPDIR": tmpdir, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run(
        [sys.executable, "-c", code, str(folder), str(2**20), mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.skipif(
    not Path("/dev/shm").is_dir() or os.stat("/dev/shm").st_dev == os.stat("/tmp").st_dev,
    reason="needs /dev/shm on another filesystem than the checkpoint folder",
)
@pytest.mark.parametrize("mode", ["kill", "full_disk"])
def test_interrupted_checkpoint_write_keeps_the_previous_file(tiny_cfg, tmp_path, mode):
    folder = (tmp_path / "checkpoints").resolve()
    folder.mkdir()
    torch.save({"state_dict": {"w": torch.zeros(3)}, "epoch": 1}, folder / "last.ckpt")
    done = _save_with_fault(tiny_cfg, tmp_path, folder, mode)
    if mode == "kill":
        assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    else:
        assert done.returncode != 0 and "No space left" in done.stderr, done.stderr[-2000:]
    previous = torch.load(folder / "last.ckpt", weights_only=True)
    assert previous["epoch"] == 1 and torch.equal(previous["state_dict"]["w"], torch.zeros(3))
    # no partial file under a checkpoint name (a kill may leave a hidden .last.ckpt.*.tmp)
    assert sorted(p.name for p in folder.glob("*.ckpt")) == ["last.ckpt"]
    if mode == "full_disk":
        assert [p.name for p in folder.iterdir()] == ["last.ckpt"]
