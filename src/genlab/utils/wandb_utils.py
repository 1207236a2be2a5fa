"""W&B helpers: decide online/offline without an account, and always finish runs."""

from __future__ import annotations

import netrc
import os
from pathlib import Path

from pytorch_lightning.utilities import rank_zero_info

WANDB_HOST = "api.wandb.ai"


def has_wandb_login() -> bool:
    """Return True when an API key is available (WANDB_API_KEY or a ~/.netrc entry)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    path = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    try:
        return path.is_file() and netrc.netrc(str(path)).authenticators(WANDB_HOST) is not None
    except (netrc.NetrcParseError, OSError):
        return False


def resolve_offline(offline: bool | None) -> bool:
    """Return whether W&B should log offline.

    An explicit ``logger.wandb.offline`` wins; else ``WANDB_MODE`` (offline/disabled/online);
    else offline when no login exists, so no account is ever needed to run genlab.
    """
    if offline is not None:
        return bool(offline)
    mode = os.environ.get("WANDB_MODE", "").lower()
    if mode in ("offline", "dryrun", "disabled"):
        return True
    if mode == "online":
        return False
    return not has_wandb_login()


def announce_offline(save_dir: str) -> None:
    """Print one line saying W&B is offline and how to upload the run later."""
    rank_zero_info(
        f"W&B: no login found, logging offline under {save_dir}/wandb. "
        f"Upload later with: wandb sync {save_dir}/wandb/offline-run-*"
    )


def finish_wandb(exit_code: int = 0) -> None:
    """Finish the active W&B run, if any (called in a ``finally`` at the end of every job);
    a non-zero ``exit_code`` marks the run failed."""
    try:
        import wandb
    except ImportError:  # pragma: no cover - wandb is a dependency
        return
    if wandb.run is not None:
        wandb.finish(exit_code=exit_code)
