"""Conditional sample metrics: does a class-conditional generator make the class it was asked
for, and how good is each class?

* :func:`class_accuracy`: the fraction of generated images that the extractor's classifier
  (on ``data=digits`` genlab's shipped digits CNN) assigns to the requested label, overall and
  per requested class. Only meaningful when the extractor's classes are the data's classes.
* :func:`per_class_fid`: FID between the real and generated features of each class, for the
  classes with at least ``min_samples`` images on both sides (a Fréchet distance of D-dim
  features needs N > D samples for a full-rank covariance; fewer give a biased, noisy value).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from genlab.metrics.functional import fid_from_features
from genlab.metrics.registry import register_metric

#: the label metrics ``metrics.conditional=true`` adds for class-conditional models
CONDITIONAL_METRICS = ("class_acc", "fid_class_mean")


def class_accuracy(logits: Tensor, labels: Tensor, num_classes: int) -> dict[str, object]:
    """Accuracy of ``argmax(logits)`` (N, K) against the requested ``labels`` (N,).

    Returns ``{"acc": float in [0, 1], "acc_per_class": list of K floats (nan for a class
    with no samples), "count_per_class": list of K ints}``.
    """
    if logits.shape[0] != labels.shape[0]:
        raise ValueError(f"{logits.shape[0]} logits for {labels.shape[0]} labels")
    labels = labels.long().to(logits.device)
    correct = (logits.argmax(dim=1) == labels).float()
    counts = torch.bincount(labels, minlength=num_classes)
    hits = torch.bincount(labels, weights=correct, minlength=num_classes)
    per_class = [
        float(h / c) if c > 0 else math.nan
        for h, c in zip(hits.tolist(), counts.tolist(), strict=True)
    ]
    return {
        "acc": float(correct.mean()) if len(correct) else math.nan,
        "acc_per_class": per_class,
        "count_per_class": [int(c) for c in counts.tolist()],
    }


def per_class_fid(
    real_features: Tensor,
    real_labels: Tensor,
    fake_features: Tensor,
    fake_labels: Tensor,
    num_classes: int,
    min_samples: int,
) -> dict[str, object]:
    """FID per class between real and fake features (N, D) grouped by their labels (N,).

    Classes with fewer than ``min_samples`` real or fake samples get ``nan``. Returns
    ``{"fid_per_class": list of K floats, "fid_class_mean": mean over the computed classes
    (nan if none), "fid_classes_computed": int}``.
    """
    out: list[float] = []
    for k in range(num_classes):
        real_k = real_features[real_labels.to(real_features.device) == k]
        fake_k = fake_features[fake_labels.to(fake_features.device) == k]
        if min(len(real_k), len(fake_k)) < max(min_samples, 2):
            out.append(math.nan)
        else:
            out.append(fid_from_features(real_k, fake_k))
    done = [v for v in out if not math.isnan(v)]
    return {
        "fid_per_class": out,
        "fid_class_mean": sum(done) / len(done) if done else math.nan,
        "fid_classes_computed": len(done),
    }


def real_labels(datamodule: object, split: str, num: int) -> Tensor:
    """Labels (num,) of the first ``num`` images of ``split``, in ``real_images``' order."""
    getter = getattr(datamodule, "real_labels", None)
    if callable(getter):
        return getter(split, num)
    dataset = datamodule.dataset(split)  # type: ignore[attr-defined]
    labels = getattr(dataset, "labels", None)
    if labels is None:
        raise TypeError(
            f"{type(datamodule).__name__} exposes no labels for split {split!r}; per-class "
            "metrics need labelled data (data.num_classes > 0)."
        )
    return labels[:num].clone()


@register_metric("class_acc", keys=("class_acc",), needs=("fake_logits", "fake_labels"))
def _class_acc(suite, state: dict[str, Tensor]) -> dict[str, object]:
    """Accuracy of the extractor's classifier on the samples for their requested labels; only
    when the extractor's classes are the data's (else the key is left out, with a note)."""
    k = suite.num_classes
    if suite.extractor.num_classes != k:
        return {"note": f"extractor {suite.extractor.name} has {suite.extractor.num_classes} "
                f"classes, the model {k}: no class accuracy"}  # fmt: skip
    acc = class_accuracy(state["fake_logits"], state["fake_labels"], k)
    return {
        "class_acc": acc["acc"],
        "class_acc_per_class": acc["acc_per_class"],
        "count_per_class": acc["count_per_class"],
    }


@register_metric(
    "fid_class_mean",
    keys=("fid_class_mean",),
    needs=("real_features", "fake_features", "real_labels", "fake_labels"),
)
def _fid_class_mean(suite, state: dict[str, Tensor]) -> dict[str, object]:
    """Mean per-class FID over the classes with >= ``per_class_min_samples`` on both sides
    (key left out when no class has enough)."""
    out = per_class_fid(
        state["real_features"],
        state["real_labels"],
        state["fake_features"],
        state["fake_labels"],
        suite.num_classes,
        suite.per_class_min_samples,
    )
    if math.isnan(out["fid_class_mean"]):
        out.pop("fid_class_mean")
    return {**out, "min_class_samples": suite.per_class_min_samples}
