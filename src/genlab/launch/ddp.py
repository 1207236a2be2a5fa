"""DDP under Hydra: every rank of a job runs that job's resolved config, in that job's folder.

Lightning's default launcher re-runs ``sys.argv`` for ranks > 0. Under Hydra that re-runs the
command line: a multirun (``-m``) child starts a new sweep, and interpolations that read
Hydra's runtime (run dir, sweep dir, time) can differ between ranks (Lightning #11300,
lightning-hydra-template #393). genlab's launcher instead writes the job's fully resolved
config to ``<job output dir>/.hydra/ddp_job.yaml`` and starts each child rank as
``python -m genlab.launch.ddp <that file>``: no Hydra in the children, so no new folders or
sweeps, and every rank provably runs the same values. Only rank 0 logs (Lightning loggers are
rank-zero only). Without a registered job (plain Python use) Lightning's launcher is used.

A job ends only when its child ranks have ended (``reap_children``, called by
``genlab.launch.job.isolated_job``). Lightning's child-process observer SIGKILLs the *main*
process when a child exits with an error; in a sweep that would end every later job too, so
the observer is stopped when the job itself fails or ends and the failure is left to Hydra.
"""

from __future__ import annotations

import importlib
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lightning_fabric.strategies.launchers.subprocess_script import _ChildProcessObserver
from lightning_fabric.utilities.distributed import _set_num_threads_if_needed
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.strategies import DDPStrategy
from pytorch_lightning.strategies.launchers.subprocess_script import _SubprocessScriptLauncher

log = logging.getLogger(__name__)

CHILD_ENV = "GENLAB_DDP_CHILD"
_current_job: Path | None = None
_spawning_launcher: _JobLauncher | None = None  # the launcher that started this job's children


def is_ddp_child() -> bool:
    """Return True in a rank > 0: started by genlab's launcher, or by SLURM/torchrun (each
    SLURM task of a multi-node job runs the Hydra job itself; only global rank 0 writes files)."""
    if os.environ.get(CHILD_ENV) == "1":
        return True
    rank = os.environ.get("RANK") or os.environ.get("SLURM_PROCID") or "0"
    return rank.isdigit() and int(rank) > 0


def register_job(cfg: DictConfig, entry: str, output_dir: str) -> Path:
    """Write the resolved job config that child ranks will run; return the file's path.

    Args:
        cfg: the job's composed config (resolved here, so children need no Hydra).
        entry: ``"module:function"`` the children call with the config (e.g. genlab.train:train).
        output_dir: the job's output folder.
    """
    global _current_job
    path = Path(output_dir) / ".hydra" / "ddp_job.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    job = OmegaConf.create({"entry": entry, "config": OmegaConf.to_container(cfg, resolve=True)})
    OmegaConf.save(job, path)
    _current_job = path
    return path


def clear_job() -> None:
    """Forget the registered job (called when a job ends)."""
    global _current_job
    _current_job = None


class _JobObserver(_ChildProcessObserver):
    """Lightning's child-process observer that can be stopped when its job ends."""

    def __init__(self, child_processes: list[subprocess.Popen]) -> None:
        super().__init__(main_pid=os.getpid(), child_processes=child_processes, sleep_period=1)
        self._stopped = False

    def stop(self) -> None:
        """Stop watching: the job ended, so its children ending is no reason to kill anything."""
        self._stopped = True

    def _run(self) -> bool:
        return self._stopped or super()._run()


