"""Digits benchmark of the VAE families of issue 12 over several seeds: VQ-VAE, CVAE vs VAE.

Trains each family through genlab's own entry point (``genlab.train.train``) once per seed on
``data=digits`` with the same epochs and reads the test metrics of the final weights:
  * ``vqvae``: reconstruction bits/dim (``test/recon_bpd``), the bound under the uniform code
    prior (``test/bpd``), codebook perplexity and codes used on the test set;
  * ``vae`` and ``cvae`` (same MLP nets, latent size, likelihood and optimizer; the CVAE's nets
    also see the one-hot label): test IW-NLL ``test/nll_iw`` (-log p(x) resp. -log p(x | y),
    nats, K = ``--iw-samples``) and ``test/elbo``.
Writes per-seed results and mean / sample std to ``outputs/benchmarks/vae_families.json``.

    python benchmarks/vae_families.py --seeds 0 1 2
    python benchmarks/vae_families.py --families vqvae_no_restart   # ablation: no restarts
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
FAMILIES = {
    "vqvae": (
        ["model=vqvae"],
        ("test/recon_bpd", "test/bpd", "test/perplexity", "test/codes_used", "test/code_usage"),
    ),
    # ablation: the same VQ-VAE without dead-code restarts
    "vqvae_no_restart": (
        ["model=vqvae", "model.quantizer.restart_threshold=0"],
        ("test/recon_bpd", "test/bpd", "test/perplexity", "test/codes_used", "test/code_usage"),
    ),
    "vae": (["model=vae"], ("test/nll_iw", "test/elbo", "test/bpd_iw")),
    "cvae": (["model=cvae"], ("test/nll_iw", "test/elbo", "test/bpd_iw")),
}
DEFAULT = ["vqvae", "vae", "cvae"]
COMMON = ["data=digits", "logger=csv", "metrics=none", "trainer.enable_progress_bar=false"]


def compose_cfg(overrides: list[str]):
    """Compose conf/train.yaml with ``overrides`` (no Hydra runtime)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


def run_one(family: str, seed: int, out_dir: Path, overrides: list[str]) -> dict:
    """Train one family and seed; return its test metrics and wall time (s)."""
    cfg = compose_cfg([*FAMILIES[family][0], *COMMON, f"seed={seed}", *overrides])
    with open_dict(cfg):
        cfg.paths.root_dir = str(ROOT)
        cfg.paths.output_dir = str(out_dir / "vae_families" / f"{family}_seed{seed}")
    start = time.perf_counter()
    metrics = train(cfg)
    result = {k: float(metrics[k]) for k in FAMILIES[family][1]}
    result.update(seed=seed, seconds=round(time.perf_counter() - start, 1))
    return result


def main() -> None:
    """Parse arguments, run every family and seed, write the JSON report, print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--families", nargs="+", default=DEFAULT, choices=list(FAMILIES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--iw-samples", type=int, default=1000, help="K for test/nll_iw")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads per run")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "benchmarks")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    overrides = [f"trainer.max_epochs={args.epochs}", *args.overrides]
    report: dict = {"families": {}, "protocol": {}}
    for family in args.families:
        vq = family.startswith("vqvae")
        extra = [] if vq else [f"model.test_iw_samples={args.iw_samples}"]
        runs = [run_one(family, s, args.out, [*overrides, *extra]) for s in args.seeds]
        cfg = compose_cfg([*FAMILIES[family][0], *COMMON, *overrides, *extra])
        report["families"][family] = {
            "runs": runs,
            "summary": mean_std(runs, [k for k in runs[0] if k != "seed"]),
        }
        report["protocol"][family] = {
            "model": OmegaConf.to_container(cfg.model, resolve=True),
            "data": OmegaConf.to_container(cfg.data, resolve=True),
            "max_epochs": args.epochs,
            "overrides": [*FAMILIES[family][0], *COMMON, *overrides, *extra],
        }
        for key, stats in report["families"][family]["summary"].items():
            print(f"{family} {key}: {stats['mean']:.4f} +- {stats['std']:.4f}")
    report["machine"] = {
        "cpu_threads": args.threads,
        "platform": platform.platform(),
        "torch": torch.__version__,
        "pytorch_lightning": pl.__version__,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "vae_families.json"
    if path.exists():  # keep families run earlier (e.g. --families vqvae, then vae cvae)
        old = json.loads(path.read_text())
        report["families"] = {**old.get("families", {}), **report["families"]}
        report["protocol"] = {**old.get("protocol", {}), **report["protocol"]}
    path.write_text(json.dumps(report, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
