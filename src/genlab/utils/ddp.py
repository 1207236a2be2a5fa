"""DDP under Hydra: every rank of a job runs that job's resolved config, in that job's folder.

Lightning's default launcher re-runs ``sys.argv`` for ranks > 0. Under Hydra that re-runs the
command line: a multirun (``-m``) child starts a new sweep, and interpolations that read
Hydra's runtime (run dir, sweep dir, time) can differ between ranks (Lightning #11300,
lightning-hydra-template #393). genlab's launcher instead writes the job's fully resolved
config to ``<job output dir>/.hydra/ddp_job.yaml`` and starts each child rank as
``python -m genlab.utils.ddp <that file>``: no Hydra in the children, so no new folders or
sweeps, and every rank provably runs the same values. Only rank 0 logs (Lightning loggers are
rank-zero only). Without a registered job (plain Python use) Lightning's launcher is used.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.strategies import DDPStrategy
from pytorch_lightning.strategies.launchers.subprocess_script import _SubprocessScriptLauncher

CHILD_ENV = "GENLAB_DDP_CHILD"
_current_job: Path | None = None


def is_ddp_child() -> bool:
    """Return True inside a rank > 0 process started by genlab's launcher."""
    return os.environ.get(CHILD_ENV) == "1"


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


class _JobLauncher(_SubprocessScriptLauncher):
    """Lightning's subprocess launcher with children that run the registered job file."""

    def _call_children_scripts(self) -> None:
        if _current_job is None:
            return super()._call_children_scripts()
        self._check_can_spawn_children()
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
            command = [sys.executable, "-m", "genlab.utils.ddp", str(_current_job)]
            self.procs.append(subprocess.Popen(command, env=child_env, cwd=os.getcwd()))
        return None


class JobDDPStrategy(DDPStrategy):
    """DDPStrategy whose launcher starts child ranks on the job's resolved config."""

    def _configure_launcher(self) -> None:
        if self._start_method != "popen":
            return super()._configure_launcher()
        self._launcher = _JobLauncher(self.cluster_environment, self.num_processes, self.num_nodes)
        return None


def run_child(job_file: str) -> None:
    """Entry point of a child rank: load the job file and call its entry with the config."""
    job = OmegaConf.load(job_file)
    module_name, func_name = job.entry.split(":")
    getattr(importlib.import_module(module_name), func_name)(job.config)


if __name__ == "__main__":
    run_child(sys.argv[1])
