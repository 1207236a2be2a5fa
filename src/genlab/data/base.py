"""Base LightningDataModule for image datasets: splits, binarization, loaders, reference images.

Every batch is ``(x, y)``: ``x`` float32 (B, C, H, W) in [0, 1], ``y`` int64 (B,). Datasets hold
images as uint8 (or, for tiny sets, float in [0, 1]); in-memory datasets serve whole batches by
indexing the stored tensor with the sampler's indices (``TensorImageDataset.__getitems__``), and
the collate function turns them into floats once per batch, so nothing is done per item.

``on_device=true`` moves the in-memory splits to the trainer's device in ``setup`` (digits,
MNIST- and CIFAR-sized sets fit easily): batches are then indexed on the accelerator and only
the batch's indices cross from the host per step. Batches are identical to the host ones for
the same seed (same sampler), except that dynamic binarization draws from the device's RNG.

Binarization (``binarize``), for grey-scale data only:
  * ``none``: grey values.
  * ``dynamic``: every training batch is a fresh ``torch.bernoulli(x)``; val and test are
    binarized ONCE with a generator seeded from ``seed`` (the test set is fixed, as in Burda
    et al. 2016), so every evaluation sees the same binary images.
  * ``static``: one fixed binarization of every split, drawn once from ``seed``. Val/test
    are then identical to the ``dynamic`` val/test for the same seed.
"""

from __future__ import annotations

import zlib
from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, Subset, default_collate

from genlab.data.errors import DatasetNotFoundError, check_num_classes
from genlab.utils.images import to_uint8

__all__ = [
    "BINARIZE_MODES",
    "SPLITS",
    "DatasetNotFoundError",
    "ImageCollate",
    "ImageDataModule",
    "TensorImageDataset",
    "check_int",
    "check_split_sizes",
    "fixed_binarization",
    "seeded_generator",
    "seeded_splits",
    "to_unit_float",
]

BINARIZE_MODES = ("none", "dynamic", "static")
SPLITS = ("train", "val", "test")


def to_unit_float(images: torch.Tensor) -> torch.Tensor:
    """Return images as float32 in [0, 1]: uint8 is divided by 255, floats pass through."""
    if images.dtype == torch.uint8:
        return images.float().div_(255.0)
    return images.float()


def seeded_generator(seed: int, purpose: str) -> torch.Generator:
    """Return a CPU generator seeded from ``(seed, purpose)``: same stream on every run and rank."""
    return torch.Generator().manual_seed(zlib.crc32(f"{seed}/{purpose}".encode()))


def fixed_binarization(images: torch.Tensor, seed: int, purpose: str) -> torch.Tensor:
    """Draw one Bernoulli binarization of ``images`` with a generator seeded from (seed, purpose).

    Returns a tensor of the input's dtype: uint8 in {0, 255} for uint8 input, float in {0, 1}
    for float input in [0, 1].
    """
    generator = seeded_generator(seed, purpose)
    chunks = []
    for chunk in images.split(8192):
        binary = torch.bernoulli(to_unit_float(chunk), generator=generator)
        chunks.append(to_uint8(binary) if images.dtype == torch.uint8 else binary)
    return torch.cat(chunks) if chunks else images.clone()


class TensorImageDataset(Dataset):
    """In-memory images (N, C, H, W), uint8 or float in [0, 1], with int64 labels (N,)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        if images.ndim != 4 or len(images) != len(labels):
            raise ValueError(
                f"expected images (N, C, H, W) and labels (N,), got {tuple(images.shape)} "
                f"and {tuple(labels.shape)}"
            )
        self.images = images
        self.labels = labels.long()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self.labels[index]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Return a whole batch ``(images[indices], labels[indices])`` with one indexing op.

        The DataLoader calls this instead of ``__getitem__`` per index (then the collate
        function receives the batch as a tuple); the indices come from the loader's sampler, so
        shuffling and its seeding are unchanged. Indexing happens on the tensors' device.
        """
        index = torch.as_tensor(indices, dtype=torch.long).to(self.images.device)
        return self.images[index], self.labels[index]

    def to(self, device: torch.device | str) -> TensorImageDataset:
        """Move images and labels to ``device`` in place; returns self."""
        self.images, self.labels = self.images.to(device), self.labels.to(device)
        return self


