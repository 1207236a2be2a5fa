"""Images people look at: prior samples on fixed noise, reconstructions, latent interpolations.

Each callback saves a PNG grid under ``<output_dir>/images/<name>/`` and logs it to every
W&B and TensorBoard logger of the trainer. They use a model only through the declared contract
(``genlab.contract.GenerativeModel``): ``sample_noise``/``generate`` for every model,
``encode``/``reconstruct`` when ``can_encode``, ``generate_raw`` when ``has_ema``, and labels
when the model is ``conditional`` (then a sample grid has one row per class). Latents may be
vectors (B, D) or spatial (B, C, H, W). Non-image models (2D toys) are skipped.
After each call, ``last_images`` (and ``last_labels``) hold exactly the tensor that was logged.
"""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import TensorBoardLogger, WandbLogger
from torchvision.utils import make_grid

from genlab.callbacks.cadence import EpochCadence
from genlab.contract import GenerativeModel, require_generative
from genlab.utils.eval_mode import eval_mode

#: zlib level of the PNG grids: 1 encodes a 64-digit grid ~3x faster than PIL's default 6, and
#: the file is 1.08x the size (benchmarks/png_level.py, 2026-12-02).
PNG_COMPRESS_LEVEL = 1


def save_and_log_grid(
    trainer: pl.Trainer, name: str, images: torch.Tensor, nrow: int, output_dir: str | None = None
) -> Path:
    """Save images (N, C, H, W) in [0, 1] as one PNG grid and log it to W&B loggers.

    Returns:
        The PNG's path: ``<output_dir>/images/<name>/epoch_<EEEE>.png``.
    """
    root = Path(output_dir or trainer.default_root_dir)
    path = root / "images" / name / f"epoch_{trainer.current_epoch:04d}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    grid = make_grid(images.detach().float().cpu().clamp(0, 1), nrow=nrow, padding=2)
    save_png(grid, path)
    log_image_file(trainer, f"images/{name}", path, trainer.global_step)
    return path


def save_png(grid: torch.Tensor, path: Path) -> None:
    """Write a (C, H, W) image in [0, 1] as an 8-bit PNG (torchvision's ``save_image`` rounding:
    x * 255 + 0.5, clamped) at ``PNG_COMPRESS_LEVEL``; ``save_image`` takes no PIL options."""
    from PIL import Image

    array = grid.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to(torch.uint8).numpy()
    if array.shape[-1] == 1:
        array = array[..., 0]  # grey
    Image.fromarray(array).save(path, format="PNG", compress_level=PNG_COMPRESS_LEVEL)


def log_image_file(trainer: pl.Trainer, key: str, path: str | Path, step: int) -> None:
    """Log a saved image file under ``key`` to every W&B logger (x = ``step``) and as an image
    summary to every TensorBoard logger of the trainer (rank 0)."""
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.log_image(key=key, images=[str(path)], step=step)
        elif isinstance(logger, TensorBoardLogger) and trainer.is_global_zero:
            image = _read_png(path)  # (C, H, W) uint8
            logger.experiment.add_image(key, image, global_step=step, dataformats="CHW")


def _read_png(path: str | Path) -> torch.Tensor:
    """Return the image file at ``path`` as a uint8 tensor (C, H, W), C = 1, 3 or 4."""
    from torchvision.io import read_image

    return read_image(str(path))


def interpolate(start: torch.Tensor, end: torch.Tensor, steps: int) -> torch.Tensor:
    """Return linear paths from ``start`` to ``end`` (P, *latent_shape) as (P * steps,
    *latent_shape), pair-major: row p holds ``steps`` points of pair p. Any latent shape."""
    t = torch.linspace(0, 1, steps, device=start.device, dtype=start.dtype)
    t = t.view(1, steps, *([1] * (start.dim() - 1)))
    return (start[:, None] * (1 - t) + end[:, None] * t).flatten(0, 1)


