"""Adaptive discriminator augmentation, ADA (Karras et al. 2020, "Training Generative
Adversarial Networks with Limited Data", Sec. 3 and Appendix C).

Every D input (real and fake, D and G steps) goes through the ops of ``genlab.objectives.
ada_ops`` with probability p each. p is adjusted from the overfitting heuristic
r_t = E[sign(D(x_real))]: every ``interval`` D steps, p += sign(r_t - target) * (images seen in
the interval) / ``adjust_images``, clamped below at 0 (so p can move by 1 in ``adjust_images``
real images; official defaults target 0.6, interval 4, ada_kimg 500 = 500,000 images). Read
against NVlabs/stylegan2-ada-pytorch ``training/training_loop.py`` (the "Execute ADA heuristic"
step) and ``training/augment.py`` (``AugmentPipe``: ``p`` is a buffer). ``target=None`` keeps p
fixed at ``p`` (the official ``--aug=fixed``).

State: p, the running sign sum and image count of the current interval and the last r_t are
buffers, so checkpoints carry them. Under DDP the sums are all-reduced before each adjustment, so
every rank holds the same p (as the official training_stats collector does).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor

from genlab.objectives.ada_ops import BGC, augment
from genlab.objectives.augment import Augmentation
from genlab.utils.ranges import Num, check_ranges


def adjusted_p(p: float, rt: float, target: float, images: float, adjust_images: float) -> float:
    """One ADA step: max(0, p + sign(rt - target) * images / adjust_images)."""
    step = (1.0 if rt > target else -1.0 if rt < target else 0.0) * images / adjust_images
    return max(0.0, p + step)


class ADA(Augmentation):
    """ADA as a D-input augmentation: ``forward(x, generator)`` and ``observe(real_logits)``.

    Args:
        p: initial augmentation probability (0 for ADA; the fixed p when ``target`` is None).
        target: r_t target (0.6), or None for a fixed p.
        adjust_images: real images over which p can change by 1 (500,000; official ada_kimg).
        interval: D steps between adjustments (4).
        ops: names of ``genlab.objectives.ada_ops.BGC`` to use (default: all of 'bgc').
    """

    RANGES = {
        "p": Num(low=0, high=1),
        "target": Num(low=0, high=1, optional=True),
        "adjust_images": Num(low=0, low_open=True),
        "interval": Num(integer=True, low=1),
    }

    def __init__(
        self,
        p: float = 0.0,
        target: float | None = 0.6,
        adjust_images: float = 500_000,
        interval: int = 4,
        ops: list[str] | tuple[str, ...] | str | None = None,
    ) -> None:
        check_ranges(self, p=p, target=target, adjust_images=adjust_images, interval=interval)
        super().__init__()
        names = BGC if ops is None else tuple(ops.split(",") if isinstance(ops, str) else ops)
        unknown = [o for o in names if o not in BGC]
        if unknown:
            raise ValueError(f"model.augment.ops: unknown {unknown}; allowed: {list(BGC)}")
        self.ops = tuple(names)
        self.target, self.adjust_images, self.interval = target, float(adjust_images), interval
        self.register_buffer("p", torch.tensor(float(p)))
        self.register_buffer("sign_sum", torch.zeros((), dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("steps", torch.zeros((), dtype=torch.int64))
        self.register_buffer("rt", torch.zeros(()))

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Augmented x (N, C, H, W) in [-1, 1]; x itself when p = 0 (or for non-image data)."""
        if x.dim() != 4 or float(self.p) == 0.0:
            return x
        return augment(x, self.p, self.ops, generator)

    @torch.no_grad()
    def observe(self, real_logits: Tensor) -> dict[str, Tensor]:
        """Accumulate sign(D(real)) of one D step; adjust p every ``interval`` calls. Returns
        {'ada_p': p, 'ada_rt': the last r_t} for logging."""
        if self.target is not None:
            self.sign_sum += real_logits.detach().float().sign().sum().double()
            self.count += real_logits.numel()
            self.steps += 1
            if int(self.steps) % self.interval == 0:
                self._adjust()
        return {"ada_p": self.p.clone(), "ada_rt": self.rt.clone()}

    def _adjust(self) -> None:
        stats = torch.stack([self.sign_sum, self.count])
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(stats)
        sign_sum, count = stats.tolist()
        if count > 0:
            rt = sign_sum / count
            self.rt.fill_(rt)
            new_p = adjusted_p(float(self.p), rt, self.target, count, self.adjust_images)
            self.p.fill_(new_p)
        self.sign_sum.zero_()
        self.count.zero_()
