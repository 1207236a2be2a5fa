"""Benchmark (not a test): genlab's training cost per epoch against a hand-written PyTorch loop.

Three workloads, each with the same nets (built from genlab's configs), data, optimizer and math:
  * ``vae_mlp``: the MLP VAE (Bernoulli, dynamic binarization) on digits 28 px, batch 64;
  * ``dcgan``: DCGAN (non-saturating loss) on digits 32 px, grey values, batch 64;
  * ``gan_mlp``: the 2D MLP GAN with generator EMA on ring2d, batch 256 (12,800 points).
Variants: ``hand`` (a plain loop written here: shuffled slices of the in-memory tensor, the
same losses, ``opt.step()``), ``bare`` (genlab's LightningModule + datamodule in a Trainer
with no loggers, callbacks, checkpoints, progress bar, validation or metrics) and ``default``
(``genlab.train.train`` with the default config: CSV + offline W&B loggers, checkpoints, image
callbacks, validation every epoch, metrics every 5 epochs; ``test=false``). For the VAE two
more default variants split the default's extra cost: ``default_nometrics`` (metrics=none)
and ``default_nocallbacks`` (metrics=none callbacks=none: validation + loggers only).

Steady-state cost per epoch = (t(E2) - t(E1)) / (E2 - E1) for two run lengths in one process,
so start-up (imports, instantiation, W&B init, the first-call warm-up) cancels. Variants and
lengths are interleaved and the whole sweep is repeated ``--repeats`` times; the median per-epoch
cost and the fastest (least disturbed) one are both reported, each with its ratio to the hand
loop. The machine may be shared with other jobs: interleaving spreads their load over
all variants, so the ratios (measured within one run) are fairer than absolute seconds.
Threads: ``--threads 1`` by default. With torch's default (one intra-op thread per core) and other
busy processes on the same cores, OpenMP threads wait on each other: on this 2-core machine under
load the hand-written VAE loop took 5.0 s/epoch with 2 threads and 0.14 s with 1 thread, noise
that would drown the framework's cost.

Usage: python benchmarks/overhead.py [--workloads vae_mlp,dcgan,gan_mlp] [--repeats 3]
       python benchmarks/overhead.py --profile   (SimpleProfiler summary of a bare VAE run)
       python benchmarks/overhead.py --ddp --out outputs/benchmarks/overhead_ddp.json
           (trainer=ddp_cpu, 2 processes, against 1 process on the same global batch)
Writes outputs/benchmarks/overhead.json (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from overhead_loops import HAND_LOOPS  # noqa: E402

WORKLOADS: dict[str, dict] = {
    "vae_mlp": {
        "overrides": ["model=vae", "data=digits", "data.image_size=28", "data.batch_size=64"],
        "epochs": (5, 10),
    },
    "dcgan": {
        "overrides": [
            "model=dcgan",
            "data=digits",
            "data.image_size=32",
            "data.binarize=none",
            "data.batch_size=64",
        ],
        "epochs": (1, 3),
    },
    "gan_mlp": {
        "overrides": [
            "model=gan_mlp",
            "data=ring2d",
            "data.num_train=12800",
            "data.batch_size=256",
            "model.max_g_steps=null",
        ],
        "epochs": (2, 6),
    },
}
VAE_BREAKDOWN = {
    "default_nometrics": ["metrics=none"],
    "default_nocallbacks": ["metrics=none", "callbacks=none"],
}


def compose(overrides: list[str], workdir: Path):
    """Compose conf/train.yaml with ``overrides``; every path under ``workdir`` (no Hydra run)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import open_dict

    from genlab.utils.config_dir import CONFIG_DIR

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = hydra_compose(config_name="train", overrides=overrides)
    with open_dict(cfg):
        cfg.paths.root_dir = str(workdir)
        cfg.paths.output_dir = str(workdir / f"run_{time.monotonic_ns()}")
        cfg.paths.data_dir = str(workdir / "data")
    return cfg


def time_hand(cfg, epochs: int) -> float:
    """Seconds for ``epochs`` epochs of the hand-written loop (setup included)."""
    import hydra

    start = time.perf_counter()
    datamodule = hydra.utils.instantiate(cfg.data)
    HAND_LOOPS[cfg.model._target_.rsplit(".", 1)[-1]](cfg, datamodule, epochs)
    return time.perf_counter() - start


