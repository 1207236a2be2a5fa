"""Scatter plot and mode metrics for GANs on 2D toys (ring2d / grid2d).

Every ``every_n_epochs`` training epochs (and at the end of training) the callback draws
``num_samples`` points from ``pl_module.generate`` on fixed noise, computes
``genlab.metrics.toy2d.mode_metrics`` against the datamodule's true modes, logs
``val/modes``, ``val/hq_frac``, ``val/kl_modes``, and saves a scatter plot over the true
modes to ``<trainer.default_root_dir>/images/`` and to W&B (``val/toy2d_samples``).
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytorch_lightning as pl  # noqa: E402
import torch  # noqa: E402
from pytorch_lightning.utilities import rank_zero_info  # noqa: E402
from torch import Tensor  # noqa: E402

from genlab.callbacks.images import log_image_file  # noqa: E402
from genlab.contract import require_generative  # noqa: E402
from genlab.data.toy2d import Toy2DDataModule  # noqa: E402
from genlab.metrics.toy2d import ModeStats, mode_metrics  # noqa: E402


def scatter_plot(samples: Tensor, centers: Tensor, path: str, title: str = "") -> str:
    """Save a PNG of ``samples`` (N, 2) (black dots) over mode ``centers`` (red crosses);
    returns ``path``."""
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    pts = samples.detach().cpu().numpy()
    c = centers.cpu().numpy()
    ax.scatter(pts[:, 0], pts[:, 1], s=2, c="black", alpha=0.3, label="generated")
    ax.scatter(c[:, 0], c[:, 1], s=30, c="red", marker="x", label="modes")
    span = float(abs(c).max()) * 1.5 + 1e-6
    ax.set_xlim(-span, span)
    ax.set_ylim(-span, span)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


class Toy2DModes(pl.Callback):
    """Mode metrics + scatter plot of generated 2D points. ``last`` holds the latest ModeStats."""

    def __init__(
        self,
        every_n_epochs: int = 1,
        num_samples: int = 2500,
        threshold: float = 3.0,
        seed: int = 1234,
        prefix: str = "val",
    ) -> None:
        self.every_n_epochs, self.num_samples = every_n_epochs, num_samples
        self.threshold, self.seed, self.prefix = threshold, seed, prefix
        self.last: ModeStats | None = None
        self._last_step = -1
        self.enabled = True

    @staticmethod
    def applies(model: object, datamodule: object) -> bool:
        """True on 2D toy data with known modes (genlab-train leaves the callback out else)."""
        return isinstance(datamodule, Toy2DDataModule)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Switch off (with one log line) unless the data is a 2D toy with known modes, so the
        callback can sit in the default callbacks next to the image callbacks."""
        self.enabled = isinstance(trainer.datamodule, Toy2DDataModule)
        if self.enabled:
            require_generative(pl_module, "Toy2DModes")
        if not self.enabled:
            rank_zero_info("Toy2DModes: data has no 2D modes (not ring2d/grid2d); skipped.")

    def _evaluate(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> ModeStats | None:
        dm = trainer.datamodule
        if trainer.global_step == self._last_step:
            return self.last
        gen = torch.Generator().manual_seed(self.seed)  # fixed noise: comparable across epochs
        model = require_generative(pl_module, "Toy2DModes")
        z = model.sample_noise(self.num_samples, generator=gen)
        samples = model.generate(z, model.sample_labels(self.num_samples, generator=gen))
        self.last = mode_metrics(samples, dm.centers, dm.std, self.threshold)
        self._last_step = trainer.global_step
        if trainer.is_global_zero:
            self._save_plot(trainer, samples, dm)
        return self.last

    def _save_plot(self, trainer: pl.Trainer, samples: Tensor, dm: object) -> None:
        folder = os.path.join(trainer.default_root_dir, "images")
        os.makedirs(folder, exist_ok=True)
        s = self.last
        title = (
            f"{dm.name} step {trainer.global_step}: {s.modes}/{len(dm.centers)} modes, "
            f"{100 * s.hq_frac:.1f}% HQ, KL {s.kl_modes:.3f}"
        )
        path = os.path.join(
            folder, f"toy2d_epoch{trainer.current_epoch:04d}_step{trainer.global_step:07d}.png"
        )
        scatter_plot(samples, dm.centers, path, title)
        # Same step axis as self.log (Lightning logs metrics at _batches_that_stepped).
        step = trainer.fit_loop.epoch_loop._batches_that_stepped
        log_image_file(trainer, f"{self.prefix}/toy2d_samples", path, step)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Evaluate every ``every_n_epochs`` epochs and on the last epoch; log the metrics."""
        last_epoch = trainer.should_stop or trainer.current_epoch + 1 >= (trainer.max_epochs or 0)
        if not self.enabled:
            return
        if (trainer.current_epoch + 1) % self.every_n_epochs and not last_epoch:
            return
        stats = self._evaluate(trainer, pl_module)
        for key, value in stats.as_log_dict(self.prefix).items():
            pl_module.log(key, value, on_step=False, on_epoch=True)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Final evaluation (kept in ``last``) when training stopped mid-epoch (max_steps)."""
        if self.enabled:
            self._evaluate(trainer, pl_module)
