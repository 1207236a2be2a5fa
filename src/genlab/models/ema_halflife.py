"""Generator EMA with a half-life in images (Karras et al. 2020 StyleGAN2-ADA, Appendix B;
NVlabs/stylegan2-ada-pytorch ``training/training_loop.py``, the 'Gema' step).

After each G step on a batch of B images: beta = 0.5 ** (B / max(h, 1e-8)), with h the
half-life in images (official ``ema_kimg`` * 1000: 10k for StyleGAN2, 500k for the CIFAR
config), optionally ramped up as h = min(h, images_seen * rampup) (official ``ema_rampup`` 0.05
for CIFAR), so the EMA forgets the initialisation fast. The half-life is then independent of the
batch size.
"""

from __future__ import annotations

from genlab.utils.ranges import Num, check_ranges


class HalfLifeEMA:
    """beta(images_seen, batch) for a half-life of ``half_life_images`` (and ramp-up)."""

    RANGES = {
        "half_life_images": Num(low=0, low_open=True),
        "rampup": Num(low=0, low_open=True, optional=True),
    }

    def __init__(self, half_life_images: float, rampup: float | None = None) -> None:
        check_ranges(self, half_life_images=half_life_images, rampup=rampup)
        self.half_life_images, self.rampup = float(half_life_images), rampup

    def beta(self, images_seen: float, batch_images: int) -> float:
        """Averaging weight in [0, 1) for the update after a G step of ``batch_images`` images,
        ``images_seen`` images into training (counted before this batch, as the official)."""
        h = self.half_life_images
        if self.rampup is not None:
            h = min(h, images_seen * self.rampup)
        return 0.5 ** (batch_images / max(h, 1e-8))
