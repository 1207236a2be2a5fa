"""Codebook-usage plot for vector-quantized models: how often each code was used on val.

Reads the contract's ``code_counts`` (K,), the code histogram of the last validation epoch that a
VQ model sets (``genlab.models.vqvae.VQVAE``), and draws the counts sorted from most to least
used, with the perplexity and the number of codes in use in the title. A PNG under
``images/codebook_usage/`` and a W&B image; inactive for models without a codebook.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytorch_lightning as pl  # noqa: E402
import torch  # noqa: E402

from genlab.callbacks.cadence import EpochCadence  # noqa: E402
from genlab.callbacks.images import log_image_file  # noqa: E402
from genlab.contract import require_generative  # noqa: E402
from genlab.nets.quantizer import perplexity  # noqa: E402


def plot_code_usage(counts: torch.Tensor, path: Path, title: str = "") -> Path:
    """Save a bar plot of ``counts`` (K,) sorted in decreasing order to ``path`` (PNG)."""
    counts = counts.detach().double().cpu()
    k, used = counts.numel(), int((counts > 0).sum())
    fig, ax = plt.subplots(figsize=(6, 2.5), dpi=100)
    ax.bar(range(k), counts.sort(descending=True).values.numpy(), width=1.0, color="tab:blue")
    ax.set_xlabel("code (sorted by use)")
    ax.set_ylabel("assignments")
    ax.set_xlim(-0.5, k - 0.5)
    ax.set_title(f"{title}used {used}/{k} codes, perplexity {float(perplexity(counts)):.1f}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


class CodebookUsage(pl.Callback):
    """Plot the validation code histogram every ``every_n_epochs`` epochs (rank 0)."""

    def __init__(
        self, every_n_epochs: int = 1, output_dir: str | None = None, min_interval_s: float = 0.0
    ) -> None:
        self.cadence = EpochCadence(every_n_epochs, min_interval_s)  # genlab.callbacks.cadence
        self.output_dir = output_dir

    @staticmethod
    def applies(model: object, datamodule: object) -> bool:
        """True for models with a codebook (``has_codebook``, e.g. VQ-VAE)."""
        return bool(getattr(model, "has_codebook", False))

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Runs after the model's epoch-end hook has set ``code_counts`` for this epoch."""
        counts = require_generative(pl_module, "CodebookUsage").code_counts
        if counts is None or trainer.sanity_checking or not trainer.is_global_zero:
            return
        if not self.cadence.due(trainer):
            return
        root = Path(self.output_dir or trainer.default_root_dir)
        path = root / "images" / "codebook_usage" / f"epoch_{trainer.current_epoch:04d}.png"
        plot_code_usage(counts, path, f"epoch {trainer.current_epoch}: ")
        log_image_file(trainer, "images/codebook_usage", path, trainer.global_step)
