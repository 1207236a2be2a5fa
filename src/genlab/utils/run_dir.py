"""Run folders that two processes never share: claim the folder with an exclusive ``mkdir``.

Hydra names a run folder by time (``${now:%H-%M-%S}``); two runs launched in the same second
get the same name. The ``genlab_unique_dir`` resolver, used in ``conf/hydra/default.yaml``,
creates the folder with ``os.mkdir`` (atomic: exactly one process succeeds) and, when it
already exists, claims ``<name>_1``, ``<name>_2``, ... instead. The result is cached per
config (``use_cache``), so every later read of ``hydra.run.dir`` in the same process, and
Hydra's copy of the cache into sweep jobs, gets the same folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import OmegaConf

RESOLVER = "genlab_unique_dir"
SWEEP_RESOLVER = "genlab_sweep_dir"
MAX_TRIES = 10_000
SWEEP_MARKERS = ("multirun.yaml", "sweep.yaml")  # what Hydra / genlab write into a sweep folder


def check_run_name(name: str) -> str:
    """Return ``name`` (``paths.run_name``) when it names a folder below the runs folder; raise
    ValueError for an empty or absolute name or one with a ``..`` part (it would write outside
    ``outputs/``, e.g. ``../../../escaped``)."""
    text = str(name)
    if not text.strip() or Path(text).is_absolute() or ".." in Path(text).parts:
        raise ValueError(
            f"paths.run_name={text!r}: a run name must be a folder name below the runs folder "
            "(no '..', not absolute, not empty), e.g. paths.run_name=iwae_seed1. To write "
            "elsewhere, set paths.log_dir=<folder>."
        )
    return text


def claim_unique_dir(path: str, name: str | None = None) -> str:
    """Create ``path`` (or ``path/name`` when ``name``, a checked run name, is given), or the
    first free ``<that>_N``, N = 1, 2, ..., and return its name."""
    base = Path(path) if name is None else Path(path) / check_run_name(name)
    base.parent.mkdir(parents=True, exist_ok=True)
    for n in range(MAX_TRIES):
        candidate = base if n == 0 else base.with_name(f"{base.name}_{n}")
        try:
            os.mkdir(candidate)
        except FileExistsError:
            continue
        return str(candidate)
    raise FileExistsError(f"no free run folder after {MAX_TRIES} tries: {base}_*")


def sweep_dir(resume: str | None, path: str, name: str | None = None) -> str:
    """Return the multirun folder: ``resume`` (``+resume_sweep=<dir>``, an existing sweep
    folder, made absolute against the launch folder) when set, else a new unique folder claimed
    from ``path`` (:func:`claim_unique_dir`). Raise FileNotFoundError when ``resume`` is not a
    sweep folder (it holds neither ``multirun.yaml`` nor ``sweep.yaml``)."""
    if not resume:
        return claim_unique_dir(path, name)
    folder = Path(resume).expanduser().absolute()
    if not any((folder / marker).is_file() for marker in SWEEP_MARKERS):
        raise FileNotFoundError(
            f"resume_sweep={resume}: {folder} is not a sweep folder (no multirun.yaml or "
            "sweep.yaml in it). Pass the folder a multirun wrote, e.g. "
            "+resume_sweep=outputs/train/multiruns/<name>."
        )
    return str(folder)


def register_resolver() -> None:
    """Register ``${genlab_unique_dir:<path>}`` and ``${genlab_sweep_dir:<resume>,<path>}``
    once per process (before Hydra composes)."""
    if not OmegaConf.has_resolver(RESOLVER):
        OmegaConf.register_new_resolver(RESOLVER, claim_unique_dir, use_cache=True)
    if not OmegaConf.has_resolver(SWEEP_RESOLVER):
        OmegaConf.register_new_resolver(SWEEP_RESOLVER, sweep_dir, use_cache=True)
