"""Launch one Hydra multirun (experiment x seeds) per suite entry, as ``genlab-train -m``."""

from __future__ import annotations

import json
import logging
import os
import resource
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def multirun_command(
    experiment: Mapping[str, Any],
    seeds: Sequence[int],
    sweep_dir: Path,
    common: Sequence[str] = (),
    extra: Sequence[str] = (),
    group: str | None = None,
    presets: Mapping[str, Sequence[str]] | None = None,
) -> list[str]:
    """Return the ``genlab-train -m`` command line (as argv) of one suite entry: the suite's
    ``common`` overrides, the entry's ``overrides``, ``seed=<seeds>``, its sweep folder, the W&B
    group of the suite, then ``extra`` (e.g. ``hydra/launcher=slurm``; last, so it wins).
    ``presets`` are named override lists an entry pulls in with ``presets: [name]``."""
    named = []
    for name in experiment.get("presets", []):
        if name not in (presets or {}):
            raise KeyError(f"suite preset {name!r} (experiment {experiment['name']!r}) is not "
                           f"defined; defined presets: {sorted(presets or {})}")  # fmt: skip
        named += list(presets[name])
    cmd = [sys.executable, "-m", "genlab.train", "-m", *common, *named]
    cmd += list(experiment.get("overrides", []))
    cmd += [f"seed={','.join(str(s) for s in seeds)}", f"hydra.sweep.dir={sweep_dir}"]
    if group:
        cmd.append(f"++logger.wandb.group={group}")
    return cmd + list(extra)


def run_command(
    cmd: list[str], log_file: Path, cwd: Path, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Run ``cmd`` (with ``env`` added to this process's environment) with its output in
    ``log_file``; return exit code, wall seconds and CPU seconds (user + system of the child
    processes)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(log_file, "w") as out:
        full_env = {**os.environ, **{k: str(v) for k, v in (env or {}).items()}}
        code = subprocess.run(
            cmd, cwd=cwd, env=full_env, stdout=out, stderr=subprocess.STDOUT
        ).returncode
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"returncode": code, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1)}


def launch_suite(
    suite: Mapping[str, Any], out_dir: Path, cwd: Path, extra: Sequence[str] = (), group: str = ""
) -> dict[str, dict[str, Any]]:
    """Run every experiment of ``suite`` as one multirun under ``out_dir/<name>``; return and
    write (``out_dir/timings.json``) each one's exit code and wall / CPU seconds. A failing
    experiment is logged and the suite goes on; its runs show up as unfinished in the report."""
    timings: dict[str, dict[str, Any]] = {}
    for exp in suite["experiments"]:
        seeds = exp.get("seeds", suite.get("seeds", [0]))
        cmd = multirun_command(
            exp, seeds, out_dir / exp["name"], suite.get("common", []), extra, group,
            suite.get("presets"),
        )  # fmt: skip
        log.info(f"[{exp['name']}] {' '.join(cmd[1:])}")
        log_file = out_dir / f"{exp['name']}.log"
        timings[exp["name"]] = run_command(cmd, log_file, cwd, suite.get("env"))
        timings[exp["name"]]["seeds"] = list(seeds)
        log.info(f"[{exp['name']}] {timings[exp['name']]}")
        if timings[exp["name"]]["returncode"] != 0:
            log.error(f"[{exp['name']}] failed; see {out_dir / exp['name']}.log")
        (out_dir / "timings.json").write_text(json.dumps(timings, indent=2))
    return timings
