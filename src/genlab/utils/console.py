"""A console a user can act on: no library tips or warnings that say nothing about the run,
and the resolved config printed once as a tree (as lightning-hydra-template does).

Leaf helper: imports nothing of genlab. ``quiet_console()`` is called by genlab-train and
genlab-eval before Lightning prints anything.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

from omegaconf import DictConfig, OmegaConf

# Lines of other libraries that carry no information about a genlab run (issue 20, item 9)
NOISE_PREFIXES = ("💡 Tip:",)  # Lightning's litlogger / litmodels advertisements
NOISE_WARNINGS = (
    r".*isinstance\(treespec, LeafSpec\)",  # torch's pytree deprecation, inside Lightning
    r".*LeafSpec.*deprecated",
)
NOISE_LOGGERS = ("pytorch_lightning.utilities.rank_zero", "lightning_fabric.utilities.rank_zero")
# the config groups printed first in the tree; the rest follow in config order
TREE_ORDER = ("data", "model", "callbacks", "metrics", "logger", "trainer", "paths")


class _DropNoise(logging.Filter):
    """Logging filter: drop records whose message starts with one of ``NOISE_PREFIXES``."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(NOISE_PREFIXES)


_FILTER = _DropNoise()


def quiet_console() -> None:
    """Drop Lightning's product tips and torch's LeafSpec deprecation warning (idempotent)."""
    for name in NOISE_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    for pattern in NOISE_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)


def config_tree(cfg: DictConfig, order: Sequence[str] = TREE_ORDER):
    """Return a ``rich.tree.Tree`` of the resolved config: one branch per top-level key
    (``order`` first), each branch the key's YAML (``hydra`` is left out)."""
    from rich.syntax import Syntax
    from rich.tree import Tree

    tree = Tree("config", style="dim", guide_style="dim")
    keys = [k for k in order if k in cfg] + [k for k in cfg if k not in order and k != "hydra"]
    for key in keys:
        value = cfg[key]
        branch = tree.add(str(key), style="bold", guide_style="dim")
        if isinstance(value, DictConfig):
            text = OmegaConf.to_yaml(value, resolve=True)
        else:
            text = str(OmegaConf.to_container(OmegaConf.create({key: value}), resolve=True)[key])
        branch.add(Syntax(text.rstrip() or "{}", "yaml", theme="ansi_dark", word_wrap=True))
    return tree


def print_config_tree(cfg: DictConfig) -> None:
    """Print :func:`config_tree` of ``cfg`` to the console (rich)."""
    from rich import get_console

    get_console().print(config_tree(cfg))
