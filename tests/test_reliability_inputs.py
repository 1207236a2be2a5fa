"""Issue 19 item 7: bad files and values get errors that name them (docs/reliability.md).

Each case failed silently or with a misleading message before: truncated dataset files read
as "not found", a random file as "would run code", torch's inline_container error, a
read-only checkpoint folder after the first epoch, an escaping run name, an unknown
``WANDB_MODE``, an unknown report column, an empty bench folder, and non-finite values that
only showed up later as a "lower the learning rate" NaN error."""

from __future__ import annotations

import os
import pickle
import resource
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from genlab.data.errors import DatasetCorruptError
from genlab.data.torchvision_data import CIFAR10DataModule, FashionMNISTDataModule, MNISTDataModule
from genlab.run.instantiate import instantiate_checked
from genlab.run.validate import ConfigValueError, check_checkpoint_dir, check_wandb_mode
from genlab.utils.checkpoint_io import atomic_torch_save, load_checkpoint_file
from genlab.utils.run_dir import check_run_name, claim_unique_dir
from helpers.config import compose_config
from test_data import write_fake_mnist, write_idx


@pytest.mark.parametrize(
    ("cls", "folder"), [(MNISTDataModule, "MNIST"), (FashionMNISTDataModule, "FashionMNIST")]
)
def test_truncated_idx_file_is_corrupt_not_missing(tmp_path, cls, folder):
    write_fake_mnist(tmp_path, folder, n_train=20, n_test=10)
    images = tmp_path / folder / "raw" / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:5000])  # header says 20 images; 6 are there
    dm = cls(root=str(tmp_path), download=False, val_size=5)
    with pytest.raises(
        DatasetCorruptError, match=r"corrupt or truncated.*idx3-ubyte \(5,000 bytes\)"
    ):
        dm.prepare_data()


def test_mnist_with_fewer_labels_than_images_is_corrupt(tmp_path):
    write_fake_mnist(tmp_path, "MNIST", n_train=100, n_test=10)
    labels = np.zeros(60, dtype=np.uint8)
    write_idx(tmp_path / "MNIST" / "raw" / "train-labels-idx1-ubyte", labels)
    dm = MNISTDataModule(root=str(tmp_path), download=False, val_size=5)
    dm.prepare_data()
    with pytest.raises(DatasetCorruptError, match=r"100 images but 60 labels"):
        dm.setup("fit")


def test_corrupt_cifar_batch_is_corrupt_not_missing(tmp_path):
    dm = CIFAR10DataModule(root=str(tmp_path), download=False, val_size=5)
    folder = Path(dm.folder())
    folder.mkdir(parents=True)
    for name in dm.expected_files():
        (folder / name).write_bytes(pickle.dumps({"data": "truncated"})[:10])
    with pytest.raises(DatasetCorruptError, match=r"CIFAR-10 files are corrupt.*data_batch_1"):
        dm.prepare_data()


def test_random_bytes_are_not_a_checkpoint(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "random.ckpt"
    for _ in range(10):  # 10 random files of 4 KiB, none starting like torch.save output
        data = rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
        path.write_bytes(b"\x13" + data[1:])
        with pytest.raises(RuntimeError, match=r"random\.ckpt \(4096 bytes\) is not a checkpoint"):
            load_checkpoint_file(path)


def test_file_size_limit_gives_a_clear_write_error(tmp_path):
    target = tmp_path / "ckpts" / "last.ckpt"
    atomic_torch_save({"w": torch.zeros(10)}, target)
    before = target.read_bytes()
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, hard))  # Python ignores SIGXFSZ
    try:
        with pytest.raises(OSError, match=r"could not write checkpoint .*last\.ckpt.*ulimit -f"):
            atomic_torch_save({"w": torch.zeros(100_000)}, target)  # 400 kB > 100 kB
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert target.read_bytes() == before and sorted(os.listdir(target.parent)) == ["last.ckpt"]


