"""MNIST, Fashion-MNIST, CIFAR-10 (held in memory as uint8) and CelebA, read through torchvision.

Files are found or downloaded by torchvision's own dataset classes; when they are missing
and cannot be downloaded, a :class:`DatasetNotFoundError` names the folder, the files
torchvision expects there, and the config keys that fix it.
"""

from __future__ import annotations

import os
import pickle
from typing import Any, ClassVar

import torch
from torch.utils.data import Dataset
from torchvision import datasets as tvd
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from genlab.data.base import ImageDataModule, check_int, seeded_generator
from genlab.data.errors import DatasetCorruptError, DatasetNotFoundError, dataset_not_found


def resize_uint8(images: torch.Tensor, image_size: int, chunk: int = 8192) -> torch.Tensor:
    """Resize uint8 images (N, C, H, W) to (N, C, S, S) uint8: bilinear, antialiased, rounded."""
    if images.shape[-2:] == (image_size, image_size):
        return images
    parts = [
        TF.resize(part, [image_size, image_size], antialias=True) for part in images.split(chunk)
    ]
    return torch.cat(parts)


class TorchvisionImageDataModule(ImageDataModule):
    """A torchvision train/test dataset loaded into memory, with ``val_size`` carved from train.

    The validation images are a seeded random subset of torchvision's train split (same on
    every run and rank); the test split is torchvision's test set in its original order.
    After setup, ``split_indices[split]`` holds indices into torchvision's train (train, val)
    or test (test) split.
    """

    tv_class: ClassVar[type]  #: the torchvision dataset class
    display_name: ClassVar[str] = ""
    native_size: ClassVar[int] = 28  #: the files' resolution, the default ``image_size``

    def __init__(
        self,
        root: str = "data",
        download: bool = True,
        image_size: int | None = None,
        val_size: int = 5000,
        **kwargs: Any,
    ) -> None:
        super().__init__(image_size=image_size or self.native_size, **kwargs)
        self.root = os.path.abspath(os.path.expanduser(str(root)))
        self.download = bool(download)
        self.val_size = check_int("data.val_size", val_size, 0)

    # ----- where the files live ----------------------------------------------------------
    def folder(self) -> str:
        """Absolute folder in which torchvision looks for the files."""
        raise NotImplementedError

    def expected_files(self) -> list[str]:
        """Names of the files torchvision expects in :meth:`folder`."""
        raise NotImplementedError

    def _missing_note(self) -> str:
        return ""

    def _not_found(self, cause: BaseException) -> DatasetNotFoundError:
        return dataset_not_found(
            self.display_name,
            self.folder(),
            self.expected_files(),
            self.download,
            cause=cause,
            note=self._missing_note(),
        )

    def _open(self, train: bool, download: bool) -> Any:
        """Return torchvision's dataset for one split, or raise DatasetNotFoundError."""
        try:
            return self.tv_class(self.root, train=train, download=download)
        except (AssertionError, EOFError, ValueError, pickle.UnpicklingError) as err:
            raise self._corrupt(train, err) from err  # files present but unreadable
        except Exception as err:
            if self._files_present():  # there but unreadable (truncated idx, bad md5): corrupt
                raise self._corrupt(train, err) from err
            # torchvision raises RuntimeError for missing/corrupt files; a failed download can
            # raise anything (URLError, HTTPError, tarfile errors), so all of those count.
            if download or isinstance(err, RuntimeError):
                raise self._not_found(err) from err
            raise

    def _files_present(self) -> bool:
        """True when every file torchvision expects is in :meth:`folder` (non-empty or not)."""
        folder = self.folder()
        return all(os.path.isfile(os.path.join(folder, n)) for n in self.expected_files())

    def _checked_tensors(self, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`_tensors` of one split, refusing files whose image and label counts differ
        (e.g. 100 images and 60 labels: torchvision would fail later with an IndexError)."""
        images, labels = self._tensors(self._open(train, download=False))
        if len(images) != len(labels):
            cause = ValueError(f"{len(images)} images but {len(labels)} labels")
            raise self._corrupt(train, cause)
        return images, labels

    def _corrupt(self, train: bool, cause: BaseException) -> DatasetCorruptError:
        """The error for files that exist but cannot be read, naming each file with its size."""
        folder = self.folder()
        sizes = []
        for name in self.expected_files():
            path = os.path.join(folder, name)
            size = f"{os.path.getsize(path):,} bytes" if os.path.isfile(path) else "missing"
            sizes.append(f"{path} ({size})")
        split = "train" if train else "test"
        return DatasetCorruptError(
            f"{self.display_name} files are corrupt or truncated: reading the {split} split "
            f"failed ({type(cause).__name__}: {cause or 'bad file header'}). Files: "
            + "; ".join(sizes)
            + ". Fix: delete them and re-download (data.download=true), or copy intact files "
            "into that folder."
        )

    # ----- Lightning hooks ---------------------------------------------------------------
    def prepare_data(self) -> None:
        """Download the files if ``download`` (rank 0 only, called by Lightning); check them."""
        for train in (True, False):
            self._open(train, download=self.download)

    def _tensors(self, dataset: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (uint8 images (N, C, H, W), int64 labels) of a torchvision dataset."""
        raise NotImplementedError

    def _load_tensors(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Return split -> (uint8 images (N, C, S, S), int64 labels), val carved from train."""
        loaded = {}
        for split, train in (("train", True), ("test", False)):
            images, labels = self._checked_tensors(train)
            loaded[split] = (resize_uint8(images, self.image_size), labels)
        images, labels = loaded["train"]
        if self.val_size >= len(images):
            raise ValueError(
                f"data.val_size={self.val_size} leaves no training images: the {self.name} "
                f"train split has {len(images)}; choose a smaller data.val_size."
            )
        order = torch.randperm(
            len(images), generator=seeded_generator(self.seed, f"{self.name}/val_split")
        )
        val, train = order[: self.val_size], order[self.val_size :]
        test = torch.arange(len(loaded["test"][0]))
        self.split_indices = {"train": train, "val": val, "test": test}
        loaded["val"] = (images[val], labels[val])
        loaded["train"] = (images[train], labels[train])
        return loaded

    def protocol(self) -> dict[str, Any]:
        """Return the base protocol plus the val carving and source resolution."""
        return {**super().protocol(), "val_from": "train", "resize": "bilinear-antialias"}


class MNISTDataModule(TorchvisionImageDataModule):
    """MNIST (60k train incl. ``val_size`` val, 10k test), 1x28x28, resized if image_size != 28."""

    tv_class = tvd.MNIST
    display_name = "MNIST"
    name = "mnist"
    num_channels = 1
    native_size = 28

    def folder(self) -> str:
        """Absolute folder of the raw idx files (``<root>/<ClassName>/raw``)."""
        return os.path.join(self.root, self.tv_class.__name__, "raw")

    def expected_files(self) -> list[str]:
        """The uncompressed idx files, e.g. ``train-images-idx3-ubyte``."""
        return [os.path.splitext(name)[0] for name, _ in self.tv_class.resources]

    def _missing_note(self) -> str:
        return (
            "The .gz archives (e.g. train-images-idx3-ubyte.gz) placed in the same folder are "
            "extracted without network when data.download=true."
        )

    def _tensors(self, dataset: Any) -> tuple[torch.Tensor, torch.Tensor]:
        return dataset.data.unsqueeze(1).contiguous(), dataset.targets.long()


class FashionMNISTDataModule(MNISTDataModule):
    """Fashion-MNIST, same layout as MNIST (files under ``<root>/FashionMNIST/raw``)."""

    tv_class = tvd.FashionMNIST
    display_name = "Fashion-MNIST"
    name = "fashion_mnist"


class CIFAR10DataModule(TorchvisionImageDataModule):
    """CIFAR-10 (50k train incl. ``val_size`` val, 10k test), 3x32x32 colour, never binarized."""

    tv_class = tvd.CIFAR10
    display_name = "CIFAR-10"
    name = "cifar10"
    num_channels = 3
    color = True
    native_size = 32

    def folder(self) -> str:
        """Absolute folder of the pickled batches (``<root>/cifar-10-batches-py``)."""
        return os.path.join(self.root, self.tv_class.base_folder)

    def expected_files(self) -> list[str]:
        """data_batch_1..5, test_batch and batches.meta (md5-checked by torchvision)."""
        names = [name for name, _ in self.tv_class.train_list + self.tv_class.test_list]
        return names + [self.tv_class.meta["filename"]]

    def _missing_note(self) -> str:
        return (
            f"Alternatively put the archive {self.tv_class.filename} in {self.root}: "
            "with data.download=true it is verified and extracted without network."
        )

    def _tensors(self, dataset: Any) -> tuple[torch.Tensor, torch.Tensor]:
        images = torch.from_numpy(dataset.data).permute(0, 3, 1, 2).contiguous()
        return images, torch.as_tensor(dataset.targets, dtype=torch.long)


class CelebADataModule(ImageDataModule):
    """CelebA aligned faces, official train/valid/test partition, read from disk per item.

    Each image is centre-cropped to 178x178 and resized (bilinear, antialiased) to
    ``image_size``; labels ``y`` are the identity ids (int64, 1..10177). Colour, never binarized.
    """

    display_name = "CelebA"
    name = "celeba"
    num_channels = 3
    color = True
    num_classes = 0  # attribute vectors, not classes
    max_image_size = 178
    CROP = 178
    PARTITIONS: ClassVar[dict[str, str]] = {"train": "train", "val": "valid", "test": "test"}

    def __init__(
        self, root: str = "data", download: bool = True, image_size: int = 64, **kwargs: Any
    ) -> None:
        super().__init__(image_size=image_size, **kwargs)
        self.root = os.path.abspath(os.path.expanduser(str(root)))
        self.download = bool(download)

    def folder(self) -> str:
        """Absolute folder torchvision reads (``<root>/celeba``)."""
        return os.path.join(self.root, tvd.CelebA.base_folder)

    def expected_files(self) -> list[str]:
        """``img_align_celeba/`` (the extracted .jpg files) and the annotation .txt files."""
        texts = [name for _, _, name in tvd.CelebA.file_list if name.endswith(".txt")]
        return ["img_align_celeba/ (000001.jpg ... 202599.jpg)", *texts]

    def _open(self, split: str, download: bool, transform: Any = None) -> tvd.CelebA:
        """Return torchvision's CelebA for one partition, or raise DatasetNotFoundError."""
        try:
            return tvd.CelebA(
                self.root,
                split=split,
                target_type="identity",
                transform=transform,
                download=download,
            )
        except Exception as err:  # see TorchvisionImageDataModule._open
            if download or isinstance(err, RuntimeError):
                note = "Downloading needs the gdown package and Google Drive's quota allows."
                raise dataset_not_found(
                    self.display_name, self.folder(), self.expected_files(), download, err, note
                ) from err
            raise

    def prepare_data(self) -> None:
        """Download the files if ``download`` (rank 0 only, called by Lightning); check them."""
        self._open("valid", download=self.download)

    def _build_datasets(self) -> dict[str, Dataset]:
        """Return split -> torchvision CelebA yielding (uint8 (3, S, S), identity int64)."""
        transform = v2.Compose(
            [
                v2.PILToTensor(),
                v2.CenterCrop(self.CROP),
                v2.Resize([self.image_size, self.image_size], antialias=True),
            ]
        )
        return {
            split: self._open(partition, download=False, transform=transform)
            for split, partition in self.PARTITIONS.items()
        }

    def protocol(self) -> dict[str, Any]:
        """Return the base protocol plus the crop and resize."""
        return {**super().protocol(), "center_crop": self.CROP, "resize": "bilinear-antialias"}
