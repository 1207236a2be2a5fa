"""2D mode-collapse benchmark (VEEGAN / PacGAN protocol) over several seeds.

Runs the default experiment (``experiment=gan_ring2d``, or ``--experiment gan_grid2d``)
through genlab's own entry point (``genlab.train.train``) once per seed, reads the final
``val/modes``, ``val/hq_frac`` and ``val/kl_modes`` (2,500 samples, 3 std), and writes
per-seed results plus mean and std to ``outputs/benchmarks/toy2d_<experiment>.json``.

    python benchmarks/toy2d_modes.py --seeds 0 1 2
    python benchmarks/toy2d_modes.py --experiment gan_grid2d --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf, open_dict
from seed_stats import mean_std  # benchmarks/ is on sys.path when run as a script

from genlab.train import train
from genlab.utils.config_dir import CONFIG_DIR

ROOT = Path(__file__).resolve().parents[1]
KEYS = ("val/modes", "val/hq_frac", "val/kl_modes")


def run_seed(experiment: str, seed: int, out_dir: Path, overrides: list[str]) -> dict:
    """Train one seed; return its final mode metrics, wall time (s) and G steps."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(
            config_name="train",
            overrides=[
                f"experiment={experiment}",
                f"seed={seed}",
                "logger=csv",
                "trainer.enable_progress_bar=false",
                *overrides,
            ],
        )
    with open_dict(cfg):
        cfg.paths.root_dir = str(ROOT)
        cfg.paths.output_dir = str(out_dir / f"{experiment}_seed{seed}")
    start = time.perf_counter()
    metrics = train(cfg)
    seconds = time.perf_counter() - start
    result = {k: float(metrics[k]) for k in KEYS}
    result.update(seed=seed, seconds=round(seconds, 1), g_steps=metrics.get("train/g_steps"))
    return result


def main() -> None:
    """Parse arguments, run every seed, write the JSON report and print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--experiment", default="gan_ring2d")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads per run")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "benchmarks")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    runs = [run_seed(args.experiment, s, args.out, args.overrides) for s in args.seeds]
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=[f"experiment={args.experiment}"])
    report = {
        "experiment": args.experiment,
        "protocol": {
            "num_samples": cfg.callbacks.toy2d.num_samples,
            "threshold_std": cfg.callbacks.toy2d.threshold,
            "data": OmegaConf.to_container(cfg.data),
            "max_g_steps": cfg.model.max_g_steps,
            "overrides": args.overrides,
        },
        "runs": runs,
        "summary": mean_std(runs, (*KEYS, "seconds")),
        "machine": {
            "cpu_threads": args.threads,
            "platform": platform.platform(),
            "torch": torch.__version__,
            "pytorch_lightning": pl.__version__,
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"toy2d_{args.experiment}.json"
    path.write_text(json.dumps(report, indent=2))
    for key, stats in report["summary"].items():
        print(f"{key}: {stats['mean']:.3f} +- {stats['std']:.3f}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
