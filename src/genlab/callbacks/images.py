"""Images people look at: prior samples on fixed noise, reconstructions, latent interpolations.

Each callback saves a PNG grid under ``<output_dir>/images/<name>/`` and logs it to every
W&B logger of the trainer. They work with any genlab model that implements the generative
interface (``sample_noise``, ``generate``; ``encode`` and ``reconstruct`` for VAEs;
``generate_raw`` for GANs with a generator EMA).
"""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import WandbLogger
from torchvision.utils import make_grid, save_image


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
    save_image(grid, path)
    log_image_file(trainer, f"images/{name}", path, trainer.global_step)
    return path


def log_image_file(trainer: pl.Trainer, key: str, path: str | Path, step: int) -> None:
    """Log a saved image file under ``key`` to every W&B logger of the trainer (x = ``step``)."""
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.log_image(key=key, images=[str(path)], step=step)


class _EveryNEpochs(pl.Callback):
    """Base: run ``make_images`` on rank 0 at the end of validation every N epochs."""

    def __init__(self, every_n_epochs: int = 1, output_dir: str | None = None) -> None:
        if every_n_epochs < 1:
            raise ValueError(f"every_n_epochs must be >= 1, got {every_n_epochs}")
        self.every_n_epochs = every_n_epochs
        self.output_dir = output_dir

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        if (trainer.current_epoch + 1) % self.every_n_epochs and not _is_last_epoch(trainer):
            return
        if len(getattr(pl_module, "expected_input_shape", (0, 0, 0))) != 3:
            return  # not an image model (e.g. 2D toy data): nothing to draw here
        was_training = pl_module.training
        pl_module.eval()
        with torch.no_grad():
            self.make_images(trainer, pl_module)
        pl_module.train(was_training)

    def make_images(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        raise NotImplementedError


def _is_last_epoch(trainer: pl.Trainer) -> bool:
    return trainer.max_epochs is not None and trainer.current_epoch + 1 >= trainer.max_epochs


class SampleGrid(_EveryNEpochs):
    """Grid of samples from fixed prior noise (the same z every epoch, seeded)."""

    def __init__(self, num_samples: int = 64, seed: int = 1234, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_samples, self.seed = num_samples, seed

    def make_images(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        z = pl_module.sample_noise(self.num_samples, torch.Generator().manual_seed(self.seed))
        nrow = int(self.num_samples**0.5)
        save_and_log_grid(trainer, "samples", pl_module.generate(z), nrow, self.output_dir)
        if hasattr(pl_module, "generate_raw") and getattr(pl_module, "ema_enabled", False):
            raw = pl_module.generate_raw(z)
            save_and_log_grid(trainer, "samples_raw", raw, nrow, self.output_dir)


class Reconstructions(_EveryNEpochs):
    """Validation images (odd rows) above their reconstructions (even rows)."""

    def __init__(self, num_images: int = 32, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_images = num_images

    def make_images(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not hasattr(pl_module, "reconstruct"):
            return
        x = trainer.datamodule.real_images("val", self.num_images).to(pl_module.device)
        recon = pl_module.reconstruct(x)
        nrow = 8
        rows = [t for i in range(0, len(x), nrow) for t in (x[i : i + nrow], recon[i : i + nrow])]
        save_and_log_grid(trainer, "reconstructions", torch.cat(rows), nrow, self.output_dir)


class Interpolations(_EveryNEpochs):
    """Linear interpolations in latent space: between encoded validation images for models
    that can encode (VAEs), between fixed noise vectors otherwise (GANs); one row per pair."""

    def __init__(self, num_pairs: int = 8, steps: int = 10, seed: int = 4321, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_pairs, self.steps, self.seed = num_pairs, steps, seed

    def make_images(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if hasattr(pl_module, "encode"):
            x = trainer.datamodule.real_images("val", 2 * self.num_pairs).to(pl_module.device)
            z = pl_module.encode(x)
        else:
            gen = torch.Generator().manual_seed(self.seed)
            z = pl_module.sample_noise(2 * self.num_pairs, gen)
        start, end = z[: self.num_pairs], z[self.num_pairs : 2 * self.num_pairs]
        t = torch.linspace(0, 1, self.steps, device=z.device).view(1, -1, 1)
        path = start[:, None] * (1 - t) + end[:, None] * t  # (pairs, steps, D)
        images = pl_module.generate(path.flatten(0, 1))
        save_and_log_grid(trainer, "interpolations", images, self.steps, self.output_dir)
