"""Config checks that run right after Hydra composes, before torch/Lightning are imported.

Each error names the config key, the value given and the fix, within about a second of the
launch (measured by benchmarks/config_error_latency.py). Only plain Python and OmegaConf here.
"""

from __future__ import annotations

import difflib
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import InterpolationKeyError, InterpolationResolutionError

from genlab.utils.config_dir import CONFIG_DIR

log = logging.getLogger(__name__)

CONFIG_ROOT = Path(CONFIG_DIR)
TRAINER_INTS = {  # key: smallest allowed value
    "max_epochs": -1,
    "min_epochs": 0,
    "max_steps": -1,
    "check_val_every_n_epoch": 1,
    "log_every_n_steps": 1,
    "num_sanity_val_steps": -1,
    "accumulate_grad_batches": 1,
}
TRAINER_FRACTIONS = ("limit_train_batches", "limit_val_batches", "limit_test_batches")
#: GAN flags replaced by configured terms (docs/gan.md): old key -> what to write instead
REMOVED_GAN_FLAGS = {
    "gp_weight": "+model/d_terms=gp model.d_terms.gp.weight={v} (model=wgan_gp has it)",
    "r1_gamma": "+model/d_terms=r1 model.d_terms.r1.gamma={v} (lazy: model.d_terms.r1.every=16)",
    "lecam_weight": "+model/d_terms=lecam model.d_terms.lecam.weight={v}",
    "lecam_decay": "+model/d_terms=lecam model.d_terms.lecam.decay={v}",
    "acgan_weight": "model=acgan, or '+model/d_terms=acgan' '+model/g_terms=acgan' with "
    "model.d_terms.acgan.weight={v} model.g_terms.acgan.weight={v}",
    "diffaugment": "model/augment=diffaugment 'model.augment.policy={v}'",
}


class ConfigValueError(ValueError):
    """A config value that cannot work; the message names the key and the fix."""


def validate_train_config(cfg: DictConfig) -> None:
    """Check a composed genlab-train config; raise ConfigValueError on the first bad value."""
    warn_unknown_appended_keys()
    check_removed_gan_flags(cfg.get("model"))
    check_model_fits_data(cfg)
    check_trainer(cfg.get("trainer"))
    check_model_values(cfg.get("model"))
    _check_number(cfg, "data.batch_size", integer=True, low=1)
    _check_number(cfg, "seed", integer=True)
    _check_number(cfg, "torch_threads", integer=True, low=1)
    if cfg.get("ckpt_path"):
        check_file_exists(cfg.ckpt_path, "ckpt_path", "<run>/checkpoints/last.ckpt")
    check_wandb_mode(cfg)
    if cfg.get("train", True):
        check_checkpoint_dir(cfg)


WANDB_MODES = ("online", "offline", "disabled", "dryrun", "run", "shared")  # what wandb accepts


def check_wandb_mode(cfg: DictConfig) -> None:
    """Raise ConfigValueError when a W&B logger is configured and ``$WANDB_MODE`` is set to a
    value W&B does not know (W&B would ignore ``WANDB_MODE=foo`` silently)."""
    import os

    mode = os.environ.get("WANDB_MODE")
    logger = cfg.get("logger")
    if mode is None or not isinstance(logger, DictConfig) or "wandb" not in logger:
        return
    if mode.strip().lower() not in WANDB_MODES:
        raise ConfigValueError(
            f"WANDB_MODE={mode!r} is not a W&B mode; use one of {', '.join(WANDB_MODES[:3])} "
            "(e.g. WANDB_MODE=offline), unset it, or log without W&B (logger=csv)."
        )


def check_checkpoint_dir(cfg: DictConfig) -> None:
    """Raise PermissionError naming ``callbacks.model_checkpoint.dirpath`` before training when
    no file can be created there (a read-only folder would fail only after the first epoch)."""
    key = "callbacks.model_checkpoint.dirpath"
    try:
        dirpath = OmegaConf.select(cfg, key, default=None)
    except (InterpolationKeyError, InterpolationResolutionError, ValueError):
        return  # outside Hydra's runtime (${hydra:...} unresolvable): nothing to check yet
    if dirpath:
        check_writable_dir(Path(str(dirpath)), key)


