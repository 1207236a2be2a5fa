"""mnist5k benchmark of the VAE zoo (issue 16, must-show (a)): test IW-NLL at an equal budget.

Trains VAE, IWAE (k = 5), MIWAE (M = 8, K = 8), PIWAE (M = 8, K = 8), VampPrior, IAF and the
Ladder VAE through genlab's own entry point (``genlab.train.train``) on ``data=mnist5k`` (a
5,000-image subset of real MNIST: 3,500 train / 500 val / 1,000 test, dynamic binarization)
with the same epochs, batch size, optimizer (Adam, lr 1e-3) and latent-free nets where the
family allows it: every family but the LVAE uses the 784-400-16 MLP (ReLU) encoder/decoder of
``model/net=mlp``; the LVAE keeps its ladder nets (``conf/model/lvae.yaml``) with its KL
warm-up shortened to a third of the steps (``--warmup-fraction``). Lightning tests the best
checkpoint by validation (the model's ``checkpoint_monitor``).

Per run: ``test/nll_iw`` (-log p(x), nats, K = ``--iw-samples`` importance samples, the model's
own prior and posterior), ``test/elbo`` (nats) and ``gap`` = -ELBO - NLL_iw (nats; how far
the encoder's q is from the posterior: the inference side of PIWAE's trade-off).
Writes per-seed runs and mean / sample std to ``outputs/benchmarks/vae_nll_mnist5k.json``
after every run (seed-major order, so a stopped run keeps whole seeds).

    nice -n 10 python benchmarks/vae_nll_mnist5k.py --seeds 0 1 2 --epochs 10
    # or one process per seed, then: --merge outputs/benchmarks/vae_nll_mnist5k_seed*.json
"""

from __future__ import annotations

import argparse
import json
import math
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
    "vae": ["model=vae"],
    "iwae_k5": ["model=iwae", "model.objective.k=5"],
    "miwae_m8_k8": ["model=miwae", "model.objective.m=8", "model.objective.k=8"],
    "piwae_m8_k8": ["model=piwae", "model.objective.m=8", "model.objective.k=8"],
    "vamp": ["model=vamp"],
    "iaf": ["model=vae_iaf"],
    "lvae": ["model=lvae"],
}
KEYS = ("test/nll_iw", "test/elbo", "test/bpd_iw")
COMMON = [
    "data=mnist5k",
    "trainer=cpu",
    "logger=csv",
    "metrics=none",
    "trainer.enable_progress_bar=false",
    "print_config=false",
]
TRAIN_IMAGES = 3500  # conf/data/mnist5k.yaml: 5,000 - 500 val - 1,000 test


def compose_cfg(overrides: list[str]):
    """Compose conf/train.yaml with ``overrides`` (no Hydra runtime)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


def family_overrides(family: str, args: argparse.Namespace) -> list[str]:
    """The Hydra overrides of one family at the shared budget (epochs, batch, K at test)."""
    out = [
        *FAMILIES[family],
        *COMMON,
        f"trainer.max_epochs={args.epochs}",
        f"data.batch_size={args.batch_size}",
        f"model.test_iw_samples={args.iw_samples}",
    ]
    if family == "lvae":
        steps = math.ceil(TRAIN_IMAGES / args.batch_size) * args.epochs
        out.append(f"model.objective.warmup_steps={max(1, int(steps * args.warmup_fraction))}")
    return [*out, *args.overrides]


def run_one(family: str, seed: int, args: argparse.Namespace) -> dict:
    """Train one family and seed; return its test metrics, the gap and wall time (s)."""
    cfg = compose_cfg([*family_overrides(family, args), f"seed={seed}"])
    with open_dict(cfg):
        cfg.paths.root_dir = str(ROOT)
        cfg.paths.output_dir = str(args.out / "vae_nll_mnist5k" / f"{family}_seed{seed}")
    start = time.perf_counter()
    metrics = train(cfg)
    result = {k.split("/", 1)[1]: float(metrics[k]) for k in KEYS}
    result["gap"] = -result["elbo"] - result["nll_iw"]
    result.update(seed=seed, seconds=round(time.perf_counter() - start, 1))
    return result


def write(report: dict, path: Path) -> None:
    """Summaries (mean / sample std over the seeds run so far) and the JSON file."""
    for entry in report["families"].values():
        keys = [k for k in entry["runs"][0] if k != "seed"]
        entry["summary"] = mean_std(entry["runs"], keys)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))


def merge(paths: list[Path], out: Path) -> None:
    """Join the runs of reports written by separate processes (seeds or families run apart)
    into ``out`` with fresh summaries; refuse reports whose shared settings or whose config of
    the same family differ."""
    reports = [json.loads(p.read_text()) for p in paths]
    first = reports[0]["protocol"]
    merged = {**reports[0], "families": {}}
    protocol = merged["protocol"] = {**first, "overrides": {}, "models": {}}
    for report, p in zip(reports, paths, strict=True):
        prot = report["protocol"]
        shared = [k for k in first if k not in ("overrides", "models")]
        if any(prot[k] != first[k] for k in shared):
            raise ValueError(f"{p}: its settings differ from {paths[0]}'s; not merged")
        for part in ("overrides", "models"):
            for family, value in prot[part].items():
                if protocol[part].setdefault(family, value) != value:
                    raise ValueError(f"{p}: {part} of {family} differ; not merged")
        for family, entry in report["families"].items():
            merged["families"].setdefault(family, {"runs": []})["runs"].extend(entry["runs"])
    for entry in merged["families"].values():
        entry["runs"].sort(key=lambda r: r["seed"])
    write(merged, out)
    print(f"wrote {out}")


def main() -> None:
    """Parse arguments, run every seed and family, write the JSON report, print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--iw-samples", type=int, default=1000, help="K for test/nll_iw")
    parser.add_argument("--warmup-fraction", type=float, default=1 / 3, help="LVAE KL warm-up")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "benchmarks")
    parser.add_argument("--json-name", default="vae_nll_mnist5k.json", help="report file name")
    parser.add_argument(
        "--merge", type=Path, nargs="+", help="only merge these reports (seeds run apart)"
    )
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run")
    args = parser.parse_args()
    path = args.out / args.json_name
    if args.merge:
        merge(args.merge, path)
        return
    torch.set_num_threads(args.threads)
    report: dict = {
        "families": {},
        "protocol": {
            "data": "mnist5k (3,500 train / 500 val / 1,000 test real MNIST digits, dynamic "
            "binarization); test = the 1,000 test images",
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "iw_samples": args.iw_samples,
            "lvae_warmup_fraction": args.warmup_fraction,
            "overrides": {f: family_overrides(f, args) for f in args.families},
            "models": {
                f: OmegaConf.to_container(compose_cfg(family_overrides(f, args)).model)
                for f in args.families
            },
        },
        "machine": {
            "cpu_threads": args.threads,
            "platform": platform.platform(),
            "torch": torch.__version__,
            "pytorch_lightning": pl.__version__,
        },
    }
    for seed in args.seeds:
        for family in args.families:
            run = run_one(family, seed, args)
            report["families"].setdefault(family, {"runs": []})["runs"].append(run)
            write(report, path)
            print(f"{family} seed {seed}: {run}", flush=True)
    for family, entry in report["families"].items():
        stats = entry["summary"]
        print(
            f"{family}: nll_iw {stats['nll_iw']['mean']:.2f} +- {stats['nll_iw']['std']:.2f}, "
            f"elbo {stats['elbo']['mean']:.2f}, gap {stats['gap']['mean']:.2f}"
        )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
