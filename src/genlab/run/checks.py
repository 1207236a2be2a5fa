"""Checks that fail before training starts, naming the config keys to change."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from genlab.nets.sizes import SUPPORTED_IMAGE_SIZES

if TYPE_CHECKING:  # annotations only: adapt_data_to_model runs before Lightning is imported
    import pytorch_lightning as pl

log = logging.getLogger(__name__)


def check_model_data(model: pl.LightningModule, datamodule: pl.LightningDataModule) -> None:
    """Raise ValueError when the model's networks were built for another input shape, or a
    conditional model meets data without classes.

    Both sides declare their shape: ``model.data_shape`` (the contract, from the nets) and
    ``datamodule.data_shape`` ((C, H, W) for images, (2,) for 2D toy data).
    """
    from genlab.contract import require_generative  # torch: after adapt_image_size

    model = require_generative(model, "genlab-train")
    expected, given = model.data_shape, datamodule.data_shape
    data_classes = int(getattr(datamodule, "num_classes", 0) or 0)
    if model.conditional and model.num_classes != data_classes:
        raise ValueError(
            f"model.num_classes={model.num_classes} but data={datamodule.name} has "
            f"{data_classes} classes; set model.num_classes=${{data.num_classes}} (or 0 for an "
            "unconditional model)."
        )
    if tuple(expected) != tuple(given):
        name = getattr(datamodule, "name", type(datamodule).__name__)
        raise ValueError(
            f"Shape mismatch: the model's networks expect inputs of shape {_fmt(expected)} "
            f"but data={name} gives {_fmt(given)}. Make them agree: set data.image_size / "
            f"data.channels, or the network's image_size/channels (model.encoder.*, "
            f"model.decoder.*, model.generator.*, model.discriminator.*), which default to "
            f"${{data.image_size}} and ${{data.channels}}."
        )


def _fmt(shape: tuple[int, ...]) -> str:
    if len(shape) == 3:
        c, h, w = shape
        return f"{c}x{h}x{w} (channels x {h}x{w} pixels)"
    return "x".join(str(s) for s in shape)


def adapt_data_to_model(cfg: DictConfig) -> None:
    """Serve the data the model class declares it needs, before anything is built.

    A family declares ``data_binarize`` (``GenerativeModel``): GANs say ``"none"`` (they learn
    grey values, and FID compares with grey images). When the config's ``data.binarize`` differs
    only by default, it is switched (and logged), so experiments need not repeat it; when the
    user set it on the command line, a ValueError names the conflict before any compute.
    ``data.image_size`` is adapted the same way to the nets' ``supported_image_sizes``
    (:func:`adapt_image_size`), and a defaulted ``metrics.metrics`` to the data's declared
    ``default_metrics`` (``genlab.run.data_metrics``).
    """
    from genlab.contract import GenerativeModel
    from genlab.run.data_metrics import adapt_metrics_to_data

    adapt_image_size(cfg)
    adapt_metrics_to_data(cfg, _task_overrides())  # data=dsprites: metrics=[mig, dci]
    if "binarize" not in cfg.get("data", {}) or "_target_" not in cfg.get("model", {}):
        return
    cls = hydra.utils.get_class(cfg.model._target_)
    need = cls.data_binarize if issubclass(cls, GenerativeModel) else None
    if need is None or cfg.data.binarize == need:
        return
    if any(o.lstrip("+").startswith("data.binarize=") for o in _task_overrides()):
        raise ValueError(
            f"{cls.__name__} trains on data.binarize={need} (its data_binarize), but the command "
            f"line sets data.binarize={cfg.data.binarize}; drop that override."
        )
    log.info(f"data.binarize: {cfg.data.binarize} -> {need} ({cls.__name__} declares it)")
    with open_dict(cfg):
        cfg.data.binarize = need


def _declared_sizes(node: object) -> list[tuple[int, ...]]:
    """The ``supported_image_sizes`` of the nets under ``node`` (the model config): each
    ``_target_`` node that takes an ``image_size``, depth first. genlab's nets are looked up in
    ``genlab.nets.sizes`` (no import); other classes are imported for their attribute."""
    found: list[tuple[int, ...]] = []
    if isinstance(node, DictConfig):
        if "_target_" in node and "image_size" in node:
            target = node._target_
            if target in SUPPORTED_IMAGE_SIZES:
                sizes = SUPPORTED_IMAGE_SIZES[target]
            else:
                sizes = getattr(hydra.utils.get_class(target), "supported_image_sizes", None)
            if sizes:
                found.append(tuple(sizes))
        for key in node:
            found += _declared_sizes(node._get_node(key))
    return found


def adapt_image_size(cfg: DictConfig) -> None:
    """Switch a *defaulted* ``data.image_size`` to one every net of the model supports.

    Nets built for a fixed set of sizes declare it as the class attribute
    ``supported_image_sizes`` (e.g. SNGAN's ResNets: 16, 32, 64). When ``data.image_size`` is
    not among them and the command line did not set it, it becomes the smallest supported
    size >= it (else the largest), logged once (``model=sngan`` on the 28-pixel default data
    trains at 32); when the command line set it, a ValueError names the sizes, before any
    data or net is built, and before torch is imported (genlab's nets: ``genlab.nets.sizes``).
    """
    data, model = cfg.get("data"), cfg.get("model")
    if not isinstance(data, DictConfig) or "image_size" not in data or model is None:
        return
    sizes: set[int] | None = None
    for declared in _declared_sizes(model):
        sizes = set(declared) if sizes is None else sizes & set(declared)
    size = data.image_size
    if sizes is None or size in sizes:
        return
    if not sizes:
        raise ValueError("the model's nets share no supported image size; check model.*")
    ordered = sorted(sizes)
    if any(o.lstrip("+").startswith("data.image_size=") for o in _task_overrides()):
        raise ValueError(
            f"data.image_size={size} is not supported by the model's nets, which take "
            f"{ordered} pixels; set data.image_size to one of them (or drop the override: "
            f"genlab-train then picks {_pick(size, ordered)})."
        )
    new = _pick(size, ordered)
    log.info(f"data.image_size: {size} -> {new} (the model's nets support {ordered})")
    with open_dict(cfg):
        cfg.data.image_size = new


def _pick(size: int, ordered: list[int]) -> int:
    """The smallest supported size >= ``size``, else the largest."""
    return next((s for s in ordered if s >= size), ordered[-1])


def _task_overrides() -> list[str]:
    """The command-line overrides of the running Hydra job ([] outside Hydra's runtime)."""
    if not HydraConfig.initialized():
        return []
    return list(HydraConfig.get().overrides.task)
