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

from genlab.contract import require_generative
from genlab.metrics.functional import fid_from_features


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


@torch.no_grad()
def conditional_sample_metrics(
    model: torch.nn.Module,
    extractor: torch.nn.Module,
    num: int,
    seed: int,
    real_images: Tensor | None = None,
    real_labels: Tensor | None = None,
    num_classes: int | None = None,
    min_class_samples: int = 100,
    batch_size: int = 500,
) -> dict[str, object]:
    """Generate ``num`` samples for uniformly drawn labels and score them per class.

    A conditional model (``model.conditional``) gets the labels (``generate(z, labels)``);
    an unconditional one ignores them, so its accuracy is chance level: the baseline.

    Args:
        model: a genlab generative module (``sample_noise``, ``generate``, ``num_classes``).
        extractor: a :class:`~genlab.metrics.extractors.FeatureExtractor` whose classes are the
            data's classes (accuracy is skipped, ``class_acc`` nan, when the counts differ).
        num: samples; seed: seed of the noise and labels (CPU generator).
        real_images, real_labels: reference images (N, C, H, W) in [0, 1] and labels, for the
            per-class FID (skipped when None).
        num_classes: K (default: ``model.num_classes``, else the extractor's).
        min_class_samples: per-class FID only for classes with at least this many real and fake.

    Returns:
        ``class_acc`` (fraction), ``class_acc_per_class``, ``count_per_class``,
        ``fid_per_class``, ``fid_class_mean``, ``fid_classes_computed``, ``conditional``.
    """
    model = require_generative(model, "conditional sample metrics")
    k = int(num_classes or model.num_classes or extractor.num_classes)
    conditional = model.conditional
    gen = torch.Generator().manual_seed(int(seed))
    feats, logits, labels = [], [], []
    for start in range(0, num, batch_size):
        n = min(batch_size, num - start)
        z = model.sample_noise(n, gen)
        y = torch.randint(0, k, (n,), generator=gen)
        images = model.generate(z, y.to(z.device) if conditional else None)
        out = extractor(images)
        feats.append(out.features.cpu())
        logits.append(out.logits.cpu())
        labels.append(y)
    fake_feats, fake_logits, fake_labels = torch.cat(feats), torch.cat(logits), torch.cat(labels)
    result: dict[str, object] = {"conditional": conditional, "labels": f"uniform over {k}"}
    if extractor.num_classes == k:
        acc = class_accuracy(fake_logits, fake_labels, k)
        result.update(
            class_acc=acc["acc"],
            class_acc_per_class=acc["acc_per_class"],
            count_per_class=acc["count_per_class"],
        )
    else:
        result["class_acc"] = math.nan
    if real_images is not None and real_labels is not None:
        real_feats = torch.cat([extractor(b).features.cpu() for b in real_images.split(batch_size)])
        result.update(
            per_class_fid(real_feats, real_labels, fake_feats, fake_labels, k, min_class_samples)
        )
        result["min_class_samples"] = int(min_class_samples)
    return result