class ImageCollate:
    """Collate (image, label) samples into ``(x, y)``: x float32 (B, C, H, W) in [0, 1], y int64.

    With ``binarize=True`` every call returns a fresh ``torch.bernoulli(x)`` (dynamic
    binarization) drawn on the whole batch, on the batch's device (the accelerator's RNG when
    the data is on the device); in worker processes the draw uses the worker's seeded RNG.
    """

    def __init__(self, binarize: bool = False) -> None:
        self.binarize = binarize

    def __call__(self, samples: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Collate a list of samples, or pass through a batch from ``__getitems__``."""
        if isinstance(samples, tuple):  # already a batch (TensorImageDataset.__getitems__)
            x, y = samples
        else:
            x, y = default_collate(samples)
        x = to_unit_float(x)
        if self.binarize:
            x = torch.bernoulli(x)
        return x, torch.as_tensor(y).long()


def check_int(key: str, value: Any, low: int, high: int | None = None) -> int:
    """Return ``value`` if it is an int in [low, high]; otherwise raise a ValueError naming key."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{key}={value!r} is invalid: expected an integer {bound}.")
    if high is not None and value > high:
        raise ValueError(f"{key}={value!r} is invalid: expected an integer in [{low}, {high}].")
    return value


def check_split_sizes(val_size: Any, test_size: Any, total: int) -> tuple[int, int]:
    """Return (val_size, test_size) after checking both are ints and leave training images out
    of ``total``; a ValueError names ``data.val_size`` / ``data.test_size``."""
    # val_size=0 would mean no validation: no val/* metric, no monitored checkpoint
    val = check_int("data.val_size", val_size, 1, total - 1)
    test = check_int("data.test_size", test_size, 0, total - 1)
    if val + test >= total:
        raise ValueError(
            f"data.val_size + data.test_size = {val + test} leaves no training "
            f"images out of {total}; make the sum smaller."
        )
    return val, test


def seeded_splits(
    total: int, val_size: int, test_size: int, seed: int, purpose: str
) -> dict[str, torch.Tensor]:
    """Return split -> indices into ``total`` items: one permutation seeded from
    (seed, purpose), the first ``test_size`` for test, the next ``val_size`` for val, the rest
    for train (identical on every run and DDP rank)."""
    order = torch.randperm(total, generator=seeded_generator(seed, purpose))
    val_end = test_size + val_size
    return {"test": order[:test_size], "val": order[test_size:val_end], "train": order[val_end:]}


