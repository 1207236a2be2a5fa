"""dSprites disentanglement benchmark (issue 16, b): MIG and DCI of VAE, beta-VAE (beta = 4) and
beta-TC-VAE (beta = 6) over several seeds. Chen et al. 2018 (Fig. 3 / Table 1) report
beta-TC-VAE >= beta-VAE in MIG on dSprites; this checks the direction at a CPU-sized setting.

Each run goes through genlab's own entry point (``genlab.train.train``) on ``data=dsprites``
(the generated grid unless the official npz is present: the JSON records the source), with the
same nets, latent size, optimizer, epochs and data for every model; MIG / DCI are the test-end
values of the registered metrics (``test/mig``, ``test/dci_*``) on the held-out test split.
Writes per-seed results and mean / sample std to ``outputs/benchmarks/dsprites_mig.json``.

    nice -n 10 python benchmarks/dsprites_mig.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import datetime, timezone
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
MODELS = {
    "vae": ["model=vae"],
    "beta_vae": ["model=beta_vae", "model.objective.beta=4.0"],
    "beta_tc_vae": ["model=beta_tc_vae", "model.objective.beta=6.0"],
}
KEYS = ("test/mig", "test/dci_disentanglement", "test/dci_completeness", "test/dci_informativeness")


def common(args: argparse.Namespace) -> list[str]:
    """The overrides every model shares (data, nets, optimizer, budget, metrics)."""
    return [
        "data=dsprites",
        f"data.subset={args.subset}",
        f"data.image_size={args.image_size}",
        f"data.val_size={args.val_size}",
        f"data.test_size={args.test_size}",
        f"data.batch_size={args.batch_size}",
        f"model/net={args.net}",
        f"model.latent_dim={args.latent_dim}",
        "model.test_iw_samples=10",  # test/nll_iw is not this benchmark's number
        "model.test_iw_chunk=10",
        "metrics=disentanglement",
        f"metrics.every_n_epochs={args.epochs}",
        f"metrics.options.disentanglement_num_images={args.test_size}",
        f"trainer.max_epochs={args.epochs}",
        "logger=csv",
        "callbacks=none",
        "trainer.enable_progress_bar=false",
    ]


def model_overrides(name: str, args: argparse.Namespace) -> list[str]:
    """The model's overrides; beta-TC-VAE's stratified estimator gets N = the training size."""
    extra = []
    if name == "beta_tc_vae":
        extra = [f"model.objective.dataset_size={args.subset - args.val_size - args.test_size}"]
    return [*MODELS[name], *extra]


def compose_cfg(overrides: list[str]):
    """Compose conf/train.yaml with ``overrides`` (no Hydra runtime)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


def run_one(name: str, seed: int, args: argparse.Namespace) -> dict:
    """Train one model and seed; return its test MIG / DCI and wall time (s)."""
    overrides = [*model_overrides(name, args), *common(args), f"seed={seed}", *args.overrides]
    cfg = compose_cfg(overrides)
    with open_dict(cfg):
        cfg.paths.root_dir = str(ROOT)
        cfg.paths.output_dir = str(args.out / "dsprites_mig" / f"{name}_seed{seed}")
    start = time.perf_counter()
    metrics = train(cfg)
    result = {k.removeprefix("test/"): float(metrics[k]) for k in KEYS}
    result.update(
        seed=seed, elbo=float(metrics["test/elbo"]), seconds=round(time.perf_counter() - start, 1)
    )
    print(name, result, flush=True)
    return result


def main() -> None:
    """Parse arguments, run every model and seed, write the JSON report, print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--subset", type=int, default=20000)
    parser.add_argument("--val-size", type=int, default=1000)
    parser.add_argument("--test-size", type=int, default=5000)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--net", default="mlp", choices=["conv", "mlp"])
    parser.add_argument("--latent-dim", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads per run")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "benchmarks")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    report: dict = {"models": {}, "settings": vars(args) | {"out": str(args.out)}}
    cfg = compose_cfg([*MODELS["vae"], *common(args)])
    with open_dict(cfg):
        cfg.paths.root_dir = str(ROOT)
    report["data"] = hydra_data(cfg)
    report["machine"] = {
        "cpu_threads": args.threads,
        "platform": platform.platform(),
        "torch": torch.__version__,
        "pytorch_lightning": pl.__version__,
    }
    runs: dict[str, list[dict]] = {name: [] for name in args.models}
    for seed in args.seeds:  # seed-major: an interrupted run still compares every model
        for name in args.models:
            runs[name].append(run_one(name, seed, args))
            report["models"][name] = {
                "runs": runs[name],
                "summary": mean_std(runs[name], [k for k in runs[name][0] if k != "seed"]),
                "overrides": [*model_overrides(name, args), *common(args), *args.overrides],
            }
            report["date"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            report["machine"]["load_average"] = os.getloadavg()
            write(report, args.out)
    for name in args.models:
        for key, stats in report["models"][name]["summary"].items():
            print(f"{name} {key}: {stats['mean']:.4f} +- {stats['std']:.4f}", flush=True)


def write(report: dict, out: Path) -> None:
    """Write the report to ``out/dsprites_mig.json`` (after every run)."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "dsprites_mig.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"wrote {path}", flush=True)


def hydra_data(cfg) -> dict:
    """The data protocol of the runs (source, subset, sizes), from the composed config."""
    import hydra

    dm = hydra.utils.instantiate(cfg.data)
    return {**dm.protocol(), "config": OmegaConf.to_container(cfg.data, resolve=True)}


if __name__ == "__main__":
    main()
