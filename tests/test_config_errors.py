"""Bad input fails before any training step, naming the key or file and the fix
(docs/reliability.md); config errors come before torch and Lightning are even imported."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from genlab.eval import evaluate
from helpers.config import compose_config

# Runs genlab-train's entry point and reports whether torch was imported before it exited.
PROBE = (
    "import runpy, sys\n"
    "sys.argv = ['genlab-train', *sys.argv[1:]]\n"
    "try:\n"
    "    runpy.run_module('genlab.train', run_name='__main__')\n"
    "finally:\n"
    "    print('TORCH_IMPORTED=' + str('torch' in sys.modules), flush=True)\n"
)


def run_train(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``genlab-train <args>`` in a child process (W&B offline); stdout + stderr in ``.stdout``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(WANDB_MODE="offline", WANDB_SILENT="true", PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["model=dcgan", "data=ring2d"], r"model=dcgan does not fit data=ring2d.*model=gan_mlp"),
        (
            ["model=vae", "data=ring2d"],
            r"model=vae does not fit data=ring2d.*reads data\.(image_size|channels)",
        ),
        (["model.optimizer.lr=abc"], r"model\.optimizer\.lr='abc' is not valid.*a number >= 0"),
        (["trainer.max_epochs=abc"], r"trainer\.max_epochs='abc' is not valid.*an integer"),
        (
            ["model.objective.beta=-1"],
            r"model\.objective\.beta=-1 is not valid: it must be a number >= 0",
        ),
        (["model.latent_dim=0"], r"model\.latent_dim=0 is not valid: it must be an integer >= 1"),
        (["ckpt_path=nope/last.ckpt"], r"checkpoint not found: ckpt_path=nope/last\.ckpt"),
    ],
    ids=["dcgan-ring2d", "vae-ring2d", "lr-abc", "max_epochs-abc", "beta", "latent_dim", "ckpt"],
)
def test_bad_config_fails_before_torch_is_imported(tmp_path, args, expected):
    done = run_train(args, tmp_path)
    assert done.returncode != 0
    assert "TORCH_IMPORTED=False" in done.stdout, done.stdout[-3000:]
    assert re.search(expected, done.stdout, flags=re.S), done.stdout
    assert not list(tmp_path.rglob("*.ckpt"))


def test_misspelled_appended_key_warns_with_the_nearest_key(tmp_path):
    # the bad max_epochs stops the run right after the checks, so no training is needed
    done = run_train(["+trainr.max_epochs=1", "trainer.max_epochs=abc"], tmp_path)
    assert "adds top-level key 'trainr', which genlab never reads" in done.stdout
    assert "did you mean 'trainer' (trainer.max_epochs=1)?" in done.stdout


def test_vae_rejects_negative_beta_when_built_directly(tmp_path):
    import hydra

    cfg = compose_config(["model.objective.beta=-1"], tmp_path)
    with pytest.raises(Exception, match=r"beta=-1.*>= 0"):
        hydra.utils.instantiate(cfg.model)


def _eval_cfg(tmp_path: Path, *overrides: str):
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": {}}, ckpt)
    return compose_config([f"ckpt_path={ckpt}", "metrics=none", *overrides], tmp_path, "eval")


def test_eval_rejects_iw_samples_zero(tmp_path):
    with pytest.raises(ValueError, match=r"iw_samples=0 is not valid.*>= 1"):
        evaluate(_eval_cfg(tmp_path, "iw_samples=0"))


def test_eval_into_an_unwritable_place_fails_before_computing(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(PermissionError, match=r"cannot write to .*a_file.*output_file="):
        evaluate(_eval_cfg(tmp_path, f"output_file={blocker / 'eval.json'}"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_eval_into_a_read_only_checkpoint_folder_fails_before_computing(tmp_path):
    cfg = _eval_cfg(tmp_path)
    folder = tmp_path / "run" / "checkpoints"
    folder.chmod(0o555)
    try:
        with pytest.raises(PermissionError, match="cannot write to"):
            evaluate(cfg)
    finally:
        folder.chmod(0o755)


def test_corrupt_mnist_file_is_named(tmp_path):
    from genlab.data.errors import DatasetCorruptError
    from genlab.data.torchvision_data import MNISTDataModule

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    dm = MNISTDataModule(root=str(tmp_path), download=False)
    for name in dm.expected_files():
        (raw / name).write_bytes(b"\x00\x00\x08\x03 truncated")
    with pytest.raises(DatasetCorruptError, match=r"corrupt or truncated.*train-images-idx3-ubyte"):
        dm.prepare_data()


def test_optimized_metric_never_logged_fails_after_the_first_epoch(tiny_cfg):
    from genlab.train import train

    cfg = tiny_cfg("metrics=none", "logger=csv", "test=false", "trainer.max_epochs=3")
    cfg.optimized_metric = "val/elbow"
    with pytest.raises(ValueError, match=r"optimized_metric=val/elbow is never logged.*val/elbo"):
        train(cfg)
    last = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    assert not last.exists() or torch.load(last, weights_only=True)["epoch"] == 0