class _JobLauncher(_SubprocessScriptLauncher):
    """Lightning's subprocess launcher with children that run the registered job file."""

    observer: _JobObserver | None = None

    def launch(self, function: Callable, *args: Any, trainer: Any = None, **kwargs: Any) -> Any:
        """Start the child ranks (once per job) and a stoppable observer, then run ``function``."""
        if _current_job is None:
            return super().launch(function, *args, trainer=trainer, **kwargs)
        self.cluster_environment.validate_settings(
            num_devices=self.num_processes, num_nodes=self.num_nodes
        )
        if not self.cluster_environment.creates_processes_externally:
            self._call_children_scripts()
            self.observer = _JobObserver(self.procs)
            self.observer.start()
        _set_num_threads_if_needed(num_processes=self.num_processes)
        return function(*args, **kwargs)

    def kill(self, signum: Any) -> None:
        """Kill the children (Lightning does on an error) without the observer killing us."""
        if self.observer is not None:
            self.observer.stop()
        super().kill(signum)

    def _call_children_scripts(self) -> None:
        global _spawning_launcher
        if _current_job is None:
            return super()._call_children_scripts()
        self._check_can_spawn_children()
        _spawning_launcher = self
        self.procs = []
        env = self.cluster_environment
        # the same variables Lightning's launcher sets (see _SubprocessScriptLauncher)
        os.environ["MASTER_ADDR"] = env.main_address
        os.environ["MASTER_PORT"] = str(env.main_port)
        os.environ["NODE_RANK"] = str(env.node_rank())
        os.environ["LOCAL_RANK"] = str(env.local_rank())
        os.environ["WORLD_SIZE"] = f"{self.num_processes * self.num_nodes}"
        for local_rank in range(1, self.num_processes):
            child_env = {**os.environ, "LOCAL_RANK": str(local_rank), CHILD_ENV: "1"}
            command = [sys.executable, "-m", "genlab.launch.ddp", str(_current_job)]
            self.procs.append(subprocess.Popen(command, env=child_env, cwd=os.getcwd()))
        return None


class JobDDPStrategy(DDPStrategy):
    """DDPStrategy whose launcher starts child ranks on the job's resolved config."""

    def _configure_launcher(self) -> None:
        if self._start_method != "popen":
            return super()._configure_launcher()
        self._launcher = _JobLauncher(self.cluster_environment, self.num_processes, self.num_nodes)
        return None


def reap_children(failed: bool, timeout: float = 120.0) -> list[int]:
    """End this job's child ranks; return their exit codes (empty when none were started).

    After a normal end, wait up to ``timeout`` seconds for each child; after a failure (or a
    child still running after the timeout) kill it: a failed rank 0 leaves the others blocked
    in a collective. Called at the end of every job, so no rank outlives its job.
    """
    global _spawning_launcher
    launcher, _spawning_launcher = _spawning_launcher, None
    if launcher is None:
        return []
    if launcher.observer is not None:
        launcher.observer.stop()
    codes = []
    for rank, proc in enumerate(launcher.procs, start=1):
        try:
            if failed:
                proc.kill()
            codes.append(proc.wait(timeout=timeout))
        except subprocess.TimeoutExpired:
            log.warning(f"DDP rank {rank} (pid {proc.pid}) still running {timeout}s after its job")
            proc.kill()
            codes.append(proc.wait())
    if not failed and any(codes):
        log.warning(f"DDP child ranks exited with codes {codes}")
    return codes


def _log_to_job_folder(job_file: Path) -> None:
    """Send this rank's Python logging to ``<job folder>/ddp_rank<k>.log`` and stderr (Hydra
    configures logging only in rank 0)."""
    rank = os.environ.get("LOCAL_RANK", "?")
    logging.basicConfig(
        level=logging.INFO,
        format=f"[%(asctime)s][rank {rank}][%(name)s][%(levelname)s] - %(message)s",
        handlers=[
            logging.StreamHandler(),
            logging.FileHandler(job_file.parent.parent / f"ddp_rank{rank}.log"),
        ],
    )


def run_child(job_file: str) -> None:
    """Entry point of a child rank: load the job file and call its entry with the config."""
    _log_to_job_folder(Path(job_file))
    job = OmegaConf.load(job_file)
    module_name, func_name = job.entry.split(":")
    getattr(importlib.import_module(module_name), func_name)(job.config)


if __name__ == "__main__":
    run_child(sys.argv[1])