def check_removed_gan_flags(model: DictConfig | None) -> None:
    """Raise ConfigValueError for a GAN flag of before the configured terms (``model.gp_weight``,
    ``model.r1_gamma``, ``model.lecam_weight``, ``model.lecam_decay``, ``model.acgan_weight``,
    ``model.diffaugment``), naming the term key and the command that replaces it."""
    if model is None:
        return
    for key, new in REMOVED_GAN_FLAGS.items():
        if key in model:
            value = OmegaConf.to_container(model, resolve=False).get(key)
            value = ",".join(value) if isinstance(value, list) else value
            shown = f"[{value}]" if key == "diffaugment" else value
            raise ConfigValueError(
                f"model.{key}={value!r} no longer exists: GAN losses, penalties and augmentations "
                f"are configured terms (model.d_terms, model.g_terms, model.augment; "
                f"docs/gan.md). Write instead: {new.format(v=shown)}"
            )


def check_model_fits_data(cfg: DictConfig) -> None:
    """Raise when the model reads a ``data.*`` key the chosen data config lacks (e.g. an image
    model reading ``data.image_size`` from 2D toy data), naming both choices and the fix."""
    if cfg.get("model") is None:
        return
    try:
        OmegaConf.to_container(cfg.model, resolve=True)
    except (InterpolationKeyError, InterpolationResolutionError) as err:
        text = str(err)
        if "data." not in text:
            raise
        choices = _choices()
        model, data = choices.get("model", "this model"), choices.get("data", "this data")
        key = text.split("'")[1] if "'" in text else "a data.* key"
        image = sorted(
            p.stem for p in (CONFIG_ROOT / "data").glob("*.yaml") if _has(p, "image_size:")
        )
        points = sorted(
            p.stem for p in (CONFIG_ROOT / "data").glob("*.yaml") if p.stem not in image
        )
        flat = sorted(
            p.stem for p in (CONFIG_ROOT / "model").glob("*.yaml") if _has(p, "gan_nets: mlp2d")
        )
        raise ConfigValueError(
            f"model={model} does not fit data={data}: the model reads {key}, which data={data} "
            f"does not define. Image models need image data (data={'|'.join(image)}); 2D point "
            f"data (data={'|'.join(points)}) needs a model for points "
            f"(model={'|'.join(flat)}, or model/gan_nets=mlp2d)."
        ) from None


def check_trainer(trainer: DictConfig | None) -> None:
    """Check the integer and fraction keys of ``trainer`` that Lightning would reject in fit."""
    if trainer is None:
        return
    for key, low in TRAINER_INTS.items():
        if key in trainer:
            _check_number(trainer, key, integer=True, low=low, prefix="trainer.")
    for key in ("max_epochs", "max_steps"):  # 0 trains nothing and exits 0: refuse it
        if trainer.get(key) == 0 and not isinstance(trainer.get(key), bool):
            raise ConfigValueError(
                f"trainer.{key}=0 trains nothing: use an integer >= 1, or -1 for no limit "
                f"(e.g. trainer.{key}={10 if key == 'max_epochs' else 1000})."
            )
    for key in TRAINER_FRACTIONS:
        if key in trainer:
            _check_number(trainer, key, low=0, prefix="trainer.")
    if trainer.get("gradient_clip_val") is not None:
        _check_number(trainer, "gradient_clip_val", low=0, prefix="trainer.")


def check_model_values(model: DictConfig | None) -> None:
    """Learning rates >= 0, ``beta`` >= 0 and ``latent_dim`` >= 1 wherever they appear in model."""
    if model is None:
        return
    rules = {
        "lr": dict(low=0),
        "beta": dict(low=0),
        "latent_dim": dict(integer=True, low=1),
    }
    for path, node, key in _walk(model, "model."):
        if key in rules and not node._get_node(key)._is_interpolation():  # check the source
            _check_number(node, key, prefix=path, **rules[key])
        if key == "betas" and not node._get_node(key)._is_interpolation():
            check_betas(node.get(key), f"{path}{key}")


