"""The body of :class:`~hydra_plugins.genlab_optuna_sweeper.resumable.ResumableOptunaSweeper`.

Kept apart (a ``_`` module, which Hydra's plugin scanner does not import) because it imports
Hydra's Optuna ``_impl`` and so Optuna itself (~4 s here): every ``genlab-train`` start scans
``hydra_plugins``, and only a sweep with this sweeper needs Optuna. See ``resumable.py``.
"""

from __future__ import annotations

import logging
from typing import Any

from hydra_plugins.hydra_optuna_sweeper._impl import OptunaSweeperImpl

log = logging.getLogger("hydra_plugins.genlab_optuna_sweeper.resumable")


class ResumableOptunaSweeperImpl(OptunaSweeperImpl):
    """:class:`OptunaSweeperImpl` that finishes a killed study instead of extending it."""

    def sweep(self, arguments: list[str]) -> None:
        """Re-run the killed trials, then run the missing ones (see the module docstring)."""
        if self.config.get("resume_sweep") and self.storage:
            self._resume_study(arguments)
        super().sweep(arguments)

    def _resume_study(self, arguments: list[str]) -> None:
        import optuna
        from hydra_plugins.hydra_optuna_sweeper._impl import create_params_from_overrides

        # this command's fixed overrides (with +resume_sweep), in the order the sweeper uses
        _, fixed = create_params_from_overrides(list(arguments))

        try:
            study = optuna.load_study(study_name=self.study_name, storage=self.storage)
        except KeyError:  # no such study yet in that storage: a fresh start
            return
        running = optuna.trial.TrialState.RUNNING
        for trial in [t for t in study.trials if t.state == running]:
            # the storage returns params sorted by name; the sweeper wrote them in the order
            # of hydra.sweeper.params (the job folder's recorded overrides have that order)
            order = [k for k in (self.params or {}) if k in trial.params]
            order += [k for k in trial.params if k not in order]
            params = {**{k: trial.params[k] for k in order}, **fixed}
            overrides = tuple(f"{name}={value}" for name, value in params.items())
            log.info(f"resume_sweep: re-running killed trial {trial.number} ({overrides})")
            (ret,) = self.launcher.launch([overrides], initial_job_idx=trial.number)
            self._tell(study, trial.number, ret)
        done = len(study.trials)
        self.job_idx = done
        self.n_trials = max(0, self.n_trials - done)
        log.info(f"resume_sweep: {done} trials in the study; {self.n_trials} still to run")

    @staticmethod
    def _tell(study: Any, number: int, ret: Any) -> None:
        import optuna

        try:
            study.tell(number, float(ret.return_value))
        except Exception as error:  # the job failed: recorded as a failed trial
            log.warning(f"resume_sweep: trial {number} failed again: {error}")
            study.tell(number, state=optuna.trial.TrialState.FAIL)
