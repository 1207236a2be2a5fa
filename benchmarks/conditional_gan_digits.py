"""Class-conditional GANs on digits: sample accuracy by the digits classifier and FID.

Trains the unconditional DCGAN (``model=dcgan``), the conditional DCGAN with a projection
discriminator and conditional batch norm (``model=dcgan_cond``) and ACGAN (``model=acgan``)
through genlab's own entry point (``genlab.train.train``), same nets, data, optimizer and
length, once per seed. Per run it reports

* ``fid``: the run's test-time FID (digits-classifier features, ``metrics.extractor=auto``);
* ``class_acc``: the fraction of ``--num-samples`` generated digits that the shipped digits
  classifier assigns to the requested label, labels uniform over the 10 classes. The
  unconditional DCGAN ignores the label, so its value is the chance level (~10 %) by
  construction: the baseline the issue asks for;
* per-class accuracy and per-class FID (classes with >= ``--min-class-samples`` samples).

It writes per-seed results plus mean and sample std to
``outputs/benchmarks/conditional_gan_digits.json``.

    python benchmarks/conditional_gan_digits.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import time
from pathlib import Path

import hydra
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import open_dict
from seed_stats import mean_std  # benchmarks/ is on sys.path when run as a script

from genlab.eval import load_checkpoint
from genlab.metrics.collection import SampleQualityMetrics
from genlab.metrics.conditional import real_labels
from genlab.metrics.extractors import build_extractor
from genlab.train import train
from genlab.utils.config_dir import CONFIG_DIR

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("dcgan_cond", "acgan", "dcgan")
#: Settings shared by every model: 16 px digits, DCGAN nets of width 32, EMA generator.
COMMON = [
    "data=digits",
    "data.binarize=none",
    "data.image_size=16",
    "model.generator.base_channels=32",
    "model.discriminator.base_channels=32",
    "model.ema_decay=0.999",
    "model.ema_rampup=true",
    "trainer.max_epochs=100000",
    "trainer.enable_progress_bar=false",
    "trainer.check_val_every_n_epoch=1000",
    "logger=csv",
    "metrics.every_n_epochs=1000",
    "metrics.num_fake=2000",
    "metrics.num_real=2000",
    "callbacks.sample_grid.every_n_epochs=1000",
]
SUMMARY_KEYS = ("fid", "class_acc", "fid_class_mean", "seconds")


def run(model: str, seed: int, g_steps: int, out_dir: Path, extra: list[str], args) -> dict:
    """Train one (model, seed); return its test FID and conditional sample metrics."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(
            config_name="train",
            overrides=[
                f"model={model}",
                f"seed={seed}",
                f"model.max_g_steps={g_steps}",
                *COMMON,
                *extra,
            ],
        )
    with open_dict(cfg):
        cfg.paths.root_dir = str(ROOT)
        cfg.paths.output_dir = str(out_dir / f"{model}_seed{seed}")
    start = time.perf_counter()
    metrics = train(cfg)
    seconds = time.perf_counter() - start
    ckpt = load_checkpoint(Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt")
    net = hydra.utils.instantiate(cfg.model)
    net.load_state_dict(ckpt["state_dict"])
    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.setup("fit")
    num_real = min(args.num_samples, datamodule.num_train)
    real = datamodule.real_images("train", num_real, grey=True)
    labels = real_labels(datamodule, "train", num_real)
    cond = label_scores(net, real, labels, args.num_samples, 1000 + seed, args.min_class_samples)
    return {
        "seed": seed,
        "fid": float(metrics["test/fid"]),
        "seconds": round(seconds, 1),
        "g_steps": metrics.get("train/g_steps"),
        **cond,
    }


@torch.no_grad()
def label_scores(net, real, labels, num: int, seed: int, min_class: int) -> dict:
    """class_acc and fid_class_mean (genlab's registered label metrics) of ``num`` samples for
    uniform labels; an unconditional net ignores the labels (its accuracy is the chance
    baseline), which is why the samples are made here rather than by the metrics callback."""
    suite = SampleQualityMetrics(
        build_extractor("digits_classifier"),
        ["class_acc", "fid_class_mean"],
        num_classes=10,
        per_class_min_samples=min_class,
    )
    net.eval()
    gen = torch.Generator().manual_seed(seed)
    for start in range(0, num, 500):
        n = min(500, num - start)
        z, y = net.sample_noise(n, gen), torch.randint(0, 10, (n,), generator=gen)
        suite.update(net.generate(z, y if net.conditional else None), real=False, labels=y)
    for images, part in zip(real.split(500), labels.split(500), strict=True):
        suite.update(images, real=True, labels=part)
    out = suite.compute()
    return {**out, **suite.details["class_acc"], **suite.details["fid_class_mean"]}


def main() -> None:
    """Parse arguments, run every (model, seed), write the JSON report, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--g-steps", type=int, default=1500, help="generator steps per run")
    parser.add_argument("--num-samples", type=int, default=2000, help="samples for class acc")
    parser.add_argument("--min-class-samples", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads per run")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "benchmarks")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    runs_dir = args.out / "conditional_gan_digits_runs"
    results: dict[str, dict] = {}
    for model in args.models:
        runs = []
        for seed in args.seeds:
            runs.append(run(model, seed, args.g_steps, runs_dir, args.overrides, args))
            results[model] = {"runs": runs, "summary": mean_std(runs, SUMMARY_KEYS)}
            write_report(args, results)  # after every run, so a partial benchmark is kept
    path = write_report(args, results)
    print(f"{'model':<12} {'class acc (%)':>16} {'FID':>16} {'per-class FID':>16}")
    for model, res in results.items():
        s = res["summary"]

        def fmt(key: str, scale: float = 1.0, s=s) -> str:
            return f"{s[key]['mean'] * scale:.1f} ± {s[key]['std'] * scale:.1f}"

        print(
            f"{model:<12} {fmt('class_acc', 100):>16} {fmt('fid'):>16} {fmt('fid_class_mean'):>16}"
        )
    print(f"wrote {path}")


def _git_commit() -> str:
    """The commit the benchmark ran on ('unknown' outside a git checkout)."""
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True)
        return out.stdout.decode().strip() or "unknown"
    except OSError:
        return "unknown"


def write_report(args: argparse.Namespace, results: dict) -> Path:
    """Write the settings, per-run results and summaries as JSON; return the path."""
    report = {
        "settings": {
            "common_overrides": COMMON + args.overrides,
            "g_steps": args.g_steps,
            "class_acc_samples": args.num_samples,
            "min_class_samples": args.min_class_samples,
            "labels": "uniform over the 10 classes",
            "classifier": "genlab digits_classifier (src/genlab/assets/digits_classifier.pt)",
            "git_commit": _git_commit(),
        },
        "results": results,
        "machine": {
            "cpu_threads": args.threads,
            "platform": platform.platform(),
            "torch": torch.__version__,
            "pytorch_lightning": pl.__version__,
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "conditional_gan_digits.json"
    path.write_text(json.dumps(report, indent=2))
    return path


if __name__ == "__main__":
    main()
