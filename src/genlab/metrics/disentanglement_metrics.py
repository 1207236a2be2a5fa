"""MIG and DCI as registered context metrics: logged as ``val/mig``, ``val/dci_disentanglement``,
``val/dci_completeness``, ``val/dci_informativeness`` (and ``test/...`` at test).

Both encode the evaluation split's real images with the model's ``encode`` (a VAE's posterior
mean, flattened to (N, D)) and compare the codes with the datamodule's ground-truth factor
classes ``real_factors(split, num)`` (``data=dsprites``). MIG: Chen et al. 2018, the discretized
estimator of ``genlab.metrics.disentanglement``; DCI: Eastwood & Williams 2018,
``genlab.metrics.dci``. Settings (``metrics.options``, recorded in the protocol):

    disentanglement_num_images  images encoded (default 10000, capped at the split's size)
    mig_num_bins                equal-width bins per code dimension (default 20)
    dci_classifier              random_forest (default) | gbt
    dci_num_trees               trees per classifier (default 50)
    dci_train_fraction          share of the codes that trains the classifiers (default 0.8)

Under DDP every rank encodes the same images with the same weights and logs the same value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from genlab.metrics.context import MetricContext
from genlab.metrics.dci import CLASSIFIERS, dci
from genlab.metrics.disentanglement import mutual_info_gap
from genlab.metrics.registry import register_metric
from genlab.utils.eval_mode import eval_mode
from genlab.utils.ranges import Num, RangeError

DEFAULTS = {
    "disentanglement_num_images": 10000,
    "mig_num_bins": 20,
    "dci_classifier": "random_forest",
    "dci_num_trees": 50,
    "dci_train_fraction": 0.8,
}
RANGES = {
    "disentanglement_num_images": Num(integer=True, low=10),
    "mig_num_bins": Num(integer=True, low=2),
    "dci_num_trees": Num(integer=True, low=1),
    "dci_train_fraction": Num(low=0, high=1, low_open=True, high_open=True),
}
ENCODE_BATCH = 256  #: images per encoder call


def settings(context: MetricContext) -> dict[str, Any]:
    """The disentanglement settings of ``metrics.options`` (defaults filled in), checked."""
    out = {k: context.options.get(k, v) for k, v in DEFAULTS.items()}
    for key, spec in RANGES.items():
        why = spec.problem(out[key])
        if why is not None:
            raise RangeError(
                f"metrics.options.{key}={out[key]!r} is invalid ({why}): expected "
                f"{spec.describe()}."
            )
    if out["dci_classifier"] not in CLASSIFIERS:
        raise ValueError(
            f"metrics.options.dci_classifier={out['dci_classifier']!r}; use one of "
            f"{'|'.join(CLASSIFIERS)}"
        )
    return out


def check_context(context: MetricContext) -> None:
    """Refuse, before training, a model that does not encode or data without factors."""
    model, data = context.model, context.datamodule
    if not getattr(model, "can_encode", False):
        raise ValueError(
            f"metrics.metrics holds mig/dci, which encode data, but {type(model).__name__} does "
            "not encode (can_encode=False); use a model that encodes (model=vae|beta_vae|"
            "beta_tc_vae|...) or remove mig and dci from metrics.metrics."
        )
    if not callable(getattr(data, "real_factors", None)):
        name = getattr(data, "name", type(data).__name__)
        raise ValueError(
            f"metrics.metrics holds mig/dci, which need ground-truth factors "
            f"(datamodule.real_factors), but data={name} has none; use data=dsprites or remove "
            "mig and dci from metrics.metrics."
        )
    latent = int(np.prod(model.latent_shape))
    if latent < 2:
        raise ValueError(
            f"MIG needs >= 2 latent dimensions; model.latent_shape={model.latent_shape}"
        )
    settings(context)


def codes_and_factors(context: MetricContext) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (codes float64 (N, D), factor classes int64 (N, K)) of the context's split,
    encoded once per evaluation (``context.cache``)."""
    if "codes" in context.cache:
        return context.cache["codes"], context.cache["factors"]
    check_context(context)
    data, model = context.datamodule, context.model
    num = settings(context)["disentanglement_num_images"]
    num = min(num, len(data.dataset(context.split)))
    images = data.real_images(context.split, num)
    factors = data.real_factors(context.split, num).long()
    codes = []
    with eval_mode(model):
        for batch in images.split(ENCODE_BATCH):
            codes.append(model.encode(batch.to(model.device)).flatten(1).double().cpu())
    context.cache["codes"], context.cache["factors"] = torch.cat(codes), factors
    return context.cache["codes"], factors


@register_metric("mig", keys=("mig",), needs=("context",), check=check_context)
def _mig(context: MetricContext, state: dict) -> dict[str, float]:
    codes, factors = codes_and_factors(context)
    return {"mig": mutual_info_gap(codes, factors, settings(context)["mig_num_bins"])}


@register_metric(
    "dci",
    keys=("dci_disentanglement", "dci_completeness", "dci_informativeness"),
    needs=("context",),
    check=check_context,
)
def _dci(context: MetricContext, state: dict) -> dict[str, float]:
    codes, factors = codes_and_factors(context)
    s = settings(context)
    out = dci(
        codes.numpy(),
        factors.numpy(),
        train_fraction=s["dci_train_fraction"],
        kind=s["dci_classifier"],
        num_trees=s["dci_num_trees"],
        seed=context.seed,
    )
    return {f"dci_{k}": v for k, v in out.items()}
