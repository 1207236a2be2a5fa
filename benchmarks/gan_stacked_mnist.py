"""Stacked MNIST mode benchmark: modes covered (of 1,000) and KL to uniform at one G-step budget.

Runs ``experiment=gan_stacked_mnist`` (data=stacked_mnist from the offline mnist5k digits) for
each model variant and seed, reads ``test/modes_1000``, ``test/kl_1000`` and ``test/fid`` (the
mnist5k digit CNN's features) and writes mean ± sample std over seeds to
``outputs/benchmarks/gan_stacked_mnist.json``. Not a test: wall times depend on the machine.

    python benchmarks/gan_stacked_mnist.py --variants dcgan pacgan2 --seeds 0 1 2 --g-steps 300

The JSON is updated after every run, keeping the runs of other seeds already in it, so seeds
can run as separate processes (``--seeds 0 & --seeds 1 & ...``) into the same file.
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
KEYS = ("test/modes_1000", "test/kl_1000", "test/fid")
SMALL_DCGAN = ["model.generator.base_channels=32", "model.discriminator.base_channels=32"]
VARIANTS = {
    "dcgan": ["model=dcgan", *SMALL_DCGAN],
    "pacgan2": ["model=dcgan", *SMALL_DCGAN, "+model.discriminator.pack=2"],
    "wgan_gp": ["model=wgan_gp", *SMALL_DCGAN],
    "stylegan2_small": [
        "model=stylegan2", "data.image_size=32", "model.generator.latent_dim=64",
        "model.generator.w_dim=64", "model.generator.mapping_layers=2",
        "model.generator.channel_base=1024", "model.generator.channel_max=64",
        "model.discriminator.channel_base=1024", "model.discriminator.channel_max=64",
    ],
}  # fmt: skip


def run(variant: str, seed: int, g_steps: int, num_fake: int, out: Path, extra: list[str]) -> dict:
    """Train one (variant, seed) for ``g_steps`` G steps; return its test metrics and seconds."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=[
            "experiment=gan_stacked_mnist", *VARIANTS[variant], f"seed={seed}", "logger=csv",
            f"model.max_g_steps={g_steps}", f"metrics.num_fake={num_fake}",
            "trainer.enable_progress_bar=false", "trainer.limit_val_batches=0", *extra,
        ])  # fmt: skip
    with open_dict(cfg):
        cfg.paths.root_dir = str(ROOT)
        cfg.paths.output_dir = str(out / f"stacked_mnist_{variant}_seed{seed}")
    start = time.perf_counter()
    metrics = train(cfg)
    res = {k: float(metrics[k]) for k in KEYS}
    return {**res, "seed": seed, "seconds": round(time.perf_counter() - start, 1)}


def main() -> None:
    """Run every variant and seed; write the JSON report; print the summary rows."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--g-steps", type=int, default=300)
    ap.add_argument("--num-fake", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ROOT / "outputs" / "benchmarks")
    ap.add_argument("overrides", nargs="*")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    path = a.out / "gan_stacked_mnist.json"
    for v in a.variants:
        runs = []
        for seed in a.seeds:
            runs.append(run(v, seed, a.g_steps, a.num_fake, a.out, a.overrides))
            summary = write_report(path, v, runs, a)  # after every run: partial results kept
        print(v, {k: f"{x['mean']:.3f} +- {x['std']:.3f}" for k, x in summary.items()})
    print(f"wrote {path}")


def write_report(path: Path, variant: str, runs: list[dict], a: argparse.Namespace) -> dict:
    """Merge ``runs`` into the JSON at ``path`` (re-read now, so other processes' seeds are
    kept), recompute the variant's summary, write it atomically; return the summary."""
    report = json.loads(path.read_text()) if path.is_file() else {"variants": {}}
    old = report["variants"].get(variant, {}).get("runs", [])
    merged = merge_runs(old, runs)
    report["variants"][variant] = {"overrides": VARIANTS[variant] + a.overrides,
                                   "g_steps": a.g_steps, "num_fake": a.num_fake, "runs": merged,
                                   "summary": mean_std(merged, (*KEYS, "seconds"))}  # fmt: skip
    report["machine"] = {"cpu_threads": a.threads, "platform": platform.platform(),
                         "torch": torch.__version__, "pytorch_lightning": pl.__version__,
                         "date": time.strftime("%Y-%m-%d")}  # fmt: skip
    a.out.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(report, indent=2))
    tmp.replace(path)
    return report["variants"][variant]["summary"]


if __name__ == "__main__":
    main()