class _EveryNEpochs(pl.Callback):
    """Base: run ``make_images`` on rank 0 at the end of validation every N epochs, at most
    every ``min_interval_s`` seconds, and after the last epoch (``genlab.callbacks.cadence``)."""

    def __init__(
        self, every_n_epochs: int = 1, output_dir: str | None = None, min_interval_s: float = 0.0
    ) -> None:
        self.cadence = EpochCadence(every_n_epochs, min_interval_s)
        self.output_dir = output_dir
        self.last_images: torch.Tensor | None = None
        self.last_labels: torch.Tensor | None = None

    def applies(self, model: object, datamodule: object) -> bool:
        """True for image models (genlab-train leaves image callbacks out for 2D toys)."""
        return require_generative(model, type(self).__name__).is_image_model

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Fail before training when the model does not implement the contract."""
        require_generative(pl_module, type(self).__name__)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        model = require_generative(pl_module, type(self).__name__)
        if not model.is_image_model or not self.cadence.due(trainer):
            return  # e.g. 2D toy data: Toy2DModes draws those
        with eval_mode(pl_module):
            self.make_images(trainer, model)

    def make_images(self, trainer: pl.Trainer, model: GenerativeModel) -> None:
        raise NotImplementedError

    def _save(self, trainer: pl.Trainer, name: str, images, nrow: int, labels=None) -> None:
        self.last_images, self.last_labels = images.detach().cpu(), labels
        save_and_log_grid(trainer, name, images, nrow, self.output_dir)


class SampleGrid(_EveryNEpochs):
    """Grid of samples from fixed prior noise (the same z every epoch, seeded). For conditional
    models, one row per class: ``num_samples // num_classes`` samples of class c in row c."""

    def __init__(self, num_samples: int = 64, seed: int = 1234, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_samples, self.seed = num_samples, seed

    def make_images(self, trainer: pl.Trainer, model: GenerativeModel) -> None:
        if model.conditional:
            nrow = max(1, self.num_samples // model.num_classes)
            labels = model.grid_labels(nrow)
            num = len(labels)
        else:
            nrow, labels, num = int(self.num_samples**0.5), None, self.num_samples
        z = model.sample_noise(num, torch.Generator().manual_seed(self.seed))
        self._save(trainer, "samples", model.generate(z, labels), nrow, labels)
        if model.has_ema:
            save_and_log_grid(
                trainer, "samples_raw", model.generate_raw(z, labels), nrow, self.output_dir
            )


class Reconstructions(_EveryNEpochs):
    """Validation images (odd rows) above their reconstructions (even rows); models that
    cannot encode (``can_encode=False``, e.g. GANs) are skipped."""

    def __init__(self, num_images: int = 32, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_images = num_images

    def applies(self, model: object, datamodule: object) -> bool:
        """True for image models that can encode (not GANs)."""
        model = require_generative(model, "Reconstructions")
        return model.is_image_model and model.can_encode

    def make_images(self, trainer: pl.Trainer, model: GenerativeModel) -> None:
        if not model.can_encode:
            return
        x, y = real_batch(trainer, model, self.num_images)
        recon = model.reconstruct(x, y)
        nrow = 8
        rows = [t for i in range(0, len(x), nrow) for t in (x[i : i + nrow], recon[i : i + nrow])]
        self._save(trainer, "reconstructions", torch.cat(rows), nrow, y)


class Interpolations(_EveryNEpochs):
    """Linear interpolations in latent space, one row per pair: between encoded validation
    images for models that can encode (VAEs), between fixed noise draws otherwise (GANs).
    Conditional models keep one label per row (the start image's label, or a drawn one)."""

    def __init__(self, num_pairs: int = 8, steps: int = 10, seed: int = 4321, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_pairs, self.steps, self.seed = num_pairs, steps, seed

    def make_images(self, trainer: pl.Trainer, model: GenerativeModel) -> None:
        pairs = self.num_pairs
        gen = torch.Generator().manual_seed(self.seed)
        if model.can_encode:
            x, y = real_batch(trainer, model, 2 * pairs)
            z = model.encode(x, y)
            labels = None if y is None else y[:pairs]
        else:
            z = model.sample_noise(2 * pairs, gen)
            labels = model.sample_labels(pairs, gen)
        path = interpolate(z[:pairs], z[pairs : 2 * pairs], self.steps)
        row_labels = None if labels is None else labels.repeat_interleave(self.steps)
        images = model.generate(path, row_labels)
        self._save(trainer, "interpolations", images, self.steps, row_labels)


def real_batch(
    trainer: pl.Trainer, model: GenerativeModel, num: int
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Return the first ``num`` validation images on the model's device, with their labels
    when the model is conditional (else None)."""
    datamodule = trainer.datamodule
    x = datamodule.real_images("val", num).to(model.device)
    y = datamodule.real_labels("val", num).to(model.device) if model.conditional else None
    return x, y
