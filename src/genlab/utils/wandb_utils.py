"""W&B helpers: decide online/offline without an account, and always finish runs."""

from __future__ import annotations

import netrc
import os
import socket
import sys
from pathlib import Path
from urllib.parse import urlparse

from pytorch_lightning.utilities import rank_zero_info

WANDB_HOST = "api.wandb.ai"
PROBE_TIMEOUT_S = 5.0


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


def wandb_server() -> tuple[str, int]:
    """(host, port) that W&B talks to: ``WANDB_BASE_URL``, else api.wandb.ai:443; through
    ``HTTPS_PROXY``/``HTTP_PROXY`` when one is set (then the proxy is what must be reachable)."""
    url = os.environ.get("WANDB_BASE_URL") or f"https://{WANDB_HOST}"
    scheme = urlparse(url).scheme
    proxy = os.environ.get(f"{scheme}_proxy".upper()) or os.environ.get(f"{scheme}_proxy")
    parsed = urlparse(proxy or url)
    return parsed.hostname or WANDB_HOST, parsed.port or (443 if parsed.scheme == "https" else 80)


def wandb_reachable(timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Return True when a TCP connection to the W&B server opens within ``timeout`` seconds."""
    host, port = wandb_server()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def fall_back_offline(offline: bool) -> bool:
    """Return ``offline``, or True (with a message) when W&B should be online but its server
    cannot be reached: a run with a key and no network logs offline instead of waiting for
    wandb's init timeout and dying."""
    mode = os.environ.get("WANDB_MODE", "").lower()
    if offline or mode in ("online", "offline", "dryrun", "disabled"):
        return offline  # explicit: online insists; offline/disabled never contact the server
    if wandb_reachable():
        return False
    host, port = wandb_server()
    rank_zero_info(
        f"W&B: cannot reach {host}:{port} within {PROBE_TIMEOUT_S:g} s; logging offline instead "
        "(set WANDB_MODE=online to insist on online logging)."
    )
    return True


def announce_offline(save_dir: str) -> None:
    """Print one line saying W&B is offline and how to upload the run later."""
    rank_zero_info(
        f"W&B: logging offline under {save_dir}/wandb. "
        f"Upload later with: wandb sync {save_dir}/wandb/offline-run-*"
    )


def finish_wandb(exit_code: int = 0) -> None:
    """Finish the active W&B run, if any (called in a ``finally`` at the end of every job);
    a non-zero ``exit_code`` marks the run failed. A process that never imported wandb has no
    run to finish, so wandb (~2-4 s to import) is not imported for it."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish(exit_code=exit_code)


# W&B run summaries per metric (define_metric): the best value, not the last one logged
SUMMARIES = {
    "val/fid": "min",
    "val/kid_mean": "min",
    "val/is_mean": "max",
    "val/elbo": "max",
    "val/bpd": "min",
    "test/nll_iw": "min",
    "test/bpd_iw": "min",
    "val/modes": "max",
    "val/kl_modes": "min",
}


def define_summaries(logger: object, summaries: dict[str, str] | None = None) -> None:
    """Declare each metric's W&B summary (``min``/``max``) on a WandbLogger's run, so the Runs
    table and group-by views compare best values; no-op on ranks other than 0."""
    run = logger.experiment  # type: ignore[attr-defined]  # a DummyExperiment off rank 0
    from wandb.sdk.wandb_run import Run  # lazy: wandb is slow to import

    if not isinstance(run, Run):  # Lightning's dummy experiment off rank 0
        return
    for key, summary in (summaries or SUMMARIES).items():
        run.define_metric(key, summary=summary)


def skip_offline_artifacts(offline: bool, log_model: object, checkpoint_dir: str) -> object:
    """Return the ``log_model`` to use: unchanged online; ``False`` offline (Lightning refuses
    checkpoint artifacts offline), with one line saying so and where the checkpoints are."""
    if offline and log_model:
        rank_zero_info(
            "W&B: offline, so checkpoints are not logged as W&B artifacts (log_model skipped); "
            f"they stay in {checkpoint_dir}. Log in (wandb login) to upload them as artifacts."
        )
        return False
    return log_model


def _stage_protocols(nested: dict | None) -> dict[str, dict]:
    """Invert :func:`merge_protocol`: {stage: full protocol} from the nested entry."""
    if not nested:
        return {}
    nested = dict(nested)
    by_stage = dict(nested.pop("by_stage", None) or {})
    return {stage: {**nested, **dict(extra)} for stage, extra in by_stage.items()}


def merge_protocol(nested: dict | None, stage: str, protocol: dict) -> dict:
    """Return ONE metrics-protocol entry for the W&B config holding every stage's protocol.

    Keys whose values agree across the stages seen so far sit at the top level once; the
    stages' differing keys (e.g. ``split``: train at val, test at test) sit under
    ``by_stage.<stage>``. So W&B shows ~35 protocol columns once instead of once per stage.
    ``nested``: the entry so far (None at first); ``stage``: ``val`` | ``test``;
    ``protocol``: that stage's full record (``genlab.metrics.protocol.protocol_record``).
    """
    stages = _stage_protocols(nested)
    stages[stage] = dict(protocol)
    keys = set().union(*(p.keys() for p in stages.values()))
    shared = {
        k: next(iter(stages.values()))[k]
        for k in sorted(keys)
        if all(k in p for p in stages.values())
        and all(p[k] == next(iter(stages.values()))[k] for p in stages.values())
    }
    by_stage = {s: {k: v for k, v in p.items() if k not in shared} for s, p in stages.items()}
    return {**shared, "by_stage": by_stage}


def stage_protocol(nested: dict, stage: str) -> dict:
    """Return one stage's full protocol record from the nested W&B entry (see merge_protocol)."""
    return _stage_protocols(nested)[stage]


# W&B's folders outside the run folder by default ($HOME/.local/share/wandb, ~/.cache/wandb):
# staged table/media files of offline runs live there, so a copied run folder would lose them
WANDB_DIR_VARS = {
    "WANDB_DATA_DIR": "data",  # artifact staging (offline tables wait here for wandb sync)
    "WANDB_CACHE_DIR": "cache",
    "WANDB_ARTIFACT_DIR": "artifacts",
}
_USER_SET = {name for name in WANDB_DIR_VARS if name in os.environ}  # at import: the user's


def keep_wandb_files_in(save_dir: str) -> dict[str, str]:
    """Point W&B's staging, cache and artifact folders at ``<save_dir>/wandb/<data|cache|
    artifacts>`` (set before ``wandb.init``), so everything an offline run needs to be
    ``wandb sync``-ed lies in its run folder; a variable the user set before genlab started
    is kept. Return the variables set."""
    set_now = {}
    for name, sub in WANDB_DIR_VARS.items():
        if name in _USER_SET:
            continue
        folder = Path(save_dir) / "wandb" / sub
        folder.mkdir(parents=True, exist_ok=True)
        os.environ[name] = set_now[name] = str(folder)
    return set_now


def drop_anonymous_setting(logger: object) -> None:
    """Remove the ``anonymous`` key Lightning's WandbLogger always passes to ``wandb.init``
    (wandb >= 0.19 warns "The anonymous setting has no effect" for it even when None)."""
    init = getattr(logger, "_wandb_init", None)
    if isinstance(init, dict) and init.get("anonymous") is None:
        init.pop("anonymous", None)
