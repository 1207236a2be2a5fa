"""Image datamodules: digits splits, binarization, torchvision loading of fake files, errors."""

from __future__ import annotations

import hashlib
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from PIL import Image
from torchvision import datasets as tvd

from genlab.data.base import DatasetNotFoundError, ImageDataModule
from genlab.data.digits import NUM_DIGITS, DigitsDataModule
from genlab.data.torchvision_data import (
    CelebADataModule,
    CIFAR10DataModule,
    FashionMNISTDataModule,
    MNISTDataModule,
)

CONF_DIR = Path(__file__).resolve().parents[1] / "conf" / "data"


def epoch_total(loader) -> float:
    """Sum of every pixel over one pass of ``loader`` (independent of the shuffle order)."""
    return float(sum(x.double().sum() for x, _ in loader))


# ----- digits ------------------------------------------------------------------------------
@pytest.mark.parametrize(("size", "resize"), [(16, "bilinear"), (28, "bilinear"), (28, "pad")])
def test_digits_shapes_and_range(size: int, resize: str) -> None:
    dm = DigitsDataModule(image_size=size, resize=resize, binarize="none", batch_size=32)
    x, y = next(iter(dm.train_dataloader()))
    assert dm.data_shape == (1, size, size) and dm.channels == 1 and dm.image_size == size
    assert x.shape == (32, 1, size, size) and x.dtype == torch.float32
    assert y.shape == (32,) and y.dtype == torch.int64 and y.min() >= 0 and y.max() <= 9
    assert x.min() >= 0.0 and x.max() <= 1.0 and x.max() > 0.9
    assert len(torch.unique(x)) > 2  # grey values


def test_digits_pad_keeps_the_digit_centred_and_exact() -> None:
    from sklearn.datasets import load_digits

    dm = DigitsDataModule(image_size=12, resize="pad")
    x = dm.real_images("test")
    original = torch.from_numpy(load_digits().images).float() / 16
    expected = original[dm.split_indices["test"]].unsqueeze(1)
    assert torch.equal(x[:, :, 2:10, 2:10], expected)
    assert x[:, :, :2].abs().sum() == 0 and x[:, :, :, 10:].abs().sum() == 0


def test_digits_splits_disjoint_complete_and_deterministic() -> None:
    a = DigitsDataModule(val_size=200, test_size=300)
    b = DigitsDataModule(val_size=200, test_size=300)
    assert (a.num_train, a.num_val, a.num_test) == (NUM_DIGITS - 500, 200, 300)
    every = torch.cat([a.split_indices[s] for s in ("train", "val", "test")])
    assert torch.equal(every.sort().values, torch.arange(NUM_DIGITS))  # disjoint and complete
    b.setup()
    for split in ("train", "val", "test"):
        assert torch.equal(a.split_indices[split], b.split_indices[split])
        assert torch.equal(a.real_images(split), b.real_images(split))
    other = DigitsDataModule(val_size=200, test_size=300, seed=1)
    other.setup()
    assert not torch.equal(other.split_indices["val"], a.split_indices["val"])


def test_dynamic_binarization_fresh_for_train_fixed_for_val() -> None:
    dm = DigitsDataModule(image_size=16, binarize="dynamic", batch_size=128)
    grey = DigitsDataModule(image_size=16, binarize="none")
    x, _ = next(iter(dm.train_dataloader()))
    assert set(torch.unique(x).tolist()) <= {0.0, 1.0}
    first, second = epoch_total(dm.train_dataloader()), epoch_total(dm.train_dataloader())
    assert first != second  # a fresh Bernoulli draw every epoch
    grey_total = float(grey.real_images("train").double().sum())
    assert abs(first - grey_total) / grey_total < 0.02  # E[bernoulli(x)] = x
    val_a = torch.cat([x for x, _ in dm.val_dataloader()])
    val_b = torch.cat([x for x, _ in dm.val_dataloader()])
    assert torch.equal(val_a, val_b) and torch.equal(val_a, dm.real_images("val"))
    assert set(torch.unique(val_a).tolist()) == {0.0, 1.0}
    assert torch.equal(dm.real_images("train", 10), dm.real_images("train", 10))


def test_static_binarization_identical_every_epoch() -> None:
    dm = DigitsDataModule(image_size=16, binarize="static", batch_size=128)
    assert epoch_total(dm.train_dataloader()) == epoch_total(dm.train_dataloader())
    assert set(torch.unique(dm.real_images("train")).tolist()) == {0.0, 1.0}
    dynamic = DigitsDataModule(image_size=16, binarize="dynamic")
    assert torch.equal(dm.real_images("test"), dynamic.real_images("test"))