def test_unwritable_checkpoint_folder_fails_before_training(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    cfg = OmegaConf.create({"callbacks": {"model_checkpoint": {"dirpath": str(blocker / "c")}}})
    with pytest.raises(PermissionError, match=r"callbacks\.model_checkpoint\.dirpath"):
        check_checkpoint_dir(cfg)
    if os.geteuid() != 0:  # root writes into read-only folders
        readonly = tmp_path / "ro"
        readonly.mkdir(mode=0o500)
        cfg.callbacks.model_checkpoint.dirpath = str(readonly / "checkpoints")
        with pytest.raises(PermissionError, match=r"cannot write to"):
            check_checkpoint_dir(cfg)


@pytest.mark.parametrize("name", ["../../../escaped", "/tmp/abs", "a/../../b", ""])
def test_run_name_cannot_leave_the_runs_folder(tmp_path, name):
    with pytest.raises(ValueError, match=r"paths\.run_name=.*below the runs folder"):
        claim_unique_dir(str(tmp_path / "runs"), name)
    assert sorted(p.name for p in tmp_path.rglob("*")) in ([], ["runs"])
    assert check_run_name("sweeps/iwae_seed1") == "sweeps/iwae_seed1"


def test_unknown_wandb_mode_is_refused(monkeypatch):
    cfg = OmegaConf.create({"logger": {"wandb": {"project": "genlab"}}})
    monkeypatch.setenv("WANDB_MODE", "foo")
    with pytest.raises(ConfigValueError, match=r"WANDB_MODE='foo' is not a W&B mode"):
        check_wandb_mode(cfg)
    check_wandb_mode(OmegaConf.create({"logger": {"csv": {}}}))  # no W&B: not its business
    monkeypatch.setenv("WANDB_MODE", "offline")
    check_wandb_mode(cfg)


def test_report_refuses_an_unknown_column(tmp_path):
    from genlab.report import report
    from test_ux_report import fake_run

    fake_run(tmp_path / "0", 0, {"test/nll_iw": 90.0})
    cfg = {"runs": str(tmp_path), "group_by": []}
    for column, message in [
        ("test/nll_iwx", r"'test/nll_iwx' is not a metric.*did you mean 'test/nll_iw'"),
        ("unknown", r"'unknown' is not a metric of these runs"),
    ]:
        with pytest.raises(ValueError, match=message):
            report(OmegaConf.create({**cfg, "columns": [column]}))
    table = report(OmegaConf.create({**cfg, "columns": ["test/nll_iw", "val/fid"]}))
    assert table.loc[0, "val/fid"] == "n/a (not logged by these runs)"  # a real metric


def test_bench_collect_only_needs_a_folder_with_runs(tmp_path):
    from genlab.bench.run import check_collect_folder

    with pytest.raises(FileNotFoundError, match=r"collect_only=true: .*missing does not exist"):
        check_collect_folder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"holds no finished run"):
        check_collect_folder(tmp_path / "empty")


LECAM = ["model=dcgan", "data.binarize=none", "data.image_size=16", "+model/d_terms=lecam"]


@pytest.mark.parametrize(
    ("overrides", "node", "expected"),
    [
        (["model.objective.beta=inf"], "model", r"model\.objective\.beta=inf: expected"),
        ([*LECAM, "model.d_terms.lecam.weight=inf"], "model", r"lecam\.weight=inf: expected"),
        (["model=vqvae", "model.quantizer.eps=-1"], "model", r"quantizer\.eps=-1(\.0)?: expected"),
        (["data=ring2d", "data.std=nan"], "data", r"data\.std=nan: expected"),
    ],
)
def test_values_that_made_the_loss_non_finite_are_refused_by_key(
    tmp_path, overrides, node, expected
):
    """Before, these ran until the loss was NaN and the error blamed the learning rate."""
    cfg = compose_config(overrides, tmp_path)
    with pytest.raises((ConfigValueError, ValueError), match=expected):
        instantiate_checked(OmegaConf.select(cfg, node), node)
