"""dSprites (Matthey et al. 2017; used by Higgins et al. 2017 and Chen et al. 2018): binary 2D
sprites over a full grid of 5 ground-truth factors, for disentanglement metrics (MIG, DCI).

Source (``source``): ``official`` reads ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz``
(github.com/deepmind/dsprites-dataset) from ``npz_path`` with ``numpy.load(allow_pickle=False)``:
its keys ``imgs`` uint8 (737280, 64, 64) and ``latents_classes`` (737280, 6) are read, the
pickled ``metadata`` key is never touched. ``generated`` renders the same grid with
:mod:`genlab.data.dsprites_grid` (how those images differ is said there) and caches the arrays
under ``root``. ``auto`` (default): official when the file exists, else generated.

Batches are ``(x, y)``: ``x`` float (B, 1, S, S) in [0, 1] (binary at 64 px; area-averaged
grey edges when ``image_size`` < 64), ``y`` int64 (B,) the image's flat index in the factor
grid (the official order), which carries all five factors: ``factors_of(y)`` gives the factor
classes (B, 5) in the order ``FACTOR_NAMES`` (shape, scale, orientation, pos_x, pos_y). ``y``
is not a class (``num_classes = 0``: no conditional model). ``real_factors(split, num)``
returns the factor classes in the order of ``real_images(split, num)``. ``subset`` draws that
many grid points (seeded) before the train/val/test split, so runs fit a CPU.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from typing import Any

import numpy as np
import torch

from genlab.data import dsprites_grid as grid
from genlab.data.base import ImageDataModule, check_split_sizes, seeded_generator, seeded_splits
from genlab.data.errors import DatasetCorruptError, DatasetNotFoundError
from genlab.utils.ranges import Num, check_ranges

log = logging.getLogger(__name__)

OFFICIAL_FILE = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
SOURCES = ("auto", "official", "generated")
IMAGE_SIZES = (8, 16, 32, 64)  #: 64 px and whole-factor downsamplings


def load_official(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (uint8 images (M, 64, 64) in {0, 255}, factor classes (M, 5) int64) of every row
    of the official npz at ``path`` (keys ``imgs``, ``latents_classes``; the constant colour
    column is dropped; the official file has M = 737,280 in grid order). Raises
    DatasetCorruptError naming the file when a key is missing or has the wrong shape."""
    with np.load(path, allow_pickle=False) as npz:  # ``metadata`` (pickled) is never read
        missing = {"imgs", "latents_classes"} - set(npz.files)
        if missing:
            raise DatasetCorruptError(f"{path} lacks the dSprites keys {sorted(missing)}")
        imgs, classes = npz["imgs"], npz["latents_classes"]
    rows = len(imgs)
    if imgs.shape[1:] != (64, 64) or classes.shape != (rows, 6):
        raise DatasetCorruptError(
            f"{path}: imgs {imgs.shape} / latents_classes {classes.shape}; expected "
            f"(M, 64, 64) / (M, 6) as in {OFFICIAL_FILE}"
        )
    classes = classes[:, 1:].astype(np.int64)
    if (classes < 0).any() or (classes >= np.array(grid.FACTOR_SIZES)).any():
        raise DatasetCorruptError(f"{path}: latents_classes outside {grid.FACTOR_SIZES}")
    images = imgs.astype(np.uint8)
    return (images * np.uint8(255) if images.max() <= 1 else images), classes  # official: 0/1