def test_dynamic_binarization_in_worker_processes() -> None:
    dm = DigitsDataModule(image_size=8, binarize="dynamic", batch_size=256, num_workers=2)
    batches = [x for x, _ in dm.train_dataloader()]
    assert sum(len(x) for x in batches) == dm.num_train
    assert set(torch.cat(batches).unique().tolist()) == {0.0, 1.0}


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"binarize": "bernoulli"}, "data.binarize"),
        ({"resize": "nearest"}, "data.resize"),
        ({"channels": 3}, "data.channels"),
        ({"image_size": 100}, "data.image_size"),
        ({"val_size": 1000, "test_size": 900}, "data.val_size"),
        ({"batch_size": 0}, "data.batch_size"),
    ],
)
def test_bad_config_names_the_key(kwargs: dict, key: str) -> None:
    with pytest.raises(ValueError, match=key) as info:
        DigitsDataModule(**kwargs)
    if key == "data.binarize":
        assert "none|dynamic|static" in str(info.value)


def test_colour_data_refuses_binarization(tmp_path: Path) -> None:
    for cls in (CIFAR10DataModule, CelebADataModule):
        with pytest.raises(ValueError, match="data.binarize"):
            cls(root=str(tmp_path), download=False, binarize="dynamic")


def test_real_images_checks_num_and_split() -> None:
    dm = DigitsDataModule(image_size=8)
    assert dm.real_images("val", 5).shape == (5, 1, 8, 8)
    with pytest.raises(ValueError, match="at most 250"):
        dm.real_images("val", 251)
    with pytest.raises(ValueError, match="train|val|test"):
        dm.real_images("validation")


def test_hparams_and_protocol_are_recorded() -> None:
    dm = DigitsDataModule(image_size=16, binarize="static", seed=3)
    assert dm.hparams["image_size"] == 16 and dm.hparams["binarize"] == "static"
    protocol = dm.protocol()
    assert protocol["dataset"] == "digits" and protocol["seed"] == 3
    assert protocol["num_train"] + protocol["num_val"] + protocol["num_test"] == NUM_DIGITS


