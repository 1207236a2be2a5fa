"""Learning-rate schedules of reproduced papers, as callables for ``LambdaLR`` configs."""

from __future__ import annotations


class BurdaSchedule:
    """Burda et al. 2016 (IWAE), Sec. 5: stage i = 0..7 lasts 3**i epochs at learning rate
    0.001 * 10**(-i / 7): 3,280 epochs in all. Called with the epoch (0-based), returns the
    factor on the base lr (1e-3); epochs past the last stage keep the last factor."""

    def __init__(self, stages: int = 8) -> None:
        self.stages = stages

    @property
    def total_epochs(self) -> int:
        """Number of epochs the schedule spans (3,280 for 8 stages)."""
        return sum(3**i for i in range(self.stages))

    def stage(self, epoch: int) -> int:
        """Return the stage index i of ``epoch``."""
        end = 0
        for i in range(self.stages):
            end += 3**i
            if epoch < end:
                return i
        return self.stages - 1

    def __call__(self, epoch: int) -> float:
        """Return the lr factor 10**(-i / 7) for ``epoch``."""
        return 10.0 ** (-self.stage(epoch) / 7.0)
