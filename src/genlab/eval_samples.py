"""genlab-eval's ``fake=`` mode: score samples made by any codebase (metrics.score_files).

    genlab-eval fake=samples/ real=digits:train
    genlab-eval fake=samples.npz real=ref_stats.npz metrics.extractor=inception
    genlab-eval fake=a/ real=b/ metrics.extractors=[inception,dinov2_vitl14] metrics.metrics=[fd]

Extractors and metrics come from the ``metrics`` config node (``metrics.extractor(s)``,
``metrics.metrics``, ``metrics.resize``, weights, ...), exactly as during training, so the
protocol printed (and written to ``output_file``, default ``<fake>.eval.json``) is the same
record a training run writes. ``save_stats=<file.npz>`` also writes the real side's mu/sigma with
the protocol, to be used later as ``real=<file.npz>``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import hydra
import torch
from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


def real_from_dataset(spec: str, num: int) -> tuple[torch.Tensor, str, str]:
    """uint8 grey images of ``<dataset>:<split>`` (genlab's data config), capped at ``num``."""
    from genlab.metrics.extractors import images_to_uint8

    dataset, split = spec.split(":", 1)
    composed = hydra.compose(config_name="eval", overrides=[f"+data={dataset}", "ckpt_path=none"])
    datamodule = hydra.utils.instantiate(composed.data)
    available = len(datamodule.dataset(split)) if hasattr(datamodule, "dataset") else num
    images = datamodule.real_images(split, min(num, available), grey=True)
    return images_to_uint8(images), getattr(datamodule, "name", dataset), split


def _is_dataset_spec(spec: str) -> bool:
    return ":" in spec and not Path(to_absolute_path(spec)).exists()


def evaluate_samples(cfg: DictConfig) -> dict[str, float]:
    """Score ``cfg.fake`` against ``cfg.real``; print the protocol and a table; write JSON."""
    from genlab.eval import print_table
    from genlab.metrics import functional as F
    from genlab.metrics import score_files as S
    from genlab.metrics.extractors import auto_extractor, build_extractor
    from genlab.metrics.multi import ExtractorSuites, as_mapping
    from genlab.metrics.protocol import protocol_record
    from genlab.metrics.registry import METRICS, import_metric_modules
    from genlab.utils.run_files import write_json

    m = cfg.get("metrics")
    if not m or not m.get("_target_"):
        raise ValueError("fake=... needs metrics (metrics=default or fast), not metrics=none")
    if not cfg.get("real"):
        raise ValueError(
            "fake=... needs real=<dataset:split | folder | .npz samples | mu/sigma .npz>"
        )
    import_metric_modules(m.get("modules"))
    fake_spec, real_spec = str(cfg.fake), str(cfg.real)
    fake = S.load_images(to_absolute_path(fake_spec))
    stats_path = None if _is_dataset_spec(real_spec) else Path(to_absolute_path(real_spec))
    dataset, split, real = None, real_spec, None
    if stats_path is not None and S.is_stats_file(stats_path):
        pass
    elif stats_path is None:
        real, dataset, split = real_from_dataset(real_spec, int(m.num_real))
    else:
        real = S.load_images(str(stats_path))
    if real is not None and real.shape[1:] != fake.shape[1:]:
        raise S.SampleFileError(
            f"fake={fake_spec} holds {tuple(fake.shape[1:])} (C, H, W) images but real={real_spec} "
            f"holds {tuple(real.shape[1:])}: resize/convert the samples to the reference's size "
            "and channels (or compare against a reference of theirs)"
        )
    names = list(m.get("extractors") or [m.extractor])
    if real is None and names == ["auto"]:  # statistics: auto = the file's own extractor
        stored = S.load_stats(stats_path)[2] or {}
        names = [stored.get("extractor") or "auto"]
        dataset = stored.get("dataset")
    names = [auto_extractor(dataset) if n == "auto" else n for n in names]
    weights = as_mapping(m.get("extractor_weights"))
    extractors = [
        build_extractor(
            n,
            inception_weights=m.get("inception_weights"),
            extractor_weights=weights,
            resize=m.get("resize"),
        )
        for n in names
    ]
    metric_names = ["fid"] if real is None else list(m.metrics)
    model_metrics = [n for n in metric_names if n in METRICS and METRICS[n].needs_model]
    if model_metrics:
        raise S.SampleFileError(
            f"metrics.metrics holds {model_metrics}, which measure the model's latent paths: "
            f"fake={fake_spec} has samples but no model. Evaluate a checkpoint (genlab-eval "
            "ckpt_path=...) for them, or drop them here"
        )
    options = OmegaConf.to_container(m.options, resolve=True) if m.get("options") else {}
    group = ExtractorSuites(
        extractors[:1] if real is None else extractors,
        metric_names,
        seed=int(m.seed),
        is_splits=int(m.is_splits),
        kid_subsets=int(m.kid_subsets),
        kid_subset_size=int(m.kid_subset_size),
        pr_k=int(m.pr_k),
        options=options,
    )
    batch = int(m.batch_size)
    for chunk in fake.split(batch):
        group.update(chunk, real=False)
    primary = group.primary
    record = protocol_record(
        primary.extractor,
        0 if real is None else len(real),
        len(fake),
        split,
        int(m.seed),
        dataset=dataset,
        settings=primary.settings(),
    )
    record.update(fake=fake_spec, real=real_spec, extractors=None)
    if real is None:  # reference statistics: FID only, after the protocol check
        mu_r, sigma_r, stored = S.load_stats(stats_path)
        record["reference_protocol"] = S.check_protocol(
            stored, {**record, "feature_dim": primary.extractor.num_features}, len(mu_r), real_spec
        )
        fid = primary.fid
        mu_f, sigma_f = F.statistics_from_sums(fid.fake_sum, fid.fake_outer, fid.fake_count)
        results = {"fid": F.frechet_distance(mu_f, sigma_f, mu_r, sigma_r)}
        record["num_real"] = (stored or {}).get("num_real")
    else:
        for chunk in real.split(batch):
            group.update(chunk, real=True)
        results = group.compute()
        if cfg.get("save_stats") and primary.fid is not None:
            fid = primary.fid
            mu, sigma = F.statistics_from_sums(fid.real_sum, fid.real_outer, fid.real_count)
            saved = S.save_stats(Path(to_absolute_path(cfg.save_stats)), mu, sigma, record)
            log.info(f"wrote reference statistics {saved}")
    record["extractors"] = group.extractor_records()
    print("metrics_protocol:")
    print(json.dumps(record, indent=2, default=str))
    print_table(results)
    out = cfg.get("output_file") or str(Path(fake_spec).expanduser()).rstrip("/") + ".eval.json"
    path = write_json(
        {"fake": fake_spec, "real": real_spec, "metrics": results, "metrics_protocol": record},
        Path(to_absolute_path(out)),
    )
    log.info(f"wrote {path}")
    return results
