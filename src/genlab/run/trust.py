"""What genlab-eval may build from a run folder's YAML: an allow-list of ``_target_``s.

A run folder is data someone may have sent you. Its ``.hydra/resolved_config.yaml`` names
``_target_`` callables, and Hydra would call any of them: ``torch.load(weights_only=False)`` on
``io.BytesIO(base64.b64decode(...))`` runs a pickle, so a YAML file alone could run code.
genlab-eval therefore checks EVERY ``_target_`` of the config subtrees it instantiates before
instantiating anything, and refuses any target outside the allow-list by name, unless the
user passes ``trust_run_config=true``.

A target is allowed when (1) its dotted name starts with an allowed module prefix, and (2) the
object it resolves to is defined in an allowed module (``obj.__module__``), so
``genlab.nets.conv.torch.load`` (an attribute walk from an allowed module to ``torch.load``)
is refused. Allowed: genlab's component packages (models, nets, objectives, data, metrics,
callbacks, bench.schedules; not the launchers, the run pipeline or the file I/O helpers),
``torch.nn`` and ``torch.optim`` classes, ``torchvision.transforms`` and the PyTorch Lightning
loggers and callbacks genlab's configs use. See docs/reliability.md (trust model).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

#: modules whose definitions may be instantiated from an untrusted run config
ALLOWED_MODULES: tuple[str, ...] = (
    "genlab.models",
    "genlab.nets",
    "genlab.objectives",
    "genlab.data",
    "genlab.metrics",
    "genlab.callbacks",
    "genlab.bench.schedules",
    "torch.nn.modules",
    "torch.optim",
    "torchvision.transforms",
    "pytorch_lightning.loggers",
    "pytorch_lightning.callbacks",
    "lightning_fabric.loggers",
)
#: dotted-name prefixes accepted before resolution (torch.nn.X resolves to torch.nn.modules.*)
ALLOWED_PREFIXES: tuple[str, ...] = (*ALLOWED_MODULES, "torch.nn")
TRUST_KEY = "trust_run_config"


class UntrustedTargetError(PermissionError):
    """A run config names a ``_target_`` outside genlab-eval's allow-list."""


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def iter_targets(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Yield (dotted config key, ``_target_`` value) for every ``_target_`` under ``node``
    (a plain container, already resolved), lists included."""
    if isinstance(node, dict):
        for key, value in node.items():
            child = f"{path}.{key}" if path else str(key)
            if key == "_target_":
                yield child, value
            else:
                yield from iter_targets(value, child)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from iter_targets(value, f"{path}[{i}]")


def target_problem(target: Any) -> str | None:
    """Return why ``target`` (a ``_target_`` value) is not allowed, or None when it is."""
    if not isinstance(target, str):
        return f"_target_ is {type(target).__name__} {target!r}, not a dotted name"
    if not _under(target, ALLOWED_PREFIXES):
        return "its module is not on the allow-list"
    from hydra._internal.utils import _locate  # imports only allow-listed modules (prefix above)

    try:
        obj = _locate(target)
    except Exception as err:  # noqa: BLE001 - any failure to resolve is a refusal
        return f"it does not resolve ({type(err).__name__}: {err})"
    module = getattr(obj, "__module__", None) or ""
    if not _under(module, ALLOWED_MODULES):
        return f"it resolves to {module or '?'}.{getattr(obj, '__qualname__', obj)!s}"
    if not callable(obj):
        return "it is not callable"
    return None


def check_run_config_targets(
    cfg: DictConfig, keys: tuple[str, ...], source: str, trusted: bool = False
) -> list[str]:
    """Check every ``_target_`` under ``cfg[key]`` for each of ``keys`` (resolved first, so
    interpolated targets are seen); raise :class:`UntrustedTargetError` naming each refused
    key and target and the trust flag. Return the checked targets. ``trusted=True`` skips
    the check (the user vouches for ``source``)."""
    if trusted:
        return []
    checked, refused = [], []
    for key in keys:
        node = OmegaConf.select(cfg, key)
        if node is None:
            continue
        plain = (
            OmegaConf.to_container(node, resolve=True)
            if isinstance(node, (DictConfig, ListConfig))
            else node
        )
        for where, target in iter_targets(plain, key):
            why = target_problem(target)
            checked.append(str(target))
            if why is not None:
                refused.append(f"{where}={target!r} ({why})")
    if refused:
        raise UntrustedTargetError(
            f"refusing to build from {source}: " + "; ".join(refused) + ". genlab-eval only "
            f"instantiates targets defined in {', '.join(ALLOWED_MODULES)}, because a run "
            "folder's YAML could otherwise run any code. If you trust where this run folder "
            f"came from, pass {TRUST_KEY}=true."
        )
    return checked
