"""The two sides of a sample-quality evaluation under DDP: this rank's generated images and
this rank's share of the reference (real) features, cached on disk when possible.

Rank r generates the contiguous share ``shard(num_fake, r, world_size)`` from its own seed and
extracts its share of the real images; metric states are synced in ``compute()``.
"""

from __future__ import annotations

import logging

import pytorch_lightning as pl
import torch
from torchmetrics.utilities.distributed import gather_all_tensors

from genlab.contract import GenerativeModel
from genlab.metrics.cache import ReferenceCache, ReferenceKey, fingerprint_images
from genlab.metrics.collection import SampleQualityMetrics
from genlab.metrics.conditional import real_labels
from genlab.metrics.extractors import ExtractorOutput, images_to_uint8
from genlab.utils.eval_mode import eval_mode

log = logging.getLogger(__name__)

RANK_SEED_STRIDE = 1_000_003
#: the latent paths (``ppl``) draw from their own stream, so adding ppl leaves the samples alone
PATH_SEED_OFFSET = 500_009


def shard(num: int, rank: int, world_size: int) -> slice:
    """Return rank's contiguous slice of ``range(num)`` (sizes differ by at most one)."""
    base, extra = divmod(num, world_size)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (1 if rank < extra else 0))


def add_generated(
    model: GenerativeModel,
    suite: SampleQualityMetrics,
    num_fake: int,
    seed: int,
    batch_size: int,
    rank: int = 0,
    world_size: int = 1,
) -> tuple[int, ...]:
    """Generate this rank's share of ``num_fake`` samples into ``suite``; return their image
    shape (C, H, W).

    Noise (and labels, for conditional models: uniform over classes) come from a CPU generator
    seeded with ``seed + rank * RANK_SEED_STRIDE``. The requested labels are kept as metric
    state when a configured metric needs them (``class_acc``, ``fid_class_mean``).
    Path metrics (``ppl``) get this rank's share of ``suite.path_samples`` latent paths, drawn
    from the seed ``seed + rank * RANK_SEED_STRIDE + PATH_SEED_OFFSET``.
    """
    if suite.needs_labels and not model.conditional:
        raise ValueError(
            f"metrics.metrics={list(suite.names)} holds label metrics, which need a class-"
            "conditional model (model.conditional)"
        )
    part = shard(num_fake, rank, world_size)
    generator = torch.Generator().manual_seed(seed + RANK_SEED_STRIDE * rank)
    shape: tuple[int, ...] = ()
    with eval_mode(model, no_grad=False):
        with torch.no_grad():
            for start in range(part.start, part.stop, batch_size):
                num = min(batch_size, part.stop - start)
                z = model.sample_noise(num, generator)
                labels = model.sample_labels(num, generator)
                images = model.generate(z, labels)
                shape = tuple(images.shape[1:])
                suite.update(images, real=False, labels=labels if suite.needs_labels else None)
        paths = shard(getattr(suite, "path_samples", 0), rank, world_size)
        if paths.stop > paths.start:
            path_seed = seed + RANK_SEED_STRIDE * rank + PATH_SEED_OFFSET
            stream = torch.Generator().manual_seed(path_seed)
            suite.update_paths(model, paths.stop - paths.start, stream, batch_size)
    return shape


def add_reference(
    trainer: pl.Trainer,
    suite: SampleQualityMetrics,
    split: str,
    num_real: int,
    shape: tuple[int, ...],
    batch_size: int,
    cache: ReferenceCache | None = None,
) -> int:
    """Add this rank's share of the reference features of ``split`` to ``suite`` (from the cache
    when every rank has a hit); return the number of real images N (capped at the split size).

    The reference images are the grey images (before any binarization): sample metrics compare
    with the data distribution, whatever the model is trained on. Their labels (this rank's
    share, from the datamodule, never cached) are added when a metric needs them.
    """
    datamodule = trainer.datamodule
    available = getattr(datamodule, f"num_{split}", None)
    if isinstance(available, int) and num_real > available:
        log.warning(
            "metrics.num_real=%d > %d images in the %s split; using %d",
            num_real,
            available,
            split,
            available,
        )
        num_real = available
    real = images_to_uint8(datamodule.real_images(split, num_real, grey=True))
    if tuple(real.shape[1:]) != shape:
        raise ValueError(
            f"real images are {tuple(real.shape[1:])} but the model generates {shape}; "
            "the data resolution/channels must match the model's output"
        )
    key = ReferenceKey(
        dataset=str(getattr(datamodule, "name", "unknown")),
        split=split,
        resolution=tuple(real.shape[1:]),
        extractor=suite.extractor.name,
        weights_hash=suite.extractor.weights_hash,
        num_samples=len(real),
        data_fingerprint=fingerprint_images(real),
        resize=suite.extractor.resize_mode,
    )
    part = shard(len(real), trainer.global_rank, trainer.world_size)
    cached = cache.load(key) if cache is not None else None
    hit = trainer.strategy.reduce_boolean_decision(cached is not None, all=True)
    if hit:
        features = cached[part].to(suite.extractor.device)
    else:
        features = torch.cat([suite.extract(b).features for b in real[part].split(batch_size)])
        if cache is not None:
            _store(trainer, cache, key, features)
    labels = None
    if suite.needs_labels:
        labels = real_labels(datamodule, split, len(real))[part].to(features.device)
    out = ExtractorOutput(features, features.new_empty(len(features), 0))
    suite.update(out, real=True, labels=labels)
    return len(real)


def _store(
    trainer: pl.Trainer, cache: ReferenceCache, key: ReferenceKey, features: torch.Tensor
) -> None:
    """Gather every rank's reference features; rank 0 writes them to the cache."""
    full = torch.cat(gather_all_tensors(features)) if trainer.world_size > 1 else features
    if trainer.is_global_zero:
        path = cache.save(key, full)
        log.info("metrics cache: stored reference features in %s", path)
    trainer.strategy.barrier("genlab_metrics_cache")