class _Probe(pl.LightningModule):
    """Records what the Trainer hands to training_step and validation_step."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(()))
        self.seen: dict[str, list[torch.Tensor]] = {"train": [], "val": []}

    def training_step(self, batch, batch_idx):
        self.seen["train"].append(batch[0])
        return (self.weight - batch[0].mean()) ** 2

    def validation_step(self, batch, batch_idx):
        self.seen["val"].append(batch[0])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_trainer_receives_float_binary_batches(tmp_path: Path) -> None:
    dm = DigitsDataModule(image_size=8, binarize="dynamic", batch_size=64)
    probe = _Probe()
    trainer = pl.Trainer(
        default_root_dir=tmp_path,
        max_steps=3,
        limit_val_batches=2,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(probe, datamodule=dm)
    for split in ("train", "val"):
        x = torch.cat(probe.seen[split])
        assert x.dtype == torch.float32 and set(x.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(torch.cat(probe.seen["val"][-2:]), dm.real_images("val", 128))


# ----- configs -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["digits", "mnist", "fashion_mnist", "cifar10", "celeba"])
def test_data_configs_instantiate(name: str, tmp_path: Path) -> None:
    data = OmegaConf.load(CONF_DIR / f"{name}.yaml")
    cfg = OmegaConf.create({"paths": {"data_dir": str(tmp_path)}, "data": data})
    dm = instantiate(cfg.data)
    assert isinstance(dm, ImageDataModule) and dm.name == name
    assert dm.data_shape == (cfg.data.channels, cfg.data.image_size, cfg.data.image_size)
    if hasattr(dm, "root"):
        assert dm.root == str(tmp_path)


# ----- torchvision datasets: missing files ---------------------------------------------------
@pytest.mark.parametrize(
    ("cls", "folder", "file"),
    [
        (MNISTDataModule, "MNIST/raw", "train-images-idx3-ubyte"),
        (FashionMNISTDataModule, "FashionMNIST/raw", "t10k-labels-idx1-ubyte"),
        (CIFAR10DataModule, "cifar-10-batches-py", "data_batch_1"),
        (CelebADataModule, "celeba", "list_eval_partition.txt"),
    ],
)
def test_missing_files_raise_with_folder_and_fix(cls, folder: str, file: str, tmp_path) -> None:
    dm = cls(root=str(tmp_path), download=False)
    for step in (dm.prepare_data, dm.setup):
        with pytest.raises(DatasetNotFoundError) as info:
            step()
        message = str(info.value)
        assert isinstance(info.value, FileNotFoundError)
        assert str(tmp_path / folder) in message and file in message
        assert "data.root=" in message and "data.download=true" in message


# ----- torchvision datasets: tiny fake files in torchvision's own formats --------------------
def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array in the idx format of MNIST: magic (0x08 = ubyte, ndim), sizes, data."""
    header = struct.pack(">I", 0x0800 + array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_fake_mnist(root: Path, folder: str, n_train: int, n_test: int) -> dict:
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        arrays[f"{prefix}-images-idx3-ubyte"] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        arrays[f"{prefix}-labels-idx1-ubyte"] = rng.integers(0, 10, (n,), dtype=np.uint8)
    for name, array in arrays.items():
        write_idx(raw / name, array)
    return arrays


@pytest.mark.parametrize(
    ("cls", "folder"), [(MNISTDataModule, "MNIST"), (FashionMNISTDataModule, "FashionMNIST")]
)
def test_mnist_loads_fake_idx_files_through_torchvision(cls, folder: str, tmp_path) -> None:
    arrays = write_fake_mnist(tmp_path, folder, n_train=100, n_test=20)
    dm = cls(root=str(tmp_path), download=False, val_size=10, binarize="none", batch_size=16)
    dm.prepare_data()
    dm.setup("fit")
    assert (dm.num_train, dm.num_val, dm.num_test) == (90, 10, 20)
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (16, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
    test = dm.real_images("test")
    assert torch.equal(
        test * 255, torch.from_numpy(arrays["t10k-images-idx3-ubyte"]).float()[:, None]
    )
    labels = torch.from_numpy(arrays["train-labels-idx1-ubyte"]).long()
    assert torch.equal(dm.dataset("val").labels, labels[dm.split_indices["val"]])
    assert isinstance(dm.dataset("train").images, torch.Tensor)  # held in memory
    assert dm.dataset("train").images.dtype == torch.uint8


def test_mnist_resize_and_binarize(tmp_path: Path) -> None:
    write_fake_mnist(tmp_path, "MNIST", n_train=50, n_test=10)
    dm = MNISTDataModule(
        root=str(tmp_path), download=False, val_size=5, image_size=32, binarize="static"
    )
    x = dm.real_images("train")
    assert x.shape == (45, 1, 32, 32) and set(x.unique().tolist()) == {0.0, 1.0}


def write_fake_cifar(root: Path, per_batch: int, monkeypatch) -> np.ndarray:
    """Write pickled batches like cifar-10-python.tar.gz holds, and register their md5 sums.

    torchvision verifies each file's md5 against the real CIFAR-10 sums; the test swaps in the
    sums of its fake files (monkeypatch on the class lists) so loading goes through torchvision.
    """
    folder = root / tvd.CIFAR10.base_folder
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    md5 = {}
    test_images = None
    for name, _ in tvd.CIFAR10.train_list + tvd.CIFAR10.test_list:
        data = rng.integers(0, 256, (per_batch, 3 * 32 * 32), dtype=np.uint8)
        labels = rng.integers(0, 10, per_batch).tolist()
        (folder / name).write_bytes(pickle.dumps({"data": data, "labels": labels}))
        md5[name] = hashlib.md5((folder / name).read_bytes()).hexdigest()
        test_images = data
    meta_name = tvd.CIFAR10.meta["filename"]
    (folder / meta_name).write_bytes(pickle.dumps({"label_names": [str(i) for i in range(10)]}))
    meta_md5 = hashlib.md5((folder / meta_name).read_bytes()).hexdigest()
    monkeypatch.setattr(tvd.CIFAR10, "train_list", [[n, md5[n]] for n, _ in tvd.CIFAR10.train_list])
    monkeypatch.setattr(tvd.CIFAR10, "test_list", [[n, md5[n]] for n, _ in tvd.CIFAR10.test_list])
    monkeypatch.setattr(tvd.CIFAR10, "meta", {**tvd.CIFAR10.meta, "md5": meta_md5})
    return test_images.reshape(-1, 3, 32, 32)


def test_cifar10_loads_fake_batches_through_torchvision(tmp_path: Path, monkeypatch) -> None:
    test_images = write_fake_cifar(tmp_path, per_batch=20, monkeypatch=monkeypatch)
    dm = CIFAR10DataModule(root=str(tmp_path), download=False, val_size=30, batch_size=8)
    dm.prepare_data()
    assert (dm.num_train, dm.num_val, dm.num_test) == (70, 30, 20)
    x, y = next(iter(dm.val_dataloader()))
    assert x.shape == (8, 3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.equal(dm.real_images("test") * 255, torch.from_numpy(test_images).float())
    small = CIFAR10DataModule(root=str(tmp_path), download=False, val_size=30, image_size=16)
    assert small.real_images("train", 4).shape == (4, 3, 16, 16)


def write_fake_celeba(root: Path, partition: list[int], monkeypatch) -> None:
    """Write img_align_celeba/*.jpg and the five annotation files in CelebA's text layout."""
    folder = root / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    names = [f"{i + 1:06d}.jpg" for i in range(len(partition))]
    rng = np.random.default_rng(0)
    for name in names:
        pixels = rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / "img_align_celeba" / name)
    rows = {
        "list_eval_partition.txt": ([], [[p] for p in partition]),
        "identity_CelebA.txt": ([], [[i + 1] for i in range(len(names))]),
        "list_bbox_celeba.txt": (["image_id x_1 y_1 width height"], [[1, 2, 3, 4]] * len(names)),
        "list_landmarks_align_celeba.txt": (["lefteye_x " * 10], [[5] * 10] * len(names)),
        "list_attr_celeba.txt": (
            [" ".join(f"a{i}" for i in range(40))],
            [[1, -1] * 20] * len(names),
        ),
    }
    md5 = {}
    for filename, (header, values) in rows.items():
        lines = [str(len(names)), *header] if header else []
        lines += [" ".join([n, *map(str, v)]) for n, v in zip(names, values, strict=True)]
        (folder / filename).write_text("\n".join(lines) + "\n")
        md5[filename] = hashlib.md5((folder / filename).read_bytes()).hexdigest()
    patched = [(fid, md5.get(name, digest), name) for fid, digest, name in tvd.CelebA.file_list]
    monkeypatch.setattr(tvd.CelebA, "file_list", patched)


def test_celeba_reads_fake_files_through_torchvision(tmp_path: Path, monkeypatch) -> None:
    write_fake_celeba(tmp_path, partition=[0, 0, 0, 1, 1, 2, 2], monkeypatch=monkeypatch)
    dm = CelebADataModule(root=str(tmp_path), download=False, image_size=32, batch_size=2)
    dm.prepare_data()
    assert (dm.num_train, dm.num_val, dm.num_test) == (3, 2, 2)
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (2, 3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert torch.equal(y.sort().values, y.sort().values.clamp(1, 3))  # identity ids of train
    val = dm.real_images("val")
    assert val.shape == (2, 3, 32, 32) and torch.equal(val, dm.real_images("val"))


def test_real_images_grey_skips_binarization_for_metrics():
    dm = DigitsDataModule(image_size=16, binarize="dynamic")
    binary, grey = dm.real_images("val", 50), dm.real_images("val", 50, grey=True)
    assert set(torch.unique(binary).tolist()) == {0.0, 1.0}
    assert len(torch.unique(grey)) > 2
    assert (grey[binary == 1].mean() > grey[binary == 0].mean()).item()


def _train_batches(dm, seed: int, num: int = 3) -> list[tuple[torch.Tensor, torch.Tensor]]:
    torch.manual_seed(seed)
    loader = dm.train_dataloader()
    return [batch for _, batch in zip(range(num), loader, strict=False)]


@pytest.mark.parametrize("binarize", ["none", "static"])
def test_whole_batch_indexing_gives_the_per_item_batches(binarize):
    """__getitems__ (one indexing op per batch) serves exactly the samples of per-item loading."""
    from torch.utils.data import DataLoader

    from genlab.data.base import ImageCollate

    dm = DigitsDataModule(image_size=16, batch_size=32, binarize=binarize)
    dataset = dm.dataset("train")
    torch.manual_seed(5)
    per_item = DataLoader(
        [dataset[i] for i in range(len(dataset))],  # a list: no __getitems__
        batch_size=32,
        shuffle=True,
        collate_fn=ImageCollate(),
    )
    expected = [b for _, b in zip(range(3), per_item, strict=False)]
    for (x, y), (ex, ey) in zip(_train_batches(dm, 5), expected, strict=True):
        assert torch.equal(x, ex) and torch.equal(y, ey) and x.dtype == torch.float32


@pytest.mark.parametrize("binarize", ["none", "static"])
def test_on_device_dataset_yields_the_host_batches(binarize):
    """data.on_device=true: batches indexed on the device equal the host ones for one seed."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    host = DigitsDataModule(image_size=16, batch_size=32, binarize=binarize)
    moved = DigitsDataModule(image_size=16, batch_size=32, binarize=binarize, on_device=True)
    moved.move_to(device)
    assert moved.dataset("train").images.device.type == device
    for (x, y), (hx, hy) in zip(_train_batches(moved, 3), _train_batches(host, 3), strict=True):
        assert x.device.type == device and torch.equal(x.cpu(), hx) and torch.equal(y.cpu(), hy)
    assert moved.real_images("val", 8).device.type == "cpu"


def test_on_device_rejects_workers_and_pinned_memory():
    with pytest.raises(ValueError, match="data.num_workers=0"):
        DigitsDataModule(image_size=16, on_device=True, num_workers=2)
    with pytest.raises(ValueError, match="data.pin_memory=false"):
        DigitsDataModule(image_size=16, on_device=True, pin_memory=True)