def time_bare(cfg, epochs: int, profiler: str | None = None) -> float:
    """Seconds for ``epochs`` epochs of genlab's module in a bare Trainer (setup included)."""
    import hydra
    import pytorch_lightning as pl

    start = time.perf_counter()
    pl.seed_everything(cfg.seed, verbose=False)
    datamodule = hydra.utils.instantiate(cfg.data)
    model = hydra.utils.instantiate(cfg.model)
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=epochs,
        logger=False,
        callbacks=[],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        profiler=profiler,
    )
    trainer.fit(model, datamodule=datamodule)
    return time.perf_counter() - start


def time_default(cfg, epochs: int) -> float:
    """Seconds for ``genlab.train.train`` with ``epochs`` epochs (no test), setup included."""
    from omegaconf import open_dict

    from genlab.train import train

    with open_dict(cfg):
        cfg.trainer.max_epochs = epochs
        cfg.trainer.min_epochs = 1
        cfg.test = False
    start = time.perf_counter()
    train(cfg)
    return time.perf_counter() - start


def measure(name: str, repeats: int, workdir: Path, only: list[str] | None = None) -> dict:
    """Interleave every variant and both run lengths ``repeats`` times; return per-epoch costs."""
    spec = WORKLOADS[name]
    e1, e2 = spec["epochs"]
    base = ["trainer=cpu", *spec["overrides"]]
    variants: dict[str, tuple] = {
        "hand": (time_hand, base),
        "bare": (time_bare, base),
        "default": (time_default, base),
    }
    if name == "vae_mlp":
        for key, extra in VAE_BREAKDOWN.items():
            variants[key] = (time_default, [*base, *extra])
    if only:
        variants = {v: f for v, f in variants.items() if v in only or v == "hand"}
    per_epoch: dict[str, list[float]] = {v: [] for v in variants}
    raw: dict[str, list[list[float]]] = {v: [] for v in variants}
    for rep in range(repeats + 1):  # repeat 0 warms caches (imports, digits, torch kernels)
        for variant, (fn, overrides) in variants.items():
            times = [fn(compose(overrides, workdir), e) for e in (e1, e2)]
            if rep == 0:
                continue
            raw[variant].append(times)
            per_epoch[variant].append((times[1] - times[0]) / (e2 - e1))
            print(f"{name} rep {rep} {variant}: {per_epoch[variant][-1] * 1e3:.1f} ms/epoch")
    median = {v: statistics.median(c) for v, c in per_epoch.items()}
    fastest = {v: min(c) for v, c in per_epoch.items()}
    hand = median["hand"]
    result = {
        "seconds_per_epoch_min": fastest,
        "ratio_to_hand_min": {v: m / fastest["hand"] for v, m in fastest.items()},
        "epochs": [e1, e2],
        "overrides": base,
        "seconds_per_epoch_median": median,
        "seconds_per_epoch_all": per_epoch,
        "run_seconds": raw,
        "ratio_to_hand": {v: m / hand for v, m in median.items()},
        "ratio_to_hand_per_repeat": {
            v: [c / h for c, h in zip(per_epoch[v], per_epoch["hand"], strict=True)]
            for v in variants
        },
    }
    if "default_nocallbacks" in median:
        result["default_share_seconds_per_epoch"] = {
            "metrics": median["default"] - median["default_nometrics"],
            "images_checkpoints_lr_monitor": median["default_nometrics"]
            - median["default_nocallbacks"],
            "validation_loggers_progress_bar": median["default_nocallbacks"] - median["bare"],
        }
    return result


def time_cli(overrides: list[str], workdir: Path) -> float:
    """Seconds for ``python -m genlab.train <overrides>`` in a fresh process (start-up included)."""
    import subprocess

    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "WANDB_MODE": "offline",
        "PYTHONWARNINGS": "ignore",
    }
    run_dir = workdir / f"cli_{time.monotonic_ns()}"
    command = [sys.executable, "-m", "genlab.train", *overrides, f"hydra.run.dir={run_dir}"]
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{proc.stderr[-3000:]}")
    return seconds


DDP_EPOCHS = (2, 8)