class ImageDataModule(pl.LightningDataModule):
    """Shared splits, binarization, loaders and ``real_images`` for the image datamodules.

    Subclasses set the class attributes and implement ``_load_tensors`` (in-memory data) or
    override ``_build_datasets`` (e.g. CelebA, read from disk per item).
    """

    name: str = "images"  #: dataset name; metrics use it in cache keys
    num_channels: int = 1  #: channels of the stored images
    color: bool = False  #: 8-bit colour data is never binarized
    num_classes: int = 10  #: number of label values; 0 when labels are not classes
    min_image_size: int = 8
    max_image_size: int = 256

    def __init__(
        self,
        *,
        image_size: int,
        channels: int | None = None,
        num_classes: int | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        binarize: str = "none",
        seed: int = 0,
        pin_memory: bool = False,
        drop_last: bool = False,
        on_device: bool = False,
    ) -> None:
        super().__init__()
        # logger=False: the entry point logs the whole resolved config; no duplicate top-level keys
        self.save_hyperparameters(logger=False)
        if binarize not in BINARIZE_MODES:
            raise ValueError(
                f"data.binarize={binarize!r} is not allowed; use one of {'|'.join(BINARIZE_MODES)}."
            )
        if self.color and binarize != "none":
            raise ValueError(
                f"data.binarize={binarize!r}: {self.name} is 8-bit colour data and is not "
                "binarized; set data.binarize=none."
            )
        if channels is not None and channels != self.num_channels:
            raise ValueError(
                f"data.channels={channels!r} does not match {self.name}, which has "
                f"{self.num_channels} channel(s); set data.channels={self.num_channels}."
            )
        check_num_classes(num_classes, type(self).num_classes, self.name)
        high = self.max_image_size
        self._image_size = check_int("data.image_size", image_size, self.min_image_size, high)
        self.batch_size = check_int("data.batch_size", batch_size, 1)
        self.num_workers = check_int("data.num_workers", num_workers, 0)
        self.binarize = binarize
        self.seed = check_int("data.seed", seed, -(2**63))
        self.pin_memory = bool(pin_memory)
        self.drop_last = bool(drop_last)
        self.on_device = bool(on_device)
        if self.on_device and (self.num_workers > 0 or self.pin_memory):
            raise ValueError(
                f"data.on_device=true keeps the data on the accelerator, which worker processes "
                f"and pinned host memory cannot use; set data.num_workers=0 (is {num_workers}) "
                f"and data.pin_memory=false (is {pin_memory})."
            )
        self._datasets: dict[str, Dataset] | None = None
        #: split -> indices into the source data (set by in-memory subclasses in setup)
        self.split_indices: dict[str, torch.Tensor] = {}

    # ----- shape information -------------------------------------------------------------
    @property
    def data_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the images in every batch."""
        return (self.num_channels, self._image_size, self._image_size)

    @property
    def channels(self) -> int:
        """Number of image channels (1 grey, 3 colour)."""
        return self.num_channels

    @property
    def image_size(self) -> int:
        """Height and width of the (square) images in pixels."""
        return self._image_size

    # ----- loading -----------------------------------------------------------------------
    def _load_tensors(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Return split -> (images (N, C, H, W) uint8 or float in [0, 1], labels int64 (N,))."""
        raise NotImplementedError(f"{type(self).__name__} must implement _load_tensors")

    def _build_datasets(self) -> dict[str, Dataset]:
        """Return split -> Dataset of (image, label), with the fixed binarizations applied."""
        datasets: dict[str, Dataset] = {}
        self._grey_images: dict[str, torch.Tensor] = {}
        for split, (images, labels) in self._load_tensors().items():
            self._grey_images[split] = images  # the same tensor when nothing is binarized
            if self.binarize == "static" or (self.binarize == "dynamic" and split != "train"):
                images = fixed_binarization(images, self.seed, f"{self.name}/{split}")
            datasets[split] = TensorImageDataset(images, labels)
        return datasets

    def setup(self, stage: str | None = None) -> None:
        """Load all splits once (every rank computes the same seeded splits); with
        ``on_device`` move them to the trainer's device."""
        if self._datasets is None:
            self._datasets = self._build_datasets()
        if self.on_device and self.trainer is not None:
            self.move_to(self.trainer.strategy.root_device)

    def move_to(self, device: torch.device | str) -> None:
        """Move every in-memory split to ``device`` (batches are then indexed there)."""
        for split in SPLITS:
            dataset = self.dataset(split)
            if not isinstance(dataset, TensorImageDataset):
                raise ValueError(
                    f"data.on_device=true needs in-memory data; {self.name} reads its images "
                    "per item from disk. Set data.on_device=false."
                )
            dataset.to(device)

    def dataset(self, split: str) -> Dataset:
        """Return the Dataset of ``split`` (train|val|test); runs prepare_data/setup if needed."""
        if split not in SPLITS:
            raise ValueError(f"split={split!r} is not allowed; use one of {'|'.join(SPLITS)}.")
        if self._datasets is None:
            self.prepare_data()
            self.setup()
        assert self._datasets is not None
        return self._datasets[split]

    @property
    def num_train(self) -> int:
        """Number of training images."""
        return len(self.dataset("train"))

    @property
    def num_val(self) -> int:
        """Number of validation images."""
        return len(self.dataset("val"))

    @property
    def num_test(self) -> int:
        """Number of test images."""
        return len(self.dataset("test"))

    # ----- loaders -----------------------------------------------------------------------
    def _loader(self, split: str, shuffle: bool, binarize: bool, drop_last: bool) -> DataLoader:
        return DataLoader(
            self.dataset(split),
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
            collate_fn=ImageCollate(binarize=binarize),
            drop_last=drop_last,
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled training batches; a fresh Bernoulli draw per batch when binarize=dynamic."""
        dynamic = self.binarize == "dynamic"
        return self._loader("train", shuffle=True, binarize=dynamic, drop_last=self.drop_last)

    def val_dataloader(self) -> DataLoader:
        """Validation batches in a fixed order (fixed binarization unless binarize=none)."""
        return self._loader("val", shuffle=False, binarize=False, drop_last=False)

    def test_dataloader(self) -> DataLoader:
        """Test batches in a fixed order (fixed binarization unless binarize=none)."""
        return self._loader("test", shuffle=False, binarize=False, drop_last=False)

    # ----- reference images for metrics --------------------------------------------------
    def real_images(
        self, split: str = "train", num: int | None = None, grey: bool = False
    ) -> torch.Tensor:
        """Return the first ``num`` images of ``split`` (all if None) as the model sees them.

        Returns float32 (N, C, H, W) in [0, 1] on the CPU, in the split's stored order (the
        order of the val/test loaders; train unshuffled). Values by ``binarize``:
        ``none``: grey values; ``static``: the fixed binarization used everywhere;
        ``dynamic``: val/test give their fixed evaluation binarization, train gives ONE
        binarization drawn from ``seed`` (identical on every call) in place of the fresh
        per-batch draws of training. Raises ValueError if ``num`` exceeds the split size.
        Outside a Trainer it calls ``prepare_data()`` and ``setup()`` itself.
        ``grey=True`` returns the grey images before any binarization (the data distribution
        that sample-quality metrics compare against, whatever the model is trained on).
        """
        dataset = self.dataset(split)
        n = len(dataset) if num is None else num
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= len(dataset):
            raise ValueError(
                f"num={num!r} real images requested from the {self.name} {split} split, "
                f"which has {len(dataset)}; ask for at most {len(dataset)} (or num=None)."
            )
        if grey and isinstance(dataset, TensorImageDataset):
            return to_unit_float(self._grey_images[split][:n].clone())
        if isinstance(dataset, TensorImageDataset):
            images = to_unit_float(dataset.images[:n].cpu().clone())
        elif n == 0:
            images = torch.empty(0, *self.data_shape)
        else:
            loader = DataLoader(
                Subset(dataset, range(n)),
                batch_size=max(self.batch_size, 256),
                num_workers=self.num_workers,
                collate_fn=ImageCollate(binarize=False),
            )
            images = torch.cat([x for x, _ in loader])
        if split == "train" and self.binarize == "dynamic":
            generator = seeded_generator(self.seed, f"{self.name}/real_train")
            images = torch.bernoulli(images, generator=generator)
        return images

    def real_labels(self, split: str = "train", num: int | None = None) -> torch.Tensor:
        """Return the int64 labels (N,) of the images ``real_images(split, num)`` returns, in
        the same order (for conditional models' reconstructions and metrics)."""
        dataset = self.dataset(split)
        n = len(dataset) if num is None else min(num, len(dataset))
        if isinstance(dataset, TensorImageDataset):
            return dataset.labels[:n].clone()
        return torch.as_tensor([int(dataset[i][1]) for i in range(n)], dtype=torch.long)

    def protocol(self) -> dict[str, Any]:
        """Return the settings that define the data a score was computed on (for run summaries)."""
        return {
            "dataset": self.name,
            "data_shape": list(self.data_shape),
            "binarize": self.binarize,
            "seed": self.seed,
            "num_train": self.num_train,
            "num_val": self.num_val,
            "num_test": self.num_test,
        }