def check_betas(betas: object, key: str) -> None:
    """Adam/AdamW ``betas``: two numbers, each in [0, 1) (torch fails late, or not at all)."""
    ok = isinstance(betas, (list, tuple, ListConfig)) and len(betas) == 2
    ok = ok and all(
        isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1 for b in betas
    )
    if not ok:
        shown = list(betas) if isinstance(betas, ListConfig) else betas
        raise ConfigValueError(
            f"{key}={shown!r} is not valid: it must be two numbers in [0, 1), e.g. "
            f"{key}=[0.5,0.999] (DCGAN) or [0.9,0.999] (Adam's default)."
        )


def check_file_exists(value: str, key: str, example: str, what: str = "checkpoint") -> None:
    """Raise FileNotFoundError naming ``key`` when the file ``value`` does not exist."""
    from hydra.utils import to_absolute_path

    path = Path(to_absolute_path(str(value)))
    if not path.is_file():
        raise FileNotFoundError(
            f"{what} not found: {key}={value} ({path}). Pass {key}={example} (relative to where "
            "you launch, or absolute)."
        )


def check_writable_dir(folder: Path, key: str) -> None:
    """Raise PermissionError naming ``key`` unless a file can be created in ``folder`` (or, if it
    does not exist yet, in its nearest existing parent): tried by creating a temporary file."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as err:
        raise PermissionError(
            f"cannot write to {folder} ({type(err).__name__}: {err.strerror}); the results would "
            f"be lost after computing them. Set {key}=<a path in a writable folder>."
        ) from None


def warn_unknown_appended_keys() -> list[str]:
    """Warn about ``+key=value`` overrides whose top-level key genlab never reads (a typo such as
    ``+trainr.max_epochs=1``), naming the nearest known key; return the warnings."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    hc = HydraConfig.get()
    primary_file = CONFIG_ROOT / f"{hc.job.config_name}.yaml"
    primary = OmegaConf.load(primary_file) if primary_file.is_file() else {}
    known = {k for k in primary if k != "defaults"} | {c.split("/")[0] for c in hc.runtime.choices}
    known.add("resume_sweep")  # +resume_sweep=<sweep dir> (genlab.launch.resume_sweep)
    warnings = []
    for override in hc.overrides.task:
        if not override.startswith("+"):
            continue
        top = override.lstrip("+").split("=")[0].split(".")[0]
        if top in known or top == "hydra":
            continue
        near = difflib.get_close_matches(top, sorted(known), n=1)
        fixed = near[0] + override.lstrip("+")[len(top) :] if near else ""
        hint = f"did you mean {near[0]!r} ({fixed})?" if near else "remove it"
        warnings.append(
            f"'{override}' adds top-level key {top!r}, which genlab never reads; {hint}"
        )
        log.warning(warnings[-1])
    return warnings


def _choices() -> dict[str, str]:
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return {}
    return {k: str(v) for k, v in HydraConfig.get().runtime.choices.items()}


def _has(path: Path, text: str) -> bool:
    return text in path.read_text()


def _walk(node: DictConfig, prefix: str) -> Iterator[tuple[str, DictConfig, str]]:
    """Yield (dotted prefix, parent node, key) for every key under ``node`` (no resolution)."""
    for key in node:
        yield prefix, node, str(key)
        child = node._get_node(key)
        if isinstance(child, DictConfig) and not child._is_missing() and not child._is_none():
            yield from _walk(child, f"{prefix}{key}.")
        elif isinstance(child, ListConfig):
            continue


def _check_number(
    node: DictConfig,
    key: str,
    *,
    integer: bool = False,
    low: float | None = None,
    low_open: bool = False,
    prefix: str = "",
) -> None:
    """Raise ConfigValueError unless ``node[key]`` (dotted keys allowed) is a number in range."""
    value = OmegaConf.select(node, key)
    if value is None:
        return
    kind = "an integer" if integer else "a number"
    ok = isinstance(value, int if integer else (int, float)) and not isinstance(value, bool)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if not ok:
        bound = "" if low is None else f" {'>' if low_open else '>='} {low:g}"
        raise ConfigValueError(
            f"{prefix}{key}={value!r} is not valid: it must be {kind}{bound}. "
            f"Set it on the command line, e.g. {prefix}{key}={_example(key, integer, low)}."
        )


def _example(key: str, integer: bool, low: float | None) -> str:
    examples = {"lr": "1e-4", "max_epochs": "10", "beta": "1.0", "latent_dim": "16"}
    return examples.get(key, str(max(int(low or 0), 1)) if integer else "1.0")