def measure_ddp(repeats: int, workdir: Path) -> dict:
    """MLP VAE, global batch 64: 1 process (batch 64) against trainer=ddp_cpu (2 x 32).

    Each run is a fresh ``genlab-train`` process (1 intra-op thread per process), with
    validation but no loggers, callbacks or metrics; per-epoch cost by the difference of
    two run lengths, interleaved and repeated like the other workloads.
    """
    common = [
        "model=vae",
        "data=digits",
        "logger=none",
        "callbacks=none",
        "metrics=none",
        "test=false",
        "trainer.enable_progress_bar=false",
    ]
    variants = {
        "1_process": ["trainer=cpu", "data.batch_size=64"],
        "ddp_cpu_2_processes": ["trainer=ddp_cpu", "data.batch_size=32"],
    }
    e1, e2 = DDP_EPOCHS
    per_epoch: dict[str, list[float]] = {v: [] for v in variants}
    for rep in range(repeats):
        for variant, extra in variants.items():
            times = [
                time_cli([*common, *extra, f"trainer.max_epochs={e}"], workdir) for e in (e1, e2)
            ]
            per_epoch[variant].append((times[1] - times[0]) / (e2 - e1))
            print(f"ddp rep {rep + 1} {variant}: {per_epoch[variant][-1] * 1e3:.1f} ms/epoch")
    median = {v: statistics.median(c) for v, c in per_epoch.items()}
    return {
        "epochs": [e1, e2],
        "global_batch": 64,
        "seconds_per_epoch_median": median,
        "seconds_per_epoch_all": per_epoch,
        "ratio_ddp_to_1_process": median["ddp_cpu_2_processes"] / median["1_process"],
    }


def environment() -> dict:
    """Machine and library versions for the README table."""
    import pytorch_lightning as pl

    return {
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "machine": platform.machine(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "lightning": pl.__version__,
        "load_average_start": os.getloadavg(),
    }


def main() -> None:
    """Run the benchmark; print a table and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--variants", default="", help="comma list (hand always runs); all if empty"
    )
    parser.add_argument("--profile", action="store_true", help="SimpleProfiler, bare VAE")
    parser.add_argument("--ddp", action="store_true", help="only the DDP-on-CPU comparison")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch intra-op threads (1: see the docstring)"
    )
    parser.add_argument("--out", default=str(ROOT / "outputs/benchmarks/overhead.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import pytorch_lightning  # noqa: F401  (sets PYTORCH_NVML_BASED_CUDA_CHECK=1)

    from genlab.utils.torch_env import drop_nvml_check_without_gpu

    # as genlab-train does; a plain PyTorch loop never has the variable set
    dropped = drop_nvml_check_without_gpu()
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("genlab").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="genlab_overhead_") as tmp:
        workdir = Path(tmp)
        if args.profile:
            cfg = compose(["trainer=cpu", *WORKLOADS["vae_mlp"]["overrides"]], workdir)
            time_bare(cfg, 10, profiler="simple")
            return
        report = {"environment": environment(), "repeats": args.repeats, "workloads": {}}
        report["environment"]["nvml_check_dropped"] = dropped
        if args.ddp:
            report["ddp_cpu"] = measure_ddp(args.repeats, workdir)
            print(json.dumps(report["ddp_cpu"]["seconds_per_epoch_median"]))
            print(
                f"DDP/1-process per-epoch ratio: {report['ddp_cpu']['ratio_ddp_to_1_process']:.3f}"
            )
        for name in [] if args.ddp else args.workloads.split(","):
            report["workloads"][name] = measure(
                name, args.repeats, workdir, [v for v in args.variants.split(",") if v]
            )
        report["environment"]["load_average_end"] = os.getloadavg()
    head = f"{'median ms/ep':>12s} {'x hand':>7s} {'min ms/ep':>10s} {'x hand':>7s}"
    print(f"\n{'workload':10s} {'variant':20s} {head}")
    for name, res in report["workloads"].items():
        for variant, sec in res["seconds_per_epoch_median"].items():
            ratio, fast = res["ratio_to_hand"][variant], res["seconds_per_epoch_min"][variant]
            fast_ratio = res["ratio_to_hand_min"][variant]
            print(
                f"{name:10s} {variant:20s} {sec * 1e3:12.1f} {ratio:7.3f} {fast * 1e3:10.1f} "
                f"{fast_ratio:7.3f}"
            )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
