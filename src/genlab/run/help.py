"""``genlab-train --help``: list only the config groups genlab-train composes.

Hydra's ``$APP_CONFIG_GROUPS`` lists every folder of ``conf/``, including ``suite`` (read by
genlab-bench only, which genlab-train refuses). ``${genlab_config_groups:suite}`` in
``hydra.help.template`` (``conf/train.yaml``) lists the groups and their options without the
named ones. Leaf helper: imports nothing of genlab but the config dir.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from genlab.utils.config_dir import CONFIG_DIR

RESOLVER = "genlab_config_groups"


def config_groups(root: str | Path = CONFIG_DIR, skip: tuple[str, ...] = ()) -> dict[str, list]:
    """Return ``{group: [options]}`` for every folder under ``root`` holding ``*.yaml`` files
    (nested groups as ``model/net``), leaving out ``hydra``, ``local`` and ``skip``."""
    root = Path(root)
    groups = {}
    for folder in sorted(p for p in root.rglob("*") if p.is_dir()):
        name = folder.relative_to(root).as_posix()
        if name.split("/")[0] in ("hydra", "local", *skip):
            continue
        options = sorted(p.stem for p in folder.glob("*.yaml"))
        if options:
            groups[name] = options
    return groups


def format_groups(*skip: str) -> str:
    """Hydra's group listing (``group: a, b, c`` per line) without the groups in ``skip``."""
    return "\n".join(f"{g}: {', '.join(o)}" for g, o in config_groups(skip=skip).items())


def register_resolver() -> None:
    """Register ``${genlab_config_groups:<group to leave out>,...}`` once per process."""
    if not OmegaConf.has_resolver(RESOLVER):
        OmegaConf.register_new_resolver(RESOLVER, format_groups)
