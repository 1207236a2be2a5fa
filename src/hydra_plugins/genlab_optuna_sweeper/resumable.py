"""Optuna sweeper whose study survives: resume it from its storage with ``+resume_sweep``.

Hydra's Optuna sweeper (hydra-optuna-sweeper 1.2/1.3, ``_impl.py``) loads an existing study
(``load_if_exists=True``) but then runs ``n_trials`` *more* trials, numbering their job folders
from 0 again. With ``+resume_sweep=<sweep dir>`` this subclass, before sweeping:

- re-runs every trial the storage still holds as RUNNING (its process was killed) with the
  same parameters **in its own job folder** (job number = trial number), so genlab's job-level
  resume (:mod:`genlab.launch.resume_sweep`) continues it from its last.ckpt and W&B id, and
  tells the study its value (or FAIL);
- then asks only for the trials still missing (``n_trials`` minus those in the study), numbering
  their folders after the existing ones.

Finished (COMPLETE/FAIL/PRUNED) trials are not re-run. The storage defaults to
``sqlite:///<sweep dir>/optuna.db`` in ``conf/hparams_search/*.yaml``. Lives under
``hydra_plugins`` because Hydra instantiates sweepers only from that package; the Optuna-side
body is in ``_resumable_impl.py``, imported only when the sweeper is built (Hydra scans this
module on every ``genlab-train`` start, and importing Optuna costs ~4 s).
"""

from __future__ import annotations

from typing import Any

from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper


class ResumableOptunaSweeper(OptunaSweeper):
    """Hydra's ``OptunaSweeper`` with :class:`ResumableOptunaSweeperImpl` inside."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from hydra_plugins.genlab_optuna_sweeper._resumable_impl import (
            ResumableOptunaSweeperImpl,
        )

        super().__init__(*args, **kwargs)
        inner = self.sweeper
        self.sweeper = ResumableOptunaSweeperImpl.__new__(ResumableOptunaSweeperImpl)
        self.sweeper.__dict__.update(inner.__dict__)