class DSpritesDataModule(ImageDataModule):
    """dSprites images with their 5 factor classes as labels (module docstring).

    Args:
        root: folder of the generated-array cache (``<root>/dsprites/``).
        npz_path: the official file (None: ``<root>/dsprites/<OFFICIAL_FILE>``).
        source: ``auto`` | ``official`` | ``generated``.
        subset: grid points drawn (seeded by ``seed``) before splitting; None = all of them
            (737,280; the official file's rows).
        image_size: 64, or 32/16/8 (area-averaged from 64).
        val_size, test_size: images held out of ``subset``.
        cache: keep generated arrays under ``root`` (a hash of the settings names the file).
    """

    name = "dsprites"
    num_channels = 1
    num_classes = 0  # the labels are factor classes, not classes to condition on
    min_image_size = 8
    max_image_size = 64
    factor_names = grid.FACTOR_NAMES
    factor_sizes = grid.FACTOR_SIZES
    #: metrics genlab-train uses when metrics=default is not changed (run/data_metrics.py)
    default_metrics = ("mig", "dci")
    RANGES = {"subset": Num(integer=True, low=3, high=grid.NUM_IMAGES, optional=True)}  # noqa: RUF012

    def __init__(
        self,
        root: str = "data",
        npz_path: str | None = None,
        source: str = "auto",
        subset: int | None = 20000,
        image_size: int = 64,
        val_size: int = 1000,
        test_size: int = 1000,
        cache: bool = True,
        **kwargs: Any,
    ) -> None:
        check_ranges(self, subset=subset)
        if image_size not in IMAGE_SIZES:
            raise ValueError(
                f"data.image_size={image_size!r}: dSprites is 64 px, downsampled by whole "
                f"factors; use one of {list(IMAGE_SIZES)}."
            )
        if source not in SOURCES:
            raise ValueError(
                f"data.source={source!r} is not allowed; use one of {'|'.join(SOURCES)}."
            )
        kwargs.setdefault("binarize", "none")
        super().__init__(image_size=image_size, **kwargs)
        self.root = os.path.abspath(os.path.expanduser(str(root)))
        folder = os.path.join(self.root, "dsprites")
        self.npz_path = os.path.abspath(
            os.path.expanduser(str(npz_path or os.path.join(folder, OFFICIAL_FILE)))
        )
        self.subset = grid.NUM_IMAGES if subset is None else int(subset)
        self._full = subset is None
        self.val_size, self.test_size = check_split_sizes(val_size, test_size, self.subset)
        self.cache = bool(cache)
        self.source = self._resolve_source(source)

    def _resolve_source(self, source: str) -> str:
        """``official`` or ``generated``; ``official`` without the file raises, naming it."""
        present = os.path.isfile(self.npz_path)
        if source == "official" and not present:
            raise DatasetNotFoundError(
                f"data.source=official but {self.npz_path} does not exist. Fix: download "
                f"{OFFICIAL_FILE} from github.com/deepmind/dsprites-dataset and set "
                "data.npz_path=/path/to/it, or use data.source=auto|generated (rendered images)."
            )
        return "official" if source == "official" or (source == "auto" and present) else "generated"

    def pick(self, total: int) -> np.ndarray:
        """The ``subset`` rows (sorted) of ``total`` used, drawn with a generator seeded by
        ``seed`` (all rows when ``subset`` is None); raises naming ``data.subset`` if too many."""
        if self._full:
            self.subset = total
            self.val_size, self.test_size = check_split_sizes(self.val_size, self.test_size, total)
            return np.arange(total)
        if self.subset > total:
            raise ValueError(
                f"data.subset={self.subset} but {self.npz_path} holds {total} images; set "
                f"data.subset <= {total} (or null for all)."
            )
        order = torch.randperm(total, generator=seeded_generator(self.seed, "dsprites/subset"))
        return np.sort(order[: self.subset].numpy())

    def _cache_file(self) -> str:
        key = f"v{grid.RENDER_VERSION}/{self.seed}/{self.subset}/{self.image_size}"
        digest = hashlib.sha1(key.encode()).hexdigest()[:12]
        return os.path.join(self.root, "dsprites", f"generated_{self.image_size}px_{digest}.npz")

    def load_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Return (uint8 images (N, S, S), factor classes (N, 5) int64) of the ``subset``
        picked: from the official file, the cache, or freshly rendered (then cached)."""
        if self.source == "official":
            images, classes = load_official(self.npz_path)
            rows = self.pick(len(images))
            return grid.downsample(images[rows], self.image_size), classes[rows]
        indices = self.pick(grid.NUM_IMAGES)
        path = self._cache_file()
        if self.cache and os.path.isfile(path):
            with np.load(path, allow_pickle=False) as npz:
                if np.array_equal(npz["indices"], indices):
                    return npz["images"], npz["classes"]
        classes = grid.grid_classes(indices)
        log.info(f"dsprites: rendering {len(indices)} images (no official file at {self.npz_path})")
        images = grid.downsample(grid.render(classes), self.image_size)
        if self.cache:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd, tmp = tempfile.mkstemp(suffix=".npz", dir=os.path.dirname(path))
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, images=images, classes=classes, indices=indices)
            os.replace(tmp, path)  # atomic: a concurrent reader sees the old or the new file
        return images, classes

    def _load_tensors(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Return split -> (uint8 images (N, 1, S, S), flat grid indices int64 (N,))."""
        images, classes = self.load_arrays()
        x = torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(1)
        flat = np.ravel_multi_index(tuple(classes.T), grid.FACTOR_SIZES)
        y = torch.from_numpy(flat.astype(np.int64))
        parts = seeded_splits(
            self.subset, self.val_size, self.test_size, self.seed, "dsprites/split"
        )
        self.split_indices = parts
        return {split: (x[idx], y[idx]) for split, idx in parts.items()}

    @staticmethod
    def factors_of(y: torch.Tensor) -> torch.Tensor:
        """Return the factor classes int64 (B, 5) (``factor_names`` order) of a batch's ``y``."""
        return torch.from_numpy(grid.grid_classes(y.cpu().numpy()))

    def real_factors(self, split: str = "val", num: int | None = None) -> torch.Tensor:
        """Return the factor classes int64 (N, 5) (``factor_names`` order) of the images
        ``real_images(split, num)`` returns, in the same order."""
        return self.factors_of(self.real_labels(split, num))

    def protocol(self) -> dict[str, Any]:
        """The data settings of a score: the base ones plus source, subset and factors."""
        out = super().protocol()
        out.update(
            source=self.source,
            subset=self.subset,
            factors=dict(zip(self.factor_names, self.factor_sizes, strict=True)),
            render_version=grid.RENDER_VERSION if self.source == "generated" else None,
        )
        return out
