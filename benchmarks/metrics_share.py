"""Benchmark (not a test): the share of the default run's wall time spent in sample metrics.

Runs ``genlab-train``'s default configuration (model=vae, data=digits, metrics=default: FID,
IS, KID, PR on 1,000 + 1,000 images every 5 epochs and at test) in this process, with the
metrics callback's ``evaluate`` timed, twice: ``before`` = KID by torch-fidelity's 100 subsets
(``genlab.metrics.functional.KID_FAST_PATH = False``, the behaviour before the fast path) and
``after`` = the fast path (subset size = N: one exact evaluation). W&B is off (``logger=csv``).

Usage: python benchmarks/metrics_share.py [--epochs 30] [overrides ...]
Writes outputs/benchmarks/metrics_share.json (``--out``).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import open_dict

ROOT = Path(__file__).resolve().parents[1]


def timed_run(fast_path: bool, epochs: int, overrides: list[str]) -> dict:
    """Train the default config once; return wall seconds, metric seconds and their share."""
    from genlab.callbacks.metrics import SampleQualityCallback
    from genlab.metrics import functional
    from genlab.train import train
    from genlab.utils.config_dir import CONFIG_DIR

    functional.KID_FAST_PATH = fast_path
    spent: list[float] = []
    original = SampleQualityCallback.evaluate

    def evaluate(self, trainer, pl_module, stage):
        start = time.perf_counter()
        try:
            return original(self, trainer, pl_module, stage)
        finally:
            spent.append(time.perf_counter() - start)

    SampleQualityCallback.evaluate = evaluate
    GlobalHydra.instance().clear()
    args = [f"trainer.max_epochs={epochs}", "trainer.enable_progress_bar=false", "logger=csv"]
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=[*args, *overrides])
    try:
        with tempfile.TemporaryDirectory() as tmp, open_dict(cfg):
            cfg.paths.root_dir = str(ROOT)
            cfg.paths.data_dir = str(ROOT / "data")
            cfg.paths.output_dir = str(Path(tmp) / "run")
            cfg.paths.cache_dir = str(Path(tmp) / "cache")
            start = time.perf_counter()
            metrics = train(cfg)
            wall = time.perf_counter() - start
    finally:
        SampleQualityCallback.evaluate = original
        functional.KID_FAST_PATH = True
    return {
        "wall_seconds": round(wall, 2),
        "metric_seconds": round(sum(spent), 2),
        "evaluations": len(spent),
        "seconds_per_evaluation": round(sum(spent) / max(len(spent), 1), 2),
        "metric_share": round(sum(spent) / wall, 3),
        "test_kid_mean": metrics.get("test/kid_mean"),
        "test_fid": metrics.get("test/fid"),
    }


def main() -> None:
    """Run before/after, print the shares, write the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=30, help="trainer.max_epochs (default 30)")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "benchmarks")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides")
    args = parser.parse_args()
    results = {
        name: timed_run(fast, args.epochs, args.overrides)
        for name, fast in (("before", False), ("after", True))
    }
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()} {platform.processor() or ''}, "
        f"{torch.get_num_threads()} torch threads",
        "config": f"default genlab-train (model=vae data=digits metrics=default), "
        f"trainer.max_epochs={args.epochs} {' '.join(args.overrides)}",
        **results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "metrics_share.json"
    path.write_text(json.dumps(report, indent=2))
    for name, res in results.items():
        print(
            f"{name:>6}: wall {res['wall_seconds']:7.1f} s, metrics {res['metric_seconds']:6.1f} s "
            f"({100 * res['metric_share']:.0f} %, {res['evaluations']} evaluations)"
        )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
