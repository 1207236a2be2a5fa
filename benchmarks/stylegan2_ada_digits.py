"""StyleGAN2 with and without ADA on 10 % vs all of the digits train split: test FID.

ADA's claim (Karras et al. 2020, "Training Generative Adversarial Networks with Limited Data",
Sec. 4): with little data the discriminator overfits and FID degrades; adaptive augmentation of
every D input closes much of the gap to the full-data FID. This benchmark trains the small
StyleGAN2 (``model=stylegan2``, widths and mapping shrunk for the CPU, 16 px digits) through
genlab's own entry point for each (augment, data fraction, seed) at one G-step budget and reads
``test/fid`` (the shipped digits classifier's features, against the 250 held-out test digits).
The train subset is ``data.train_fraction`` (seeded by ``data.seed``; 130 of 1,297 images at
0.1). ADA's ``adjust_images`` is shrunk to the run's length (official ada_kimg 500 is for runs of
millions of images; here p could move by 1 over 10,000 real images). Writes per-seed results and
mean ± sample std to ``outputs/benchmarks/stylegan2_ada_digits.json``, updated after every run
and keeping the runs of other seeds already there (seeds may run as separate processes into
the same file). Not a test.

    python benchmarks/stylegan2_ada_digits.py --seeds 0 1 2 --g-steps 200
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import open_dict

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seed_stats import mean_std, merge_runs  # noqa: E402

from genlab.train import train  # noqa: E402
from genlab.utils.config_dir import CONFIG_DIR  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: The smallest StyleGAN2 (as benchmarks/gan_stacked_mnist.py's stylegan2_small) on 16 px digits.
COMMON = [
    "model=stylegan2", "data=digits", "data.binarize=none", "data.image_size=16",
    "model.generator.latent_dim=64", "model.generator.w_dim=64",
    "model.generator.mapping_layers=2", "model.generator.channel_base=1024",
    "model.generator.channel_max=64", "model.discriminator.channel_base=1024",
    "model.discriminator.channel_max=64", "logger=csv", "trainer.max_epochs=1000000",
    "trainer.enable_progress_bar=false", "trainer.limit_val_batches=0",
    "metrics.metrics=[fid]", "metrics.every_n_epochs=1000000", "metrics.num_real=250",
    "metrics.test_reference_split=test", "callbacks.sample_grid.every_n_epochs=1000000",
]  # fmt: skip
ADA = ["model/augment=ada", "model.augment.adjust_images=10000"]
VARIANTS = {
    "tenth": ["data.train_fraction=0.1"],
    "tenth_ada": ["data.train_fraction=0.1", *ADA],
    "full": ["data.train_fraction=1.0"],
    "full_ada": ["data.train_fraction=1.0", *ADA],
}
KEYS = ("test/fid",)


def run(variant: str, seed: int, args: argparse.Namespace) -> dict:
    """Train one (variant, seed) for ``args.g_steps`` G steps; return test FID, final ADA p and
    seconds (training plus the test metrics)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=[
            *COMMON, *VARIANTS[variant], f"seed={seed}", f"model.max_g_steps={args.g_steps}",
            f"metrics.num_fake={args.num_fake}", *args.overrides,
        ])  # fmt: skip
    with open_dict(cfg):
        cfg.paths.root_dir = str(ROOT)
        cfg.paths.output_dir = str(args.out / "stylegan2_ada_digits_runs" / f"{variant}_seed{seed}")
    start = time.perf_counter()
    metrics = train(cfg)
    res = {k: float(metrics[k]) for k in KEYS}
    if "train/ada_p" in metrics:
        res["ada_p"] = float(metrics["train/ada_p"])
    return {**res, "seed": seed, "seconds": round(time.perf_counter() - start, 1)}


def write_report(args: argparse.Namespace, results: dict) -> Path:
    """Merge ``results`` into the JSON (re-read now, so other processes' seeds are kept),
    recompute the summaries, write it atomically; return the path."""
    path = args.out / "stylegan2_ada_digits.json"
    old = json.loads(path.read_text())["results"] if path.is_file() else {}
    merged = {}
    for v in sorted({*old, *results}):
        runs = merge_runs(old.get(v, {}).get("runs", []), results.get(v, {}).get("runs", []))
        if not runs:  # a variant of this process that has not finished a run yet
            continue
        keys = (*KEYS, "seconds", *(("ada_p",) if "ada" in v else ()))
        merged[v] = {"runs": runs, "summary": mean_std(runs, keys)}
    report = {
        "settings": {"common_overrides": COMMON + args.overrides, "ada_overrides": ADA,
                     "variants": VARIANTS, "g_steps": args.g_steps, "num_fake": args.num_fake,
                     "fid_reference": "digits test split (250 images), digits_classifier"},
        "results": merged,
        "machine": {"cpu_threads": args.threads, "platform": platform.platform(),
                    "torch": torch.__version__, "pytorch_lightning": pl.__version__,
                    "date": time.strftime("%Y-%m-%d")},
    }  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(report, indent=2))
    tmp.replace(path)
    return path


def main() -> None:
    """Run every variant and seed (seeds outermost, so a cut-short run has every variant)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--g-steps", type=int, default=200)
    ap.add_argument("--num-fake", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ROOT / "outputs" / "benchmarks")
    ap.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    results: dict[str, dict] = {v: {"runs": []} for v in args.variants}
    for seed in args.seeds:
        for v in args.variants:
            results[v]["runs"].append(run(v, seed, args))
            path = write_report(args, results)  # after every run: a partial benchmark is kept
    for v, res in json.loads(path.read_text())["results"].items():
        print(v, {k: f"{x['mean']:.3f} +- {x['std']:.3f}" for k, x in res["summary"].items()})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
