"""``model.compile``: compile a model's networks (not the LightningModule) with torch.compile.

Each net is compiled in place with ``nn.Module.compile``: its parameters, state-dict keys and
checkpoints are those of the plain net, so compiled and plain runs resume from each other's
checkpoints. The LightningModule (losses, logging, manual optimization) stays eager.
"""

from __future__ import annotations

import logging

from torch import nn

log = logging.getLogger(__name__)

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def compile_options(value: bool | str) -> dict | None:
    """Return torch.compile keyword arguments for ``model.compile`` (None = off).

    ``false``: off; ``true``: torch.compile's defaults (inductor); a mode name: that mode.
    """
    if value is False or value is None:
        return None
    if value is True:
        return {}
    if isinstance(value, str) and value in COMPILE_MODES:
        return {"mode": value}
    raise ValueError(
        f"model.compile={value!r} is not allowed; use false, true or a torch.compile mode "
        f"({'|'.join(COMPILE_MODES)})."
    )


def compile_nets(value: bool | str, **nets: nn.Module | None) -> list[str]:
    """Compile each given net in place when ``value`` (``model.compile``) asks for it.

    Returns the names of the nets compiled (empty when compilation is off).
    """
    options = compile_options(value)
    if options is None:
        return []
    done = []
    for name, net in nets.items():
        if net is not None:
            net.compile(**options)
            done.append(name)
    log.info(f"model.compile={value}: compiled {', '.join(done)} with torch.compile({options})")
    return done
